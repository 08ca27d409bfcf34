"""Safe restarts of a local pipeline run after an interruption.

A run killed mid-way (SIGKILL, power loss, Ctrl-C) leaves its current
execution marked RUNNING in ML Metadata forever. The next run does not need
it: components that finished are reused from cache and the interrupted one
runs again. But the store would claim a run is still going.

`RunLock` keeps two runs of one pipeline root apart. `LiveRun` marks a run
live on its metadata store for as long as it goes, so that a run of another
pipeline root sharing the store can tell a live execution from a dead one:
`cancel_interrupted_executions` marks CANCELED only the RUNNING or NEW
executions of runs that are not live. Both hold `flock` locks, which the
kernel releases when their process dies, however it dies.
"""

import fcntl
import os
import re
from typing import List, Optional, Tuple

from ml_metadata import errors, metadata_store
from ml_metadata.proto import metadata_store_pb2

_UNFINISHED = (metadata_store_pb2.Execution.RUNNING,
               metadata_store_pb2.Execution.NEW)


class RunInProgressError(RuntimeError):
  pass


def _locked(path: str) -> Optional[int]:
  """An fd holding an exclusive lock on `path`, or None if another holds it.

  The file is created if need be. A holder removes it before it unlocks; a
  lock taken on a file that was removed meanwhile is retried on the new one.
  """
  while True:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      return None
    try:
      same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
      same = False
    if same:
      return fd
    os.close(fd)


def _release(fd: int, path: str) -> None:
  os.remove(path)
  os.close(fd)


class RunLock:
  """An exclusive lock on a pipeline root; its file holds the owner's pid."""

  def __init__(self, pipeline_root: str):
    self.path = os.path.join(pipeline_root, '.run.lock')
    self._fd = None

  def __enter__(self) -> 'RunLock':
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    self._fd = _locked(self.path)
    if self._fd is None:
      owner = _read(self.path)
      raise RunInProgressError(
          f'another run (pid {owner or "unknown"}) is using '
          f'{os.path.dirname(self.path)}')
    os.ftruncate(self._fd, 0)
    os.write(self._fd, str(os.getpid()).encode())
    return self

  def __exit__(self, *unused):
    _release(self._fd, self.path)


def _read(path: str) -> str:
  try:
    with open(path, encoding='utf-8') as f:
      return f.read().strip()
  except OSError:
    return ''


def _live_dir(metadata_path: str) -> str:
  directory, name = os.path.split(metadata_path)
  return os.path.join(directory, f'.{name}.live')


def _live_path(metadata_path: str, run_id: str) -> str:
  return os.path.join(_live_dir(metadata_path),
                      re.sub(r'[^A-Za-z0-9._-]', '_', run_id) + '.lock')


class LiveRun:
  """Marks run `run_id` live on the store at `metadata_path` while held."""

  def __init__(self, metadata_path: str, run_id: str):
    self.path = _live_path(metadata_path, run_id)
    self._fd = None

  def __enter__(self) -> 'LiveRun':
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    self._fd = _locked(self.path)
    if self._fd is None:
      raise RunInProgressError(f'run {os.path.basename(self.path)} is live '
                               'already')
    return self

  def __exit__(self, *unused):
    _release(self._fd, self.path)


def is_live(metadata_path: str, run_id: str) -> bool:
  """Whether a live process holds run `run_id`'s LiveRun on the store."""
  path = _live_path(metadata_path, run_id)
  if not os.path.exists(path):
    return False
  fd = _locked(path)
  if fd is None:
    return True
  _release(fd, path)  # Left by a run that died.
  return False


def _connect(metadata_path: str) -> metadata_store.MetadataStore:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE)
  return metadata_store.MetadataStore(config)


def _type_id(store, name: str) -> Optional[int]:
  try:
    return store.get_context_type(name).id
  except errors.NotFoundError:
    return None


def cancel_interrupted_executions(metadata_path: str,
                                  pipeline_name: str) -> List[Tuple[str, int]]:
  """Marks this pipeline's RUNNING/NEW executions of dead runs CANCELED.

  Call while holding the pipeline root's RunLock. Executions of a run whose
  LiveRun a process holds are left alone, whichever pipeline root it writes.

  Returns:
    (component id, execution id) of each execution changed.
  """
  if not os.path.exists(metadata_path):
    return []
  store = _connect(metadata_path)
  pipeline = store.get_context_by_type_and_name('pipeline', pipeline_name)
  if pipeline is None:
    return []
  unfinished = [e for e in store.get_executions_by_context(pipeline.id)
                if e.last_known_state in _UNFINISHED]
  run_type, node_type = (_type_id(store, name) for name in ('pipeline_run',
                                                             'node'))
  prefix = pipeline_name + '.'
  stale, component_of = [], {}
  for execution in unfinished:
    contexts = store.get_contexts_by_execution(execution.id)
    runs = [c.name for c in contexts if c.type_id == run_type]
    if any(is_live(metadata_path, run) for run in runs):
      continue
    nodes = [c.name[len(prefix):] for c in contexts
             if c.type_id == node_type and c.name.startswith(prefix)]
    component_of[execution.id] = nodes[0] if nodes else execution.type
    execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    stale.append(execution)
  if stale:
    store.put_executions(stale)
  return [(component_of[e.id], e.id) for e in stale]
