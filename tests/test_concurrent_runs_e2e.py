"""Runs that share a metadata store.

Two pipeline roots with one --metadata_path run at the same time: neither
cancels the other's live execution, and each prints its own run. (Runs
stopped with Ctrl-C or killed: tests/test_bad_data_and_recovery_e2e.py.)
"""

import os
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from coco_captions.data import synthetic_data
from coco_captions.reporting import mlmd

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
