"""One run of the pipeline on this machine, as the local and Beam runners start
it (`run`):

  input checks -> "nothing changed?" (before TensorFlow is imported) -> run
  lock -> recovery of an interrupted run -> the TFX run, with progress lines
  -> summary printed -> record (up_to_date) -> report

The run gets its own run id, so that what is read back, printed and recorded
is this run's even when another pipeline root shares the ML Metadata store.

Under TFX's CLI (`tfx pipeline create|update|compile`) the runner file is
executed only for its pipeline: `run` hands it to the runner and does nothing
else. `tfx run create` then executes the file as a user would.
"""

# TFX and TensorFlow are imported only when needed: an up-to-date run skips them.
# pylint: disable=import-outside-toplevel

import datetime
import importlib
import os
import re
import signal
import sys
import time
import traceback
from typing import Dict, List, Optional, Tuple

from coco_captions.run import preflight, up_to_date
from coco_captions.run.settings import Settings

EXIT_INTERRUPTED = 130
_RUNNERS = {
    'local': ('tfx.orchestration.local.local_dag_runner', 'LocalDagRunner'),
    'beam': ('tfx.orchestration.beam.beam_dag_runner', 'BeamDagRunner'),
    'kubeflow': ('tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner',
                 'KubeflowV2DagRunner'),
}
# BeamDagRunner re-raises a component's error with the Beam step appended.
_BEAM_STEP = re.compile(r" \[while running '[^']*'\]$")


def run(settings: Settings) -> int:
  """Runs the pipeline as `settings` say; returns the exit status.

  0: it ran, or nothing changed since the last run; 1: a component failed;
  2: bad input or another run holds the pipeline root; 130: interrupted.
  """
  try:
    if handed_to_tfx_cli(settings.orchestrator):
      # The CLI reads the pipeline's name and root; nothing runs.
      _runner_class(settings.orchestrator)().run(pipeline_for(settings))
      return 0
    return _session(settings)
  except KeyboardInterrupt:
    # A second Ctrl-C must not turn this line into a traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    print('\nInterrupted. To resume, run the same command again: finished '
          'components are reused from cache.', file=sys.stderr)
    signal.signal(signal.SIGINT, previous)
    return EXIT_INTERRUPTED


def handed_to_tfx_cli(orchestrator: str) -> bool:
  """Whether TFX's CLI is executing the runner file for its pipeline.

  TFX has no public signal for it: its CLI patches the runner class's `run()`
  (tfx/tools/cli/handler/dag_runner_patcher.py, a functools.wraps wrapper,
  hence `__wrapped__`). Without the patcher's module loaded, the answer is
  no, and a plain run imports no TFX to find it.
  """
  if 'tfx.tools.cli.handler.dag_runner_patcher' not in sys.modules:
    return False
  return hasattr(_runner_class(orchestrator).run, '__wrapped__')


def pipeline_for(settings: Settings, images_fingerprint: Optional[str] = None,
                 data_fingerprint: Optional[str] = None):
  """`pipeline.create_pipeline` with the arguments `settings` give.

  ML Metadata is the SQLite file `settings.metadata_path`, or the
  orchestrator's own store where that is None (Kubeflow). The fingerprints
  (`up_to_date.fingerprint`'s 'images' and 'data') are taken where the
  pipeline runs; None where they are not (Airflow's launcher takes them when
  the task runs, Kubeflow's paths are in the cluster).
  """
  from tfx.orchestration import metadata
  from coco_captions.pipeline import pipeline
  connection = None if settings.metadata_path is None else (
      metadata.sqlite_metadata_connection_config(settings.metadata_path))
  return pipeline.create_pipeline(
      **settings.pipeline_args(images_fingerprint),
      data_fingerprint=data_fingerprint,
      metadata_connection_config=connection)


def _runner_class(orchestrator: str):
  module, name = _RUNNERS[orchestrator]
  return getattr(importlib.import_module(module), name)


def _session(settings: Settings) -> int:
  """`run` outside TFX's CLI: the steps of the module docstring."""
  problems = preflight.errors(settings) + preflight.storage_errors(
      settings.pipeline_root, settings.metadata_path)
  if problems:
    for problem in problems:
      print(f'error: {problem}', file=sys.stderr)
    return 2

  parts = up_to_date.fingerprint(settings)
  if not (settings.force_run or settings.no_cache) and _answered_unchanged(
      settings, parts):
    return 0

  log_path = None if settings.verbose else os.path.join(
      settings.pipeline_root, 'logs', time.strftime('run-%Y%m%d-%H%M%S.log'))
  print(f'Pipeline {settings.pipeline_name}: data {settings.data_root}, '
        f'images {settings.images_root}')
  print('Beam options: ' + (' '.join(settings.beam_args) or
                            "none (Beam's in-memory DirectRunner)"))
  if log_path:
    print(f'Logs: {log_path}')
  sys.stdout.flush()

  from coco_captions.run import recovery
  # LocalDagRunner's form (ISO 8601, local time), microseconds always shown,
  # whichever runner runs it.
  run_id = datetime.datetime.now().isoformat(timespec='microseconds')
  try:
    with recovery.RunLock(settings.pipeline_root), recovery.LiveRun(
        settings.metadata_path, run_id):
      up_to_date.clear(settings.pipeline_root)
      for component, execution_id in recovery.cancel_interrupted_executions(
          settings.metadata_path, settings.pipeline_name):
        print(f'An earlier run was interrupted: marked {component} '
              f'(execution {execution_id}) CANCELED; finished components '
              'will be reused from cache.')
      failure = _execute(settings, run_id, parts, log_path)
  except recovery.RunInProgressError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2

  if failure:
    lines = failure_lines(*failure, settings.schema_file)
    for line in lines:
      print(line, file=sys.stderr)
    if log_path:
      print(f'The full log is in {log_path}', file=sys.stderr)
    _record_failure(settings, run_id, failure[0], lines, log_path)
    # What the run did get to (the data, at least) is worth a look.
    print('\n'.join(_write_report(settings, run_id, log_path)[0]))
    return 1

  from coco_captions.reporting import run_record, run_summary
  summary = run_record.read_run(settings.metadata_path, settings.pipeline_name,
                                run_id=run_id)
  # The report renders the record the summary was read into.
  report_lines, report_paths = _write_report(settings, run_id, log_path,
                                             summary)
  printed = '\n'.join(
      [run_summary.render(summary, settings.metadata_path, log_path)] +
      report_lines)
  print(printed)
  up_to_date.record(settings.pipeline_root, parts, settings.metadata_path,
                    run_id, _outputs(summary) + report_paths, printed)
  return 0


def _answered_unchanged(settings: Settings,
                        parts: Dict[str, Optional[str]]) -> bool:
  """Prints the last run's results and returns True if nothing changed since
  it (`up_to_date.check`); else says what changed, if anything is known."""
  found = up_to_date.check(settings.pipeline_root, parts,
                           settings.metadata_path)
  if found.unchanged:
    print(f'Nothing changed since run {found.recorded["run_id"]}: the same '
          'data files, code, settings and ML Metadata, so running it again '
          'would change nothing. Its results:\n')
    print(found.recorded['printed'])
    print('\nTo run the pipeline anyway: --force_run (components are '
          'still reused from cache) or --no_cache (everything is recomputed).')
    return True
  if found.reasons:
    print(f'Since run {found.recorded["run_id"]}: '
          + '; '.join(found.reasons) + '.')
  return False


def _execute(settings: Settings, run_id: str, parts: Dict[str, Optional[str]],
             log_path: Optional[str]) -> Optional[Tuple[str, Exception]]:
  """Runs the pipeline under `run_id`, its output into `log_path` (None: the
  console); returns (component, exception) if it failed."""
  from coco_captions.pipeline import user_code
  from coco_captions.run import console
  with console.captured_output(log_path) as out:
    out.write('Loading TensorFlow and TFX...\n')
    out.flush()
    # Components run in this process import the user code TFX packages.
    user_code.hide_copies(settings.module_file)
    tfx_pipeline = pipeline_for(settings, parts['images'] or None,
                                parts['data'])
    with console.component_progress(
        out, len(tfx_pipeline.components)) as progress:
      try:
        _runner_class(settings.orchestrator)().run_with_ir(
            compiled_with_run_id(tfx_pipeline, run_id))
      except Exception as e:  # pylint: disable=broad-except
        traceback.print_exc()  # Into the log file.
        if _caused_by(e, KeyboardInterrupt):
          # Beam turns a Ctrl-C inside a step into a RuntimeError.
          raise KeyboardInterrupt from e
        return progress.current or 'the pipeline', e
  return None


def compiled_with_run_id(tfx_pipeline, run_id: str):
  """`tfx_pipeline` compiled to TFX's IR (pipeline_pb2.Pipeline), to run
  under `run_id` with the runner's `run_with_ir`.

  TFX's LocalDagRunner and BeamDagRunner take no run id: their `run()`
  compiles the pipeline and calls `run_with_ir`, which sets a run id of its
  own where none is set yet. This is their `run()` with ours set between.
  """
  from tfx.dsl.compiler import constants
  from tfx.orchestration.portable import runtime_parameter_utils
  from tfx.orchestration.portable import tfx_runner
  # What IrBasedRunner.run() calls: packages the user code, then compiles.
  # pylint: disable-next=protected-access
  ir = tfx_runner._make_pipeline_proto(tfx_pipeline)
  runtime_parameter_utils.substitute_runtime_parameter(
      ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
  return ir


def _caused_by(error: BaseException, kind) -> Optional[BaseException]:
  """The first exception of `kind` in `error`'s chain, or None."""
  while error is not None and not isinstance(error, kind):
    error = error.__cause__ or error.__context__
  return error


def _data_failures() -> Dict[type, str]:
  """Failures whose message says what went wrong (the data's, the disk's),
  by kind, and what follows from them."""
  from coco_captions.pipeline.evaluator import ModelGoneError
  from coco_captions.pipeline.push import PushError
  from coco_captions.pipeline.validation import DataAnomaliesError
  return {
      ModelGoneError: 'Nothing was blessed or pushed.',
      PushError: 'The serving directory is as it was before this run.',
      DataAnomaliesError: 'Transform and Trainer did not run. Fix the data, '
                          'or change {schema_file} if the change is intended.',
      preflight.PreflightError: 'Nothing after CsvExampleGen ran. Fix the '
                                'CSV files.',
  }


def failure_lines(component: str, error: BaseException,
                  schema_file: str) -> List[str]:
  """What the console says about a failed run: by the kind of failure.

  The data's failures carry their whole message (which rows, which images);
  any other is the component, the exception and its last line.
  """
  kinds = _data_failures()
  cause = _caused_by(error, tuple(kinds))
  if cause is not None:
    advice = next(text for kind, text in kinds.items()
                  if isinstance(cause, kind))
    message = _BEAM_STEP.sub('', str(cause).strip())
    return ['error: ' + '\n  '.join(message.splitlines()),
            advice.format(schema_file=schema_file)]
  message = str(error).strip().splitlines()
  return [f'error: {component} failed: {type(error).__name__}: '
          f'{message[-1] if message else ""}']


def _record_failure(settings: Settings, run_id: str, component: str,
                    lines: List[str], log_path: Optional[str]) -> None:
  """Keeps what the console said in ML Metadata, where the run's report and
  any later one (python -m coco_captions.reporting.report) read it."""
  from coco_captions.reporting import mlmd
  from coco_captions.run import console
  with console.captured_output(log_path):
    try:
      mlmd.record_failure(
          mlmd.connect(settings.metadata_path, read_only=False),
          settings.pipeline_name, run_id, component, '\n'.join(lines))
    except Exception:  # pylint: disable=broad-except
      # A run that failed before TFX recorded it has nothing to keep it on.
      traceback.print_exc()  # Into the log file.


def _write_report(settings: Settings, run_id: str, log_path: Optional[str],
                  record=None) -> Tuple[List[str], List[str]]:
  """Writes the run report (of `record`, the run already read, if given);
  returns (lines to print, paths written).

  The report never changes a run's outcome: whatever stops it, the reason
  is one line and the traceback goes to the log.
  """
  from coco_captions.run import console
  with console.captured_output(log_path):
    try:
      from coco_captions.reporting import report
      written = report.build_report(
          settings.pipeline_root, settings.metadata_path,
          settings.pipeline_name, run_id=run_id,
          images_root=settings.images_root, record=record)
    except Exception as e:  # pylint: disable=broad-except
      traceback.print_exc()  # Into the log file.
      message = str(e).strip().splitlines()
      return [f'Report not written: {type(e).__name__}: '
              f'{message[0] if message else ""}'], []
  return report.describe(written), [p for p in (written.path,
                                                 written.history_path) if p]


def _outputs(summary) -> List[str]:
  """Every path a run's summary points to."""
  paths = [uri for component in summary.components
           for uris in component.outputs.values() for uri in uris]
  if summary.pushed and summary.pushed.get('pushed_destination'):
    paths.append(summary.pushed['pushed_destination'])
  return paths
