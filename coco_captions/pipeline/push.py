"""TFX's Pusher, all or nothing: a serving version is complete or absent.

TFX's executor copies the model straight into the new version directory, so
a disk that fills, or a run killed, part-way leaves a numbered version
without its `saved_model.pb`, the newest one TF Serving sees. Here the copy
is made in a hidden sibling directory (TF Serving loads numbered ones only)
and renamed into place when complete: on a local or network file system the
version appears whole or not at all.

`holds_model` tells whether a serving directory has a complete copy of a
model; the RetrievalEvaluator blesses the latest blessed model again when it
does not, so that a re-run finishes a push that did not.
"""

import os
import time
import uuid
from typing import Dict, Iterator, List

from tfx.components.pusher import component
from tfx.components.pusher import executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

from coco_captions import paths

_SAVED_MODEL = 'saved_model.pb'
_CHUNK = 1 << 20


class PushError(OSError):
  """A push that did not complete; the message says what to do."""


def versions(serving_model_dir: str) -> List[int]:
  """The numbered versions in `serving_model_dir`, newest first."""
  if not fileio.isdir(serving_model_dir):
    return []
  names = (n.rstrip('/') for n in fileio.listdir(serving_model_dir))
  return sorted((int(n) for n in names if n.isdigit()), reverse=True)


def _files(root: str) -> Dict[str, int]:
  """{path relative to `root`: size} of every file under `root`."""
  found = {}
  for directory, _, names in fileio.walk(root):
    for name in names:
      path = os.path.join(directory, name)
      found[os.path.relpath(path, root)] = fileio.stat(path).length
  return found


def _chunks(path: str) -> Iterator[bytes]:
  with fileio.open(path, 'rb') as f:
    while True:
      chunk = f.read(_CHUNK)
      if not chunk:
        return
      yield chunk


def _same_bytes(a: str, b: str) -> bool:
  return all(x == y for x, y in zip(_chunks(a), _chunks(b)))


def holds_model(serving_model_dir: str, model_dir: str) -> bool:
  """Whether a numbered version in `serving_model_dir` has every file of
  `model_dir`, byte for byte, and nothing else."""
  wanted = _files(model_dir)
  for version in versions(serving_model_dir):
    copy = os.path.join(serving_model_dir, str(version))
    # Sizes first: reading both models is for the one that matches.
    if _files(copy) == wanted and all(
        _same_bytes(os.path.join(model_dir, name), os.path.join(copy, name))
        for name in wanted):
      return True
  return False


def _copy_model(model_dir: str, destination: str) -> None:
  # saved_model.pb last, as TFX does: loaders take it as the sign of a
  # complete model, which matters where a rename is not atomic (GCS).
  io_utils.copy_dir(model_dir, destination,
                    deny_regex_patterns=[r'saved_model\.pb'])
  io_utils.copy_file(os.path.join(model_dir, _SAVED_MODEL),
                     os.path.join(destination, _SAVED_MODEL))


def push(model_dir: str, serving_model_dir: str) -> str:
  """Copies `model_dir` into a new numbered version; returns its number.

  The number is the time in seconds, or one more than the newest version
  if that is later, so the model pushed is the one TF Serving serves.
  Raises PushError, leaving no new version, if the copy fails.
  """
  version = str(max([int(time.time())] +
                    [v + 1 for v in versions(serving_model_dir)[:1]]))
  staging = os.path.join(serving_model_dir,
                         f'.{version}.incomplete-{uuid.uuid4().hex[:8]}')
  try:
    _copy_model(model_dir, staging)
    fileio.rename(staging, os.path.join(serving_model_dir, version))
  except Exception as e:
    if fileio.exists(staging):
      try:
        fileio.rmtree(staging)
      except Exception:  # pylint: disable=broad-except
        pass  # The error to report is the copy's.
    raise PushError(
        f'The model could not be pushed to {serving_model_dir}: '
        f'{paths.first_line(str(e))}. No new version was left there. Fix that '
        '(free space, permissions) and run again: the run pushes this model.'
    ) from e
  return version


class Executor(executor.Executor):
  """TFX's Pusher executor for a file system destination, pushing with
  `push`."""

  def Do(self, input_dict, output_dict, exec_properties):
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    model_dir = self.GetModelPath(input_dict)
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        destination)
    if destination.WhichOneof('destination') != 'filesystem':
      raise NotImplementedError('This Pusher pushes to a file system only.')
    serving_model_dir = destination.filesystem.base_directory
    version = push(model_dir, serving_model_dir)
    # The archive copy TFX keeps with the artifact.
    io_utils.copy_dir(model_dir, model_push.uri)
    self._MarkPushed(model_push,
                     pushed_destination=os.path.join(serving_model_dir,
                                                     version),
                     pushed_version=version)


class Pusher(component.Pusher):
  """TFX's Pusher with `Executor`; its id is still Pusher."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
