"""Beam components run on workers that are not the launching process.

Beam's own job service (it speaks the Job API of Flink's and Spark's job
servers, and stages and serves a job's artifacts as they do) and an external
worker pool whose workers boot as Beam's SDK container does
(tools/beam_boot.py: fetch what the job staged, install it, run the SDK
harness), in an environment of the main lock without this project. The
pipeline is started from a temporary directory, without PYTHONPATH, with
`--runner=PortableRunner --environment_type=EXTERNAL` and `--setup_file`:
each Beam component is a job of the service whose work runs in pool workers
that installed this project's package, and Transform's user-code wheel,
from the job's artifacts. The same data run in-process gives the same model
and the same recall.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import image_env
from coco_captions.data import synthetic_data
from coco_captions.reporting import run_record

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ['--train_steps', '5', '--eval_steps', '1', '--blessing_threshold',
         '0', '--blessing_significance', '1']
BEAM_COMPONENTS = {'CsvExampleGen', 'StatisticsGen', 'GroupCaptionsByImage',
                   'Transform'}
# What the workers of those components import (image_env.build compiles it).
WORKER_IMPORT = (
    'apache_beam.runners.worker.sdk_worker_main',
    'tfx.components.example_gen.csv_example_gen.executor',
    'tfx.components.statistics_gen.executor',
    'tfx.components.transform.executor', 'tensorflow_transform.beam')


def _start(command, log_path, cwd, ready, timeout=180):
  """Starts a service; waits until `ready(log text)` gives its address."""
  log = open(log_path, 'w')  # pylint: disable=consider-using-with
  process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                             cwd=cwd, start_new_session=True)
  deadline = time.monotonic() + timeout
  while True:
    with open(log_path) as f:
      found = ready(f.read())
    if found:
      return process, found
    assert process.poll() is None, open(log_path).read()[-3000:]
    assert time.monotonic() < deadline, f'{command[:3]} did not start'
    time.sleep(0.5)


@pytest.fixture(scope='module')
def services(tmp_path_factory):
  """(job endpoint, worker pool endpoint, their directory, environment)."""
  work = tmp_path_factory.mktemp('portable')
  workers = image_env.build(str(work / 'worker_env'), with_project=False,
                            compiled=WORKER_IMPORT)
  boot = work / 'boot'
  boot.write_text(f'#!/bin/sh\nexec {workers.python} '
                  f'{os.path.join(ROOT, "tools", "beam_boot.py")} "$@"\n')
  boot.chmod(0o755)
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  started = []
  try:
    pool, pool_port = _start(
        [workers.python, '-m', 'apache_beam.runners.worker.worker_pool_main',
         '--service_port=0', f'--container_executable={boot}'],
        work / 'pool.log', str(work), lambda text: (re.findall(
            r'Started worker pool servicer at port: localhost:(\d+)', text)
                                                    or [None])[0])
    started.append(pool)
    port_file = work / 'job_service.port'
    service, _ = _start(
        [workers.python, '-m',
         'apache_beam.runners.portability.local_job_service_main',
         '--port', '0', '--port_file', str(port_file),
         '--staging_dir', str(work / 'staging')],
        work / 'job_service.log', str(work),
        lambda _: port_file.exists() and port_file.read_text().strip())
    started.append(service)
    yield (f'localhost:{port_file.read_text().strip()}',
           f'localhost:{pool_port}', work, env)
  finally:
    for process in started:
      os.killpg(process.pid, signal.SIGTERM)
      process.wait(timeout=60)


def _run(work, name, beam_args, env):
  """Runs the local runner from `work` (not the checkout); its summary."""
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
       '--pipeline_name', name, '--data_root', str(work.parent / 'data'),
       '--pipeline_root', str(work / 'pipeline'), *FLAGS, *beam_args],
      cwd=str(work), env=env, capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr[-5000:]
  assert 'Beam options: ' + (' '.join(beam_args) or
                             "none (Beam's in-memory DirectRunner)") in (
                                 result.stdout)
  return run_record.read_run(
      str(work / 'pipeline' / 'metadata.sqlite'), name)


@pytest.fixture(scope='module')
def two_runs(services, tmp_path_factory):
  """(summary on pool workers, jobs run, boot lines, in-process summary)."""
  job_endpoint, pool_endpoint, logs, env = services
  work = tmp_path_factory.mktemp('runs')
  synthetic_data.generate(str(work / 'data'), 20, seed=8)
  (work / 'workers').mkdir()
  (work / 'here').mkdir()
  beam_args = ['--runner=PortableRunner', f'--job_endpoint={job_endpoint}',
               '--environment_type=EXTERNAL',
               f'--environment_config={pool_endpoint}',
               f'--setup_file={os.path.join(ROOT, "setup.py")}']
  on_workers = _run(work / 'workers', 'coco_workers', beam_args, env)
  jobs = re.findall(r"Running job '([^']+)'",
                    (logs / 'job_service.log').read_text())
  boots = [line for line in (logs / 'pool.log').read_text().splitlines()
           if line.startswith('beam_boot: ')]
  in_process = _run(work / 'here', 'coco_here', [], env)
  return on_workers, jobs, boots, in_process


def test_every_beam_component_runs_on_pool_workers(two_runs):
  on_workers, jobs, boots, _ = two_runs
  states = {c.component_id: c.state for c in on_workers.components}
  assert set(states.values()) == {'COMPLETE'}, states
  # One job per Beam component, each run by workers the pool booted for it.
  assert len(jobs) == len(BEAM_COMPONENTS), jobs
  pids = {re.search(r'\(pid (\d+)\)', line).group(1) for line in boots}
  assert len(boots) == len(pids) == len(jobs), boots
  installed = [json.loads(line.split(' installed ', 1)[1]) for line in boots]
  # Each job's first worker installed this project's package; Transform's
  # also installed the user-code wheel TFX staged with --extra_package.
  assert all('workflow.tar.gz' in i or i == ['(already installed)']
             for i in installed), boots
  assert any(any(p.startswith('tfx_user_code_transform-') for p in i)
             for i in installed), boots


def test_the_model_is_blessed_and_scores_as_in_process(two_runs):
  on_workers, _, _, in_process = two_runs
  assert on_workers.verdict.name == 'blessed'
  assert on_workers.was_pushed
  recalls = {k: v for k, v in on_workers.evaluation.items() if '@' in k}
  assert recalls and recalls == {
      k: v for k, v in in_process.evaluation.items() if '@' in k}
