"""Pushing is all or nothing: a serving version is complete or absent."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from coco_captions.pipeline import push

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model(path, seed=1):
  """A directory laid out as a SavedModel: what push copies."""
  (path / 'variables').mkdir(parents=True)
  (path / 'saved_model.pb').write_bytes(bytes([seed]) * 3000)
  (path / 'variables' / 'variables.data-00000-of-00001').write_bytes(
      os.urandom(200_000))
  (path / 'variables' / 'variables.index').write_bytes(b'index')
  return str(path)


def test_a_push_is_a_new_complete_version(tmp_path):
  model = _model(tmp_path / 'model')
  serving = tmp_path / 'serving'
  version = push.push(model, str(serving))
  assert os.listdir(serving) == [version]
  assert push.holds_model(str(serving), model)
  assert push.versions(str(serving)) == [int(version)]


def test_a_version_is_the_model_only_if_every_byte_is(tmp_path):
  model = _model(tmp_path / 'model')
  serving = tmp_path / 'serving'
  copy = serving / push.push(model, str(serving))
  data = copy / 'variables' / 'variables.data-00000-of-00001'
  original = data.read_bytes()
  data.write_bytes(bytes([original[0] ^ 1]) + original[1:])  # Same size.
  assert not push.holds_model(str(serving), model)
  data.write_bytes(original)
  (copy / 'extra').write_bytes(b'')
  assert not push.holds_model(str(serving), model)
  os.remove(copy / 'extra')
  os.remove(copy / 'saved_model.pb')
  assert not push.holds_model(str(serving), model)
  assert not push.holds_model(str(tmp_path / 'nowhere'), model)


def test_an_interrupted_copy_is_no_version(tmp_path):
  # What a killed push leaves: a hidden directory, which TF Serving skips.
  model = _model(tmp_path / 'model')
  serving = tmp_path / 'serving'
  shutil.copytree(model, serving / '.1800000000.incomplete-0a1b2c3d')
  assert push.versions(str(serving)) == []
  assert not push.holds_model(str(serving), model)


def test_the_pushed_model_is_the_newest_version(tmp_path):
  # TF Serving serves the highest number; a version from a clock ahead of
  # this one must not outrank the model just pushed.
  model = _model(tmp_path / 'model')
  serving = tmp_path / 'serving'
  ahead = int(time.time()) + 100_000
  (serving / str(ahead)).mkdir(parents=True)
  assert push.push(model, str(serving)) == str(ahead + 1)
  assert push.versions(str(serving)) == [ahead + 1, ahead]


def test_a_full_disk_leaves_no_version_and_a_rerun_pushes(tmp_path):
  # A real file system that fills up: a 64 KiB tmpfs in a mount namespace,
  # grown after the first push fails.
  if os.geteuid() != 0 or not shutil.which('unshare'):
    pytest.skip('needs root and unshare for a tmpfs')
  model = _model(tmp_path / 'model')
  serving = tmp_path / 'serving'
  serving.mkdir()
  script = f'''
import json, os, subprocess, sys
from coco_captions.pipeline import push
model, serving = sys.argv[1:3]
try:
  push.push(model, serving)
  first = 'pushed'
except push.PushError as e:
  first = str(e)
left = sorted(os.listdir(serving))
subprocess.run(['mount', '-o', 'remount,size=4m', serving], check=True)
version = push.push(model, serving)
print(json.dumps({{'first': first, 'left': left, 'version': version,
                  'after': sorted(os.listdir(serving)),
                  'holds': push.holds_model(serving, model)}}))
'''
  result = subprocess.run(
      ['unshare', '-m', '--propagation', 'private', 'sh', '-c',
       f'mount -t tmpfs -o size=64k tmpfs {serving} && '
       f'exec {sys.executable} -c "$0" {model} {serving}', script],
      capture_output=True, text=True, timeout=120, check=False,
      env={**os.environ, 'PYTHONPATH': ROOT})
  assert result.returncode == 0, result.stderr[-3000:]
  found = json.loads(result.stdout.strip().splitlines()[-1])
  assert found['first'].startswith(
      f'The model could not be pushed to {serving}: ')
  assert 'No space left on device' in found['first']
  assert found['first'].endswith(
      'No new version was left there. Fix that (free space, permissions) and '
      'run again: the run pushes this model.')
  assert '\n' not in found['first']
  assert found['left'] == []
  assert found['after'] == [found['version']]
  assert found['holds']


def _executor_call(tmp_path, blessed):
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'trainer_model')
  _model(tmp_path / 'trainer_model' / 'Format-Serving')
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = str(tmp_path / 'blessing')
  blessing.set_int_custom_property('blessed', int(blessed))
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / 'pushed_model')
  destination = pusher_pb2.PushDestination(
      filesystem=pusher_pb2.PushDestination.Filesystem(
          base_directory=str(tmp_path / 'serving')))
  push.Executor().Do(
      {'model': [model], 'model_blessing': [blessing]},
      {'pushed_model': [pushed]},
      {'push_destination': proto_utils.proto_to_json(destination)})
  return pushed


def test_the_pusher_pushes_a_blessed_model_and_records_where(tmp_path):
  pushed = _executor_call(tmp_path, blessed=True)
  serving = tmp_path / 'serving'
  [version] = os.listdir(serving)
  assert pushed.get_int_custom_property('pushed') == 1
  assert pushed.get_string_custom_property('pushed_destination') == str(
      serving / version)
  assert pushed.get_string_custom_property('pushed_version') == version
  model = str(tmp_path / 'trainer_model' / 'Format-Serving')
  assert push.holds_model(str(serving), model)
  assert push.holds_model(str(serving), pushed.uri)  # TFX's archive copy.


def test_the_pusher_leaves_a_model_not_blessed(tmp_path):
  pushed = _executor_call(tmp_path, blessed=False)
  assert pushed.get_int_custom_property('pushed') == 0
  assert not os.path.exists(tmp_path / 'serving')
