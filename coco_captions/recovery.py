"""Safe restarts of a local pipeline run after an interruption.

A run killed mid-way (SIGKILL, power loss) leaves its current execution marked
RUNNING in ML Metadata forever. The next run does not need it: components that
finished are reused from cache and the interrupted one runs again. But the
store would claim a run is still going. `RunLock` keeps two runs of one
pipeline root apart; once the lock is ours, any execution still RUNNING or NEW
belongs to a dead run and is marked CANCELED.
"""

import os
from typing import List, Tuple

from ml_metadata.proto import metadata_store_pb2

from coco_captions import mlmd

_UNFINISHED = (metadata_store_pb2.Execution.RUNNING,
               metadata_store_pb2.Execution.NEW)


class RunInProgressError(RuntimeError):
  pass


class RunLock:
  """An exclusive lock file in the pipeline root holding the owner's pid."""

  def __init__(self, pipeline_root: str):
    self.path = os.path.join(pipeline_root, '.run.lock')

  def __enter__(self) -> 'RunLock':
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    while True:
      try:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
      except FileExistsError:
        owner = self._owner()
        if owner is not None and _alive(owner):
          raise RunInProgressError(
              f'another run (pid {owner}) is using {os.path.dirname(self.path)}'
          ) from None
        os.remove(self.path)  # Left by a run that died.
        continue
      with os.fdopen(fd, 'w') as f:
        f.write(str(os.getpid()))
      return self

  def __exit__(self, *unused):
    if self._owner() == os.getpid():
      os.remove(self.path)

  def _owner(self):
    try:
      with open(self.path) as f:
        return int(f.read().strip() or 0) or None
    except (FileNotFoundError, ValueError):
      return None


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def cancel_interrupted_executions(metadata_path: str,
                                  pipeline_name: str) -> List[Tuple[str, int]]:
  """Marks this pipeline's RUNNING/NEW executions CANCELED.

  Call only while holding the RunLock: then no live run owns them.

  Returns:
    (component id, execution id) of each execution changed.
  """
  if not os.path.exists(metadata_path):
    return []
  store = mlmd.connect(metadata_path, read_only=False)
  pipeline = store.get_context_by_type_and_name('pipeline', pipeline_name)
  if pipeline is None:
    return []
  stale = [e for e in store.get_executions_by_context(pipeline.id)
           if e.last_known_state in _UNFINISHED]
  node_of = mlmd.component_ids(store, pipeline_name)
  for execution in stale:
    execution.last_known_state = metadata_store_pb2.Execution.CANCELED
  if stale:
    store.put_executions(stale)
  return [(node_of.get(e.id, e.type), e.id) for e in stale]
