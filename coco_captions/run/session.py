"""One run of the pipeline on this machine, as the local and Beam runners start it.

  input checks -> up-to-date check -> run lock -> recovery -> run with
  progress -> read the run -> print -> record -> report

The run gets its own run id, so that what is read back, printed and recorded
is this run's even when another pipeline root shares the metadata store.

TFX's CLI (`tfx pipeline create|update|compile`) executes a runner file only
to read its pipeline: it patches the runner's `run()` to take the pipeline
and run nothing. Then `run` hands the pipeline over and does nothing else.
"""

import datetime
import importlib
import os
import re
import signal
import sys
import time
import traceback
from typing import Dict, List, Optional, Tuple

from coco_captions.pipeline import configs
from coco_captions.run import preflight, up_to_date
from coco_captions.run.settings import Settings

RUNNER_CLASSES = {
    'local': 'tfx.orchestration.local.local_dag_runner.LocalDagRunner',
    'beam': 'tfx.orchestration.beam.beam_dag_runner.BeamDagRunner',
    'airflow': 'tfx.orchestration.airflow.airflow_dag_runner.AirflowDagRunner',
    'kubeflow': ('tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner.'
                 'KubeflowV2DagRunner'),
}
# Loaded in the process whenever TFX's CLI executes a pipeline file.
_TFX_CLI_PATCHER = 'tfx.tools.cli.handler.dag_runner_patcher'
EXIT_INTERRUPTED = 130
_BEAM_STEP = re.compile(r" \[while running '[^']*'\]$")


def run(settings: Settings) -> int:
  """Runs the pipeline as `settings` say; returns the exit status.

  0: it ran, or nothing changed since the last run; 1: a component failed;
  2: bad input or another run holds the pipeline root; 130: interrupted.
  """
  try:
    if handed_to_tfx_cli(settings.orchestrator):
      runner_class(settings.orchestrator)().run(create_pipeline(
          settings, *_input_fingerprints(settings, None)))
      return 0
    return _session(settings)
  except KeyboardInterrupt:
    # A second Ctrl-C must not turn this line into a traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    print('\nInterrupted. To resume, run the same command again: finished '
          'components are reused from cache.', file=sys.stderr)
    signal.signal(signal.SIGINT, previous)
    return EXIT_INTERRUPTED


def runner_class(orchestrator: str):
  module, name = RUNNER_CLASSES[orchestrator].rsplit('.', 1)
  return getattr(importlib.import_module(module), name)


def handed_to_tfx_cli(orchestrator: str) -> bool:
  """Whether TFX's CLI is reading the pipeline: it patched the runner's run()."""
  if _TFX_CLI_PATCHER not in sys.modules:
    return False
  return hasattr(runner_class(orchestrator).run, '__wrapped__')


def create_pipeline(settings: Settings, images_fingerprint: Optional[str],
                    data_fingerprint: Optional[str] = None):
  """The pipeline for `settings`, with ML Metadata in SQLite where it runs,
  and the fingerprints of its images and data files (up_to_date)."""
  from tfx.orchestration import metadata  # pylint: disable=import-outside-toplevel
  from coco_captions.pipeline import pipeline  # pylint: disable=import-outside-toplevel
  connection = None if settings.metadata_path is None else (
      metadata.sqlite_metadata_connection_config(settings.metadata_path))
  return pipeline.create_pipeline(
      **settings.pipeline_args(images_fingerprint),
      data_fingerprint=data_fingerprint,
      metadata_connection_config=connection)


def fingerprint(settings: Settings) -> Optional[Dict[str, str]]:
  """What a run with `settings` depends on (`up_to_date.fingerprint`)."""
  return up_to_date.fingerprint(
      settings.fingerprint(), settings.data_root, configs.CSV_PATTERN,
      settings.images_root, settings.module_file, settings.schema_file)


def _session(settings: Settings) -> int:
  problems = preflight.errors(settings) + preflight.storage_errors(
      settings.pipeline_root, settings.metadata_path)
  if problems:
    for problem in problems:
      print(f'error: {problem}', file=sys.stderr)
    return 2
  log_path = None if settings.verbose else os.path.join(
      settings.pipeline_root, 'logs', time.strftime('run-%Y%m%d-%H%M%S.log'))

  # Answered before TensorFlow is imported: a run with nothing changed would
  # only read everything back from TFX's cache, after seconds of imports.
  parts = fingerprint(settings)
  if not (settings.force_run or settings.no_cache):
    found = up_to_date.check(settings.pipeline_root, parts,
                             settings.metadata_path)
    if found.unchanged:
      print(f'Nothing changed since run {found.recorded["run_id"]}: the same '
            'data files, code, settings and ML Metadata, so running it again '
            'would change nothing. Its results:\n')
      print(found.recorded['printed'])
      print('\nTo run the pipeline anyway: --force_run (components are '
            'still reused from cache) or --no_cache (everything is recomputed).')
      return 0
    if found.reasons:
      print(f'Since run {found.recorded["run_id"]}: '
            + '; '.join(found.reasons) + '.')

  print(f'Pipeline {settings.pipeline_name}: data {settings.data_root}, '
        f'images {settings.images_root}')
  print('Beam options: ' + (' '.join(settings.beam_args) or
                            "none (Beam's in-memory DirectRunner)"))
  if log_path:
    print(f'Logs: {log_path}')
  sys.stdout.flush()

  from coco_captions.run import recovery  # pylint: disable=import-outside-toplevel
  run_id = new_run_id()
  fingerprints = _input_fingerprints(settings, parts)
  try:
    with recovery.RunLock(settings.pipeline_root), recovery.LiveRun(
        settings.metadata_path, run_id):
      up_to_date.clear(settings.pipeline_root)
      for component, execution_id in recovery.cancel_interrupted_executions(
          settings.metadata_path, settings.pipeline_name):
        print(f'An earlier run was interrupted: marked {component} '
              f'(execution {execution_id}) CANCELED; finished components '
              'will be reused from cache.')
      failure = _execute(settings, run_id, fingerprints, log_path)
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

  from coco_captions.reporting import run_summary  # pylint: disable=import-outside-toplevel
  summary = run_summary.summarize_run(settings.metadata_path,
                                      settings.pipeline_name, run_id=run_id)
  # The report renders the record the summary was read into.
  report_lines, report_paths = _write_report(settings, run_id, log_path,
                                             summary)
  printed = '\n'.join(
      [run_summary.format_summary(summary, settings.metadata_path, log_path)] +
      report_lines)
  print(printed)
  up_to_date.record(settings.pipeline_root, parts, settings.metadata_path,
                    run_id, _outputs(summary) + report_paths, printed)
  return 0


def new_run_id(now: Optional[datetime.datetime] = None) -> str:
  """A run id: the local time the run starts, to the microsecond, in ISO 8601
  (LocalDagRunner's form), whichever runner runs it."""
  return (now or datetime.datetime.now()).isoformat(timespec='microseconds')


def _runner(orchestrator: str, run_id: str):
  """The orchestrator's runner, running under `run_id`."""
  from tfx.dsl.compiler import constants  # pylint: disable=import-outside-toplevel
  from tfx.orchestration.portable import runtime_parameter_utils  # pylint: disable=import-outside-toplevel

  class WithRunId(runner_class(orchestrator)):
    """Its runner sets a run id only where none is set yet."""

    def run_with_ir(self, pipeline, run_options=None):
      runtime_parameter_utils.substitute_runtime_parameter(
          pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
      return super().run_with_ir(pipeline, run_options)

  return WithRunId()


def _input_fingerprints(settings: Settings, parts: Optional[Dict[str, str]]
                        ) -> Tuple[Optional[str], Optional[str]]:
  """(images, data) fingerprints for `create_pipeline`: the run check's
  (`parts`) where it computed them, else taken now; None where remote."""
  if parts:
    return parts['images'] or None, parts['data']
  return (up_to_date.directory_fingerprint(settings.images_root),
          up_to_date.data_fingerprint(settings.data_root, configs.CSV_PATTERN))


def _execute(settings: Settings, run_id: str,
             fingerprints: Tuple[Optional[str], Optional[str]],
             log_path: Optional[str]) -> Optional[Tuple[str, Exception]]:
  """Runs the pipeline; returns (component, exception) if it failed."""
  from coco_captions.pipeline import user_code
  from coco_captions.run import console  # pylint: disable=import-outside-toplevel
  with console.captured_output(log_path) as out:
    out.write('Loading TensorFlow and TFX...\n')
    out.flush()
    # Components run in this process import the user code TFX packages.
    user_code.hide_copies(settings.module_file)
    tfx_pipeline = create_pipeline(settings, *fingerprints)
    with console.component_progress(
        out, len(tfx_pipeline.components)) as progress:
      try:
        _runner(settings.orchestrator, run_id).run(tfx_pipeline)
      except Exception as e:  # pylint: disable=broad-except
        traceback.print_exc()  # Into the log file.
        if _caused_by(e, KeyboardInterrupt):
          # Beam turns a Ctrl-C inside a step into a RuntimeError.
          raise KeyboardInterrupt from e
        return progress.current or 'the pipeline', e
  return None


def _caused_by(error: BaseException, kind) -> Optional[BaseException]:
  """The first exception of `kind` in `error`'s chain, or None."""
  while error is not None and not isinstance(error, kind):
    error = error.__cause__ or error.__context__
  return error


def _data_failures() -> Dict[type, str]:
  """Failures whose message says what went wrong (the data's, the disk's),
  by kind, and what follows from them."""
  from coco_captions.pipeline.evaluator import ModelGoneError  # pylint: disable=import-outside-toplevel
  from coco_captions.pipeline.push import PushError  # pylint: disable=import-outside-toplevel
  from coco_captions.pipeline.validation import DataAnomaliesError  # pylint: disable=import-outside-toplevel
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
    # BeamDagRunner re-raises it with the Beam step appended.
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
  from coco_captions.run import console  # pylint: disable=import-outside-toplevel
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
  from coco_captions.run import console  # pylint: disable=import-outside-toplevel
  with console.captured_output(log_path):
    try:
      from coco_captions.reporting import report  # pylint: disable=import-outside-toplevel
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
