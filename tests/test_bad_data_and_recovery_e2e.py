"""Bad data stops the run before Transform; a killed run resumes from cache.

Both run the real CLI with LocalDagRunner on small generated datasets.
"""

import csv
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

from coco_captions.data import synthetic_data
from coco_captions.reporting import mlmd, run_record

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_recovery'


def _command(base, data_root):
  return [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
          '--pipeline_name', PIPELINE_NAME, '--data_root', str(data_root),
          '--pipeline_root', str(base / 'pipeline'), '--train_steps', '5',
          '--eval_steps', '2', '--blessing_threshold', '0',
          '--blessing_significance', '1']


def _executions_by_state(metadata_path):
  store = mlmd.connect(metadata_path)
  from ml_metadata.proto import metadata_store_pb2
  return [(e.id, metadata_store_pb2.Execution.State.Name(e.last_known_state))
          for e in store.get_executions()]


def test_csv_that_breaks_the_schema_is_stopped_before_transform(tmp_path):
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 30, seed=4)
  path = data_root / 'captions.csv'
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  # One row without an image URL: valid CSV with whole-number ids, so the
  # input checks pass it and the schema (every column always present) must
  # catch it.
  rows[7]['image_url'] = ''
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)

  result = subprocess.run(_command(tmp_path, data_root), cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
  assert result.returncode == 1, result.stdout + result.stderr
  assert 'The data does not match the schema' in result.stderr
  assert ("train: image_url: The feature has a shape, but it's not always "
          'present') in result.stderr
  assert 'Transform and Trainer did not run' in result.stderr
  assert 'Traceback' not in result.stdout + result.stderr
  # The report still shows the data and the anomalies, and says what is not
  # there and why.
  (report_line,) = [line for line in result.stdout.splitlines()
                    if line.startswith('Report:')]
  assert '(partial) Model: loss: Trainer did not run in this run' in (
      result.stdout)
  with open(report_line.split(None, 1)[1], encoding='utf-8') as f:
    page = f.read()
  assert 'image_url: The feature has a shape' in page
  assert 'Not available: Transform did not run in this run' in page
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), PIPELINE_NAME)
  states = {c.component_id: c.state for c in summary.components}
  assert states['ExampleValidator'] == 'COMPLETE'
  assert states['AnomaliesGate'] == 'FAILED'
  assert 'Transform' not in states and 'Trainer' not in states
  # Why, as the console said it, at the top of the report and in ML
  # Metadata for any later report.
  error = result.stderr[:result.stderr.index('\nThe full log is in')]
  assert summary.failure == error
  import markupsafe
  assert f'<pre class="failure">{markupsafe.escape(error)}</pre>' in (
      page.split('<section')[0])


def test_run_killed_during_transform_resumes_from_cache(tmp_path):
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 40, seed=5)
  command = _command(tmp_path, data_root)
  metadata_path = str(tmp_path / 'pipeline' / 'metadata.sqlite')

  first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True,
                           start_new_session=True)
  try:
    for line in first.stdout:
      if 'Transform started' in line:
        break
    else:
      pytest.fail('the first run ended before Transform started')
    time.sleep(3)  # Transform takes far longer than this on any data.
  finally:
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
  killed = dict(_executions_by_state(metadata_path))
  assert 'RUNNING' in killed.values()  # What a killed run leaves behind.

  second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=1200)
  assert second.returncode == 0, second.stdout + second.stderr[-5000:]
  stale = [i for i, state in killed.items() if state == 'RUNNING']
  assert f'marked Transform (execution {stale[0]}) CANCELED' in second.stdout

  states = dict(_executions_by_state(metadata_path))
  assert states[stale[0]] == 'CANCELED'
  assert not {'RUNNING', 'NEW'} & set(states.values()), states
  summary = run_record.read_run(metadata_path, PIPELINE_NAME)
  by_component = {c.component_id: c.state for c in summary.components}
  for name in ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen',
               'ExampleValidator', 'AnomaliesGate'):
    assert by_component[name] == 'CACHED', by_component
  for name in ('Transform', 'Trainer', 'RetrievalEvaluator', 'Pusher'):
    assert by_component[name] == 'COMPLETE', by_component
  assert summary.pushed['pushed'] == 1
  assert not os.path.exists(tmp_path / 'pipeline' / '.run.lock')


def test_a_csv_rewritten_with_its_size_and_time_restored_is_read_again(
    tmp_path):
  # TFX fingerprints CSV files by size and modification time, both of which
  # a rewrite can put back: its cache would reuse the old examples, even
  # with --force_run. The inode change time, which cannot be put back, goes
  # into CsvExampleGen's parameters.
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 20, seed=5)
  first = subprocess.run(_command(tmp_path, data_root), cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=900)
  assert first.returncode == 0, first.stdout + first.stderr[-3000:]
  path = data_root / 'captions.csv'
  before = path.stat()
  text = path.read_text()
  time.sleep(0.01)
  path.write_text(text.replace('red', 'RED'))
  os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
  assert (path.stat().st_size, path.stat().st_mtime_ns) == (
      before.st_size, before.st_mtime_ns)
  second = subprocess.run(_command(tmp_path, data_root) + ['--force_run'],
                          cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=900)
  assert second.returncode == 0, second.stdout + second.stderr[-3000:]
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), PIPELINE_NAME)
  states = {c.component_id: c.state for c in summary.components}
  assert states['CsvExampleGen'] == 'COMPLETE', states


def test_a_push_that_fills_the_disk_leaves_nothing_and_the_rerun_pushes(
    tmp_path):
  # The serving directory is a 1 MiB tmpfs (in a mount namespace), too small
  # for the model, then grown: the first run's push fails part-way.
  if os.geteuid() != 0 or not shutil.which('unshare'):
    pytest.skip('needs root and unshare for a tmpfs')
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 20, seed=6)
  serving = tmp_path / 'serving'
  serving.mkdir()
  command = ' '.join(shlex.quote(a) for a in _command(tmp_path, data_root) + [
      '--serving_model_dir', str(serving)])
  script = (f'mount -t tmpfs -o size=1m tmpfs {serving} || exit 9; '
            f'{command} >{tmp_path}/1.out 2>{tmp_path}/1.err; echo $? >'
            f'{tmp_path}/1.rc; ls -A {serving} >{tmp_path}/1.ls; '
            f'mount -o remount,size=256m {serving} || exit 9; '
            f'{command} >{tmp_path}/2.out 2>{tmp_path}/2.err; echo $? >'
            f'{tmp_path}/2.rc; ls -A {serving} >{tmp_path}/2.ls')
  subprocess.run(['unshare', '-m', '--propagation', 'private', 'sh', '-c',
                  script], cwd=str(tmp_path), timeout=1500, check=True)
  out = {name: (tmp_path / name).read_text() for name in (
      '1.out', '1.err', '1.rc', '1.ls', '2.out', '2.err', '2.rc', '2.ls')}

  assert out['1.rc'].strip() == '1', out['1.out'] + out['1.err'][-3000:]
  error = out['1.err'].splitlines()
  assert error[0].startswith(
      f'error: The model could not be pushed to {serving}: ')
  assert 'No space left on device. No new version was left there.' in error[0]
  assert error[1] == 'The serving directory is as it was before this run.'
  assert 'Traceback' not in out['1.out'] + out['1.err']
  assert out['1.ls'] == ''  # No version, no half-copied directory.

  assert out['2.rc'].strip() == '0', out['2.out'] + out['2.err'][-3000:]
  assert 'Model BLESSED: ' in out['2.out']
  assert (f'(it is that model, but {serving} has no complete copy of it: its '
          'push did not finish)') in out['2.out']
  [version] = out['2.ls'].split()
  assert f'Pushed to:           {serving / version}' in out['2.out']
  summary = run_record.read_run(
      str(tmp_path / 'pipeline' / 'metadata.sqlite'), PIPELINE_NAME)
  states = {c.component_id: c.state for c in summary.components}
  assert states['Trainer'] == 'CACHED', states  # The same model, pushed.
  assert states['Pusher'] == 'COMPLETE', states
