"""Bad data stops the run before Transform, and the fixed data is read again;
runs killed or stopped with Ctrl-C resume from cache; a push that fills the
disk leaves nothing.

Each runs the real CLI with LocalDagRunner on a small generated dataset.
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

import e2e_runs
from coco_captions.data import synthetic_data
from coco_captions.pipeline import configs
from coco_captions.reporting import mlmd, run_record
from test_session import ctrl_c_as_at_a_terminal

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_recovery'


def _command(base, data_root, **flags):
  """The CLI's command; a flag given as None keeps its default."""
  flags = {'train_steps': 5, 'eval_steps': 2, 'blessing_threshold': 0,
           'blessing_significance': 1, **flags}
  return [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
          '--pipeline_name', PIPELINE_NAME, '--data_root', str(data_root),
          '--pipeline_root', str(base / 'pipeline'),
          *[f'--{k}={v}' for k, v in flags.items() if v is not None]]


def _executions_by_state(metadata_path):
  store = mlmd.connect(metadata_path)
  from ml_metadata.proto import metadata_store_pb2
  return [(e.id, metadata_store_pb2.Execution.State.Name(e.last_known_state))
          for e in store.get_executions()]


@pytest.fixture(scope='module')
def fixed_in_place(tmp_path_factory):
  """A CSV with a bad row, run; the row fixed in place, run again.

  Run 1 reads a CSV whose row 8 has no image URL (valid CSV with whole-number
  ids, so the input checks pass it and the schema, every column always
  present, must catch it); the license of that row is longer by as much, so
  the file's size is the original's. The original is then written back with
  run 1's modification time: size and time as run 1 saw them. Run 2 asks for
  a threshold no first model reaches.
  """
  base = tmp_path_factory.mktemp('fixed_in_place')
  data_root = base / 'data'
  synthetic_data.generate(str(data_root), 40, seed=2)
  path = data_root / 'captions.csv'
  original = path.read_text()
  lines = original.split('\n')
  url = next(csv.DictReader([lines[0], lines[8]]))['image_url']
  assert f',{url},' in lines[8] and lines[8].endswith(')"')
  lines[8] = lines[8].replace(f',{url},', ',,')[:-1] + 'x' * len(url) + '"'
  path.write_text('\n'.join(lines))
  assert path.stat().st_size == len(original.encode())
  broken = subprocess.run(_command(base, data_root), cwd=ROOT,
                          capture_output=True, text=True, timeout=900)

  seen = path.stat()
  path.write_text(original)
  os.utime(path, ns=(seen.st_atime_ns, seen.st_mtime_ns))
  assert (path.stat().st_size, path.stat().st_mtime_ns) == (
      seen.st_size, seen.st_mtime_ns)
  fixed = subprocess.run(
      _command(base, data_root, train_steps=3, eval_steps=5,
               blessing_threshold=0.99, blessing_significance=None),
      cwd=str(base), capture_output=True, text=True, timeout=900)
  found = e2e_runs.summaries(str(base / 'pipeline' / 'metadata.sqlite'),
                            PIPELINE_NAME)
  assert len(found) == 2
  return base, (broken, fixed), found


def test_csv_that_breaks_the_schema_is_stopped_before_transform(
    fixed_in_place):
  _, (result, _), (summary, _) = fixed_in_place
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


def test_a_csv_rewritten_with_its_size_and_time_restored_is_read_again(
    fixed_in_place):
  # TFX fingerprints CSV files by size and modification time, both of which
  # a rewrite can put back: its cache would reuse the old examples. The
  # inode change time, which cannot be put back, goes into CsvExampleGen's
  # parameters.
  _, (_, fixed), (_, summary) = fixed_in_place
  # Had the old examples been reused, the schema would stop it again.
  assert fixed.returncode == 0, fixed.stdout + fixed.stderr[-3000:]
  states = {c.component_id: c.state for c in summary.components}
  assert states['CsvExampleGen'] == 'COMPLETE', states
  assert states['ExampleValidator'] == states['Trainer'] == 'COMPLETE', states


def test_a_first_model_below_the_threshold_is_not_pushed(fixed_in_place):
  # The run before stopped before Trainer: no earlier model to compare with,
  # so the threshold alone judges it.
  base, (_, fixed), (_, summary) = fixed_in_place
  assert fixed.returncode == 0, fixed.stdout + fixed.stderr[-3000:]
  output = fixed.stdout
  assert summary.blessing['blessed'] == 0
  assert 'below the threshold 0.990' in summary.blessing['reason']
  assert 'baseline_model' not in summary.blessing
  assert summary.pushed['pushed'] == 0
  serving = base / 'pipeline' / configs.SERVING_SUBDIR
  assert not serving.exists() or not os.listdir(serving)
  assert 'Model NOT BLESSED: text_to_image_recall@5' in output
  assert 'below the threshold 0.990' in output and 'Not pushed' in output


def _until_transform_starts(process):
  """The lines `process` printed up to 'Transform started', once it has run
  inside Transform's Beam pipeline for a while."""
  lines = []
  for line in process.stdout:
    lines.append(line)
    if 'Transform started' in line:
      time.sleep(3)  # Transform takes far longer than this on any data.
      return ''.join(lines)
  pytest.fail('the run ended before Transform started:\n' + ''.join(lines))


def test_a_killed_run_then_one_stopped_with_ctrl_c_resume_from_cache(
    tmp_path):
  data_root = tmp_path / 'data'
  synthetic_data.generate(str(data_root), 20, seed=5)
  command = _command(tmp_path, data_root)
  metadata_path = str(tmp_path / 'pipeline' / 'metadata.sqlite')

  killed_run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
  try:
    _until_transform_starts(killed_run)
  finally:
    os.killpg(killed_run.pid, signal.SIGKILL)
    killed_run.wait()
  killed = dict(_executions_by_state(metadata_path))
  assert 'RUNNING' in killed.values()  # What a killed run leaves behind.
  stale = [i for i, state in killed.items() if state == 'RUNNING']

  # The same command: it marks what the killed run left, then is stopped
  # with Ctrl-C in its own Transform.
  interrupted = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 preexec_fn=ctrl_c_as_at_a_terminal)
  printed = _until_transform_starts(interrupted)
  assert f'marked Transform (execution {stale[0]}) CANCELED' in printed
  # Python may drop a KeyboardInterrupt raised inside a weakref callback; a
  # user would press Ctrl-C again, and so does this test.
  for _ in range(10):
    interrupted.send_signal(signal.SIGINT)
    try:
      _, err = interrupted.communicate(timeout=20)
      break
    except subprocess.TimeoutExpired:
      continue
  assert interrupted.returncode == 130
  assert err == ('\nInterrupted. To resume, run the same command again: '
                 'finished components are reused from cache.\n')
  states = {c.component_id: c.state for c in run_record.read_run(
      metadata_path, PIPELINE_NAME).components}
  assert 'Pusher' not in states, states

  resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
  assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-5000:]
  states = dict(_executions_by_state(metadata_path))
  assert states[stale[0]] == 'CANCELED'
  assert not {'RUNNING', 'NEW'} & set(states.values()), states
  summary = run_record.read_run(metadata_path, PIPELINE_NAME)
  by_component = {c.component_id: c.state for c in summary.components}
  for name in ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen',
               'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage'):
    assert by_component[name] == 'CACHED', by_component
  for name in ('Transform', 'Trainer', 'RetrievalEvaluator', 'Pusher'):
    assert by_component[name] == 'COMPLETE', by_component
  assert summary.pushed['pushed'] == 1
  assert not os.path.exists(tmp_path / 'pipeline' / '.run.lock')


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
