"""Beam options reach the components: the pipeline's Beam work, Transform
included, runs through PortableRunner against Beam's own local job service.

The job service speaks the same Job API as a Flink or Spark job server; it is
started on loopback by the test and stopped after it.
"""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from coco_captions import run_summary, synthetic_data

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def job_service(tmp_path):
  """(job endpoint, staging dir, log path) of a local job service."""
  port_file = tmp_path / 'job_service.port'
  staging = tmp_path / 'job_staging'
  log_path = tmp_path / 'job_service.log'
  with open(log_path, 'w') as log:
    service = subprocess.Popen(
        [sys.executable, '-m',
         'apache_beam.runners.portability.local_job_service_main',
         '--port', '0', '--port_file', str(port_file),
         '--staging_dir', str(staging)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
  try:
    deadline = time.monotonic() + 120
    while not port_file.exists():
      assert service.poll() is None, open(log_path).read()
      assert time.monotonic() < deadline, 'job service did not start'
      time.sleep(0.2)
    yield f'localhost:{port_file.read_text().strip()}', staging, log_path
  finally:
    os.killpg(service.pid, signal.SIGTERM)
    service.wait(timeout=30)


def test_transform_runs_through_the_portable_runner(tmp_path, job_service):
  endpoint, staging, _ = job_service
  synthetic_data.generate(str(tmp_path / 'data'), 20, seed=8)
  beam_args = ['--runner=PortableRunner', f'--job_endpoint={endpoint}',
               '--environment_type=LOOPBACK']
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
       '--pipeline_name', 'coco_portable', '--data_root', str(tmp_path / 'data'),
       '--pipeline_root', str(tmp_path / 'pipeline'), '--train_steps', '5',
       '--eval_steps', '1', '--blessing_threshold', '0', *beam_args],
      cwd=ROOT, capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr[-5000:]
  assert 'Beam options: ' + ' '.join(beam_args) in result.stdout
  summary = run_summary.summarize_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), 'coco_portable')
  states = {c.component_id: c.state for c in summary.components}
  assert states['Transform'] == states['Trainer'] == 'COMPLETE', states
  # Transform's Beam pipeline was submitted to the job service: the module
  # wheel TFX adds to Transform's Beam options was staged there.
  staged = [os.path.basename(p) for p in glob.glob(
      os.path.join(staging, '**', '*'), recursive=True)]
  assert any('tfx_user_code_transform' in name for name in staged), staged
