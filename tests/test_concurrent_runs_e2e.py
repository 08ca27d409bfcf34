"""Runs that share a metadata store, and a run stopped with Ctrl-C.

Two pipeline roots with one --metadata_path run at the same time: neither
cancels the other's live execution, and each prints its own run. A run
interrupted with SIGINT during Transform exits 130 with one line, and the same
command resumes it from cache.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from ml_metadata.proto import metadata_store_pb2

from coco_captions.data import synthetic_data
from coco_captions.reporting import mlmd, run_record
from test_session import ctrl_c_as_at_a_terminal

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = 'coco_shared'


def _command(data_root, pipeline_root, metadata_path=None):
  return [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
          '--pipeline_name', NAME, '--data_root', str(data_root),
          '--pipeline_root', str(pipeline_root), '--train_steps', '5',
          '--eval_steps', '1', '--blessing_threshold', '0',
          '--blessing_significance', '1',
          *(['--metadata_path', str(metadata_path)] if metadata_path else [])]


def _states(metadata_path):
  store = mlmd.connect(str(metadata_path))
  return {e.id: metadata_store_pb2.Execution.State.Name(e.last_known_state)
          for e in store.get_executions()}


def test_two_roots_sharing_one_store_keep_their_own_runs(tmp_path):
  synthetic_data.generate(str(tmp_path / 'data'), 20, seed=3)
  metadata_path = tmp_path / 'shared' / 'mlmd.sqlite'
  first = subprocess.Popen(
      _command(tmp_path / 'data', tmp_path / 'a', metadata_path), cwd=ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  lines = []
  for line in first.stdout:
    lines.append(line)
    if 'Transform started' in line:
      break
  # The second run starts while the first one's Transform is live.
  second = subprocess.run(
      _command(tmp_path / 'data', tmp_path / 'b', metadata_path), cwd=ROOT,
      capture_output=True, text=True, timeout=1500)
  rest, err = first.communicate(timeout=1500)
  out = ''.join(lines) + rest
  assert first.returncode == 0, out + err[-5000:]
  assert second.returncode == 0, second.stdout + second.stderr[-5000:]
  assert 'CANCELED' not in second.stdout
  assert 'CANCELED' not in set(_states(metadata_path).values())

  store = mlmd.connect(str(metadata_path))
  run_ids = sorted(c.name for c in store.get_contexts_by_type('pipeline_run'))
  assert len(run_ids) == 2
  printed = [next(line for line in text.splitlines()
                  if line.startswith(f'Pipeline {NAME}, run '))
             for text in (out, second.stdout)]
  assert sorted(printed) == [f'Pipeline {NAME}, run {r}' for r in run_ids]
  # Each run's summary points into its own pipeline root.
  for text, root in ((out, tmp_path / 'a'), (second.stdout, tmp_path / 'b')):
    (model,) = [line for line in text.splitlines()
                if line.startswith('Model (SavedModel):')]
    assert str(root) in model, (root, model)


def test_ctrl_c_during_transform_then_the_same_command_resumes(tmp_path):
  synthetic_data.generate(str(tmp_path / 'data'), 20, seed=5)
  command = _command(tmp_path / 'data', tmp_path / 'pipeline')
  first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           preexec_fn=ctrl_c_as_at_a_terminal)
  for line in first.stdout:
    if 'Transform started' in line:
      break
  else:
    pytest.fail('the run ended before Transform started')
  time.sleep(3)  # Inside Transform's Beam pipeline, on any data.
  # Python may drop a KeyboardInterrupt raised inside a weakref callback; a
  # user would press Ctrl-C again, and so does this test.
  for _ in range(10):
    first.send_signal(signal.SIGINT)
    try:
      _, err = first.communicate(timeout=20)
      break
    except subprocess.TimeoutExpired:
      continue
  assert first.returncode == 130
  assert err == ('\nInterrupted. To resume, run the same command again: '
                 'finished components are reused from cache.\n')
  metadata_path = tmp_path / 'pipeline' / 'metadata.sqlite'
  interrupted = run_record.read_run(str(metadata_path), NAME)
  assert {c.component_id: c.state for c in interrupted.components}.get(
      'Pusher') is None

  second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=1500)
  assert second.returncode == 0, second.stdout + second.stderr[-5000:]
  assert not {'RUNNING', 'NEW'} & set(_states(metadata_path).values())
  summary = run_record.read_run(str(metadata_path), NAME)
  states = {c.component_id: c.state for c in summary.components}
  assert states['CsvExampleGen'] == states['GroupCaptionsByImage'] == 'CACHED'
  assert states['Pusher'] == 'COMPLETE'
