"""The same pipeline orchestrated by TFX's BeamDagRunner, end to end, started
from a directory that is not the checkout, without PYTHONPATH, each Beam
component's work in worker processes (the multi-process DirectRunner)."""

import os
import subprocess
import sys

import pytest

from coco_captions.data import synthetic_data
from coco_captions.reporting import run_record

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_beam_dag_runner_runs_the_pipeline_end_to_end(tmp_path):
  synthetic_data.generate(str(tmp_path / 'data'), 30, seed=6)
  (tmp_path / 'elsewhere').mkdir()
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_beam.py'),
       '--pipeline_name', 'coco_beam', '--data_root', str(tmp_path / 'data'),
       '--pipeline_root', str(tmp_path / 'pipeline'), '--train_steps', '10',
       '--eval_steps', '2', '--blessing_threshold', '0',
       '--blessing_significance', '1',
       '--direct_running_mode=multi_processing', '--direct_num_workers=2'],
      cwd=str(tmp_path / 'elsewhere'), capture_output=True, text=True,
      timeout=1200, env={k: v for k, v in os.environ.items()
                         if k != 'PYTHONPATH'})
  assert result.returncode == 0, result.stdout + result.stderr[-5000:]
  assert 'Transform finished in' in result.stdout
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), 'coco_beam')
  states = {c.component_id: c.state for c in summary.components}
  assert states == {name: 'COMPLETE' for name in (
      'CsvExampleGen', 'ImportSchemaGen', 'latest_blessed_model_resolver',
      'StatisticsGen', 'ExampleValidator', 'AnomaliesGate',
      'GroupCaptionsByImage', 'Transform', 'Trainer', 'RetrievalEvaluator',
      'Pusher')}, states
  assert summary.pushed['pushed'] == 1
  assert os.listdir(tmp_path / 'pipeline' / 'serving_model')
