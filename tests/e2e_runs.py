"""The real pipeline run by the CLI on the bundled data, shared by e2e tests.

One pipeline root is run four times (see `bundled_runs`); the session fixture
`runs` in conftest.py does it once for every test module that asks.
"""

import os
import shutil
import subprocess
import sys

from coco_captions.pipeline import configs
from coco_captions.reporting import mlmd, run_record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_e2e'


def run_cli(paths, *flags):
  """Runs coco_captions_local.py; returns its stdout, which must be all.

  From the directory above the pipeline root, not the checkout, and without
  PYTHONPATH, as a user runs it from anywhere."""
  command = [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
             '--pipeline_name', PIPELINE_NAME, '--eval_steps', '5',
             *[f'--{k}={v}' for k, v in paths.items()], *flags]
  result = subprocess.run(
      command, cwd=os.path.dirname(paths['pipeline_root']),
      env={k: v for k, v in os.environ.items() if k != 'PYTHONPATH'},
      capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, (
      f'exit {result.returncode}\nstdout:\n{result.stdout}\n'
      f'stderr:\n{result.stderr[-5000:]}')
  # Everything TF, Beam and TFX print goes to the log file, not the console.
  assert result.stderr == '', result.stderr[-3000:]
  return result.stdout


def summaries(metadata_path, pipeline_name=PIPELINE_NAME):
  """Every run's summary, oldest first."""
  store = mlmd.connect(metadata_path)
  runs = sorted(store.get_contexts_by_type('pipeline_run'),
                key=lambda c: (c.create_time_since_epoch, c.id))
  return [run_record.read_run(metadata_path, pipeline_name, run.name)
          for run in runs]


def bundled_runs(base):
  """Runs A-D on the bundled data under `base`: (paths, outputs, summaries).

  A: cold; B: the same flags with --force_run, so it goes through TFX
  (cached up to Trainer); C: two training steps and no threshold (a worse
  model); D: A's flags again (all cached, since C's settings differ).
  """
  data_root = base / 'data'
  data_root.mkdir()
  shutil.copy(os.path.join(configs.DATA_ROOT, 'captions.csv'), data_root)
  paths = {
      'data_root': str(data_root),
      # The bundled images, where the CSV is not: exercises --images_root.
      'images_root': os.path.join(configs.DATA_ROOT, 'images'),
      'pipeline_root': str(base / 'pipeline'),
      'metadata_path': str(base / 'metadata' / 'mlmd.sqlite'),
      'serving_model_dir': str(base / 'serving'),
  }
  os.makedirs(os.path.dirname(paths['metadata_path']))
  outputs = [
      run_cli(paths),
      # Without --force_run, nothing changed and the CLI would not run it.
      run_cli(paths, '--force_run'),
      run_cli(paths, '--train_steps=2', '--blessing_threshold=0'),
      run_cli(paths),
  ]
  found = summaries(paths['metadata_path'])
  assert len(found) == 4
  return paths, outputs, found
