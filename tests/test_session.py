"""The session's parts that need no pipeline run: failures by kind, the run
id TFX records, TFX CLI detection, and Ctrl-C (exit 130, one line, no
traceback)."""

import os
import signal
import subprocess
import sys
import time

from coco_captions.data import synthetic_data
from coco_captions.run import session, settings
from coco_captions.pipeline.validation import DataAnomaliesError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _settings(*argv):
  return settings.parse_flags(list(argv), 'local', environ={})


def test_the_datas_failures_are_shown_whole_with_what_to_do():
  error = DataAnomaliesError('The data does not match the schema:\n'
                             'train: id: Expected data of type: INT')
  found = _settings('--schema_file', '/s/schema.pbtxt')
  assert session.failure_lines('AnomaliesGate', error, found.schema_file) == [
      'error: The data does not match the schema:\n'
      '  train: id: Expected data of type: INT',
      'Transform and Trainer did not run. Fix the data, or change '
      '/s/schema.pbtxt if the change is intended.']
  # The kind counts, not the component or how the orchestrator wrapped it.
  try:
    try:
      raise error
    except DataAnomaliesError as e:
      raise RuntimeError('Beam step failed') from e
  except RuntimeError as wrapped:
    assert session.failure_lines('some step', wrapped,
                                 found.schema_file)[1].startswith(
        'Transform and Trainer did not run.')
  # BeamDagRunner raises the same kind with its step appended.
  rewrapped = DataAnomaliesError(
      str(error) + " [while running 'Run[AnomaliesGate]']")
  assert session.failure_lines(
      'AnomaliesGate', rewrapped, found.schema_file) == (
          session.failure_lines('AnomaliesGate', error, found.schema_file))


def test_any_other_failure_names_the_component_and_the_last_line():
  error = ValueError('Fetching the values\nfor the following keys: image')
  schema_file = _settings().schema_file
  assert session.failure_lines('Transform', error, schema_file) == [
      'error: Transform failed: ValueError: for the following keys: image']
  assert session.failure_lines('Trainer', KeyError(), schema_file) == [
      'error: Trainer failed: KeyError: ']


def test_every_component_runs_under_the_sessions_run_id(tmp_path):
  """The id the session prints, records and reads back is the one TFX's
  runners record: they set their own only where none is set yet."""
  from tfx.dsl.compiler import constants
  from tfx.orchestration.portable import runtime_parameter_utils
  found = _settings('--pipeline_root', str(tmp_path / 'root'))
  ir = session.compiled_with_run_id(session.pipeline_for(found),
                                    '2026-12-06T09:05:03.000000')
  # What LocalDagRunner and BeamDagRunner do with the IR first.
  runtime_parameter_utils.substitute_runtime_parameter(
      ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: '20261206-090503'})
  run_ids = {
      node.pipeline_node.node_info.id: [
          c.name.field_value.string_value
          for c in node.pipeline_node.contexts.contexts
          if c.type.name == 'pipeline_run']
      for node in ir.nodes}
  assert len(run_ids) == 11
  assert set(map(tuple, run_ids.values())) == {('2026-12-06T09:05:03.000000',)}


def test_outside_tfx_cli_nothing_is_handed_over():
  assert not session.handed_to_tfx_cli('local')


def ctrl_c_as_at_a_terminal():
  """In the child: SIGINT's default action, whatever this process inherited.

  A shell starts background jobs (`.ci/run &`, nohup) with SIGINT ignored,
  and Python then never turns it into KeyboardInterrupt.
  """
  signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_with_one_line_saying_how_to_resume(tmp_path):
  synthetic_data.generate(str(tmp_path / 'data'), 12, seed=1)
  runner = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
       '--data_root', str(tmp_path / 'data'),
       '--pipeline_root', str(tmp_path / 'pipeline')],
      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      preexec_fn=ctrl_c_as_at_a_terminal)
  for line in runner.stdout:
    if line.startswith('Loading TensorFlow'):
      break
  time.sleep(0.5)
  runner.send_signal(signal.SIGINT)
  out, err = runner.communicate(timeout=120)
  assert runner.returncode == 130, (out, err)
  assert err == ('\nInterrupted. To resume, run the same command again: '
                 'finished components are reused from cache.\n')
  assert 'Traceback' not in out
  # The run lock is released.
  assert not (tmp_path / 'pipeline' / '.run.lock').exists()


def test_under_tfx_cli_the_runner_file_hands_over_its_pipeline(tmp_path):
  """What `tfx pipeline create --engine=local` does with the file, in-process."""
  from tfx.tools.cli.handler import local_dag_runner_patcher
  import coco_captions_local
  from coco_captions.run import recovery
  root = tmp_path / 'root'
  patcher = local_dag_runner_patcher.LocalDagRunnerPatcher()
  # Held by another run: a session would stop with exit 2; handing over
  # takes no lock.
  with recovery.RunLock(str(root)), patcher.patch() as context:
    assert session.handed_to_tfx_cli('local')
    code = coco_captions_local.main(['--pipeline_root', str(root),
                                     '--pipeline_name', 'handed'])
  assert code == 0 and patcher.run_called
  assert (context['pipeline_name'], context['pipeline_root']) == (
      'handed', str(root))
  assert sorted(os.listdir(root)) == []  # No log, metadata or record.
  assert not session.handed_to_tfx_cli('local')
