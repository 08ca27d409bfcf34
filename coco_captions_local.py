"""Runs the COCO captions TFX pipeline on this machine with LocalDagRunner.

  python coco_captions_local.py                  # the bundled synthetic data
  python coco_captions_local.py --data_root DIR --images_root DIR_OR_URI
  python coco_captions_local.py --direct_running_mode=multi_processing \\
      --direct_num_workers=0                     # any Beam pipeline option

The flags below belong to this script; every other flag is a Beam pipeline
option and reaches every component's Beam pipeline unchanged.
"""

import argparse
import ast
import csv
import difflib
import glob
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple

from coco_captions import configs


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
      # Beam options must never be mistaken for abbreviations of ours.
      allow_abbrev=False)
  parser.add_argument(
      '--data_root', default=configs.DATA_ROOT,
      help='Directory of COCO captions CSV files (columns image_id, id, '
      'caption, image_url, image_name, image_license); only *.csv is read. '
      'Default: the bundled synthetic dataset, %(default)s')
  parser.add_argument(
      '--images_root', default=None,
      help='Directory or URI (anything TensorFlow reads, e.g. gs://bucket/'
      'train2014) that image_name is relative to. Default: DATA_ROOT/images')
  parser.add_argument(
      '--pipeline_root',
      default=os.path.join(configs.OUTPUT_DIR, configs.PIPELINE_NAME),
      help='Where artifacts and logs are written. Default: %(default)s')
  parser.add_argument(
      '--metadata_path', default=None,
      help='SQLite file for ML Metadata. Default: PIPELINE_ROOT/'
      f'{configs.METADATA_FILENAME}')
  parser.add_argument(
      '--module_file', default=configs.MODULE_FILE,
      help='TFX module file with preprocessing_fn and run_fn. '
      'Default: %(default)s')
  parser.add_argument(
      '--schema_file', default=configs.SCHEMA_FILE,
      help='The curated schema the data must match; any anomaly stops the '
      'run before Transform. Default: %(default)s')
  parser.add_argument('--pipeline_name', default=configs.PIPELINE_NAME,
                      help='Name recorded in ML Metadata. Default: %(default)s')
  parser.add_argument(
      '--train_epochs', type=_positive_int, default=None,
      help='Passes over the train split\'s images, but at least the module '
      'file\'s min_train_steps (1,000) steps; the steps follow from the '
      'split\'s size and the batch size. Default: the module file\'s (30)')
  parser.add_argument(
      '--train_steps', type=_positive_int, default=None,
      help='Train for this many steps instead of --train_epochs (rounded up '
      'to epochs of equal length).')
  parser.add_argument(
      '--seed', type=int, default=None,
      help='Seed of the model\'s initial weights, the shuffling and the '
      'caption drawn for each image: the same seed and data give the same '
      'model. Default: the module file\'s (0)')
  parser.add_argument(
      '--eval_steps', type=_positive_int, default=None,
      help='At most this many eval batches each time the eval loss is '
      'measured (up to 30 times in a run). Default: the whole eval split')
  parser.add_argument(
      '--serving_model_dir', default=None,
      help='Where blessed models are pushed, one numbered version each (as '
      f'TF Serving expects). Default: PIPELINE_ROOT/{configs.SERVING_SUBDIR}')
  parser.add_argument(
      '--blessing_metric', default=configs.BLESSING_METRIC,
      help='Evaluation metric that decides blessing: text_to_image_recall@K '
      'or image_to_text_recall@K, K in 1, 5, 10. Default: %(default)s')
  parser.add_argument(
      '--blessing_threshold', type=float, default=configs.BLESSING_THRESHOLD,
      help='The lowest value of the blessing metric for a model to be blessed '
      'and pushed; it must also not be worse than the latest blessed model. '
      'Default: %(default)s')
  parser.add_argument('--no_cache', action='store_true',
                      help='Run every component even if its inputs are '
                      'unchanged since an earlier run.')
  parser.add_argument(
      '--force_run', action='store_true',
      help='Run the pipeline even when nothing changed since the last run in '
      'PIPELINE_ROOT (data files, code, settings, ML Metadata), which is '
      'otherwise answered at once with that run\'s results. Components '
      'whose inputs are unchanged are still reused from cache.')
  parser.add_argument('--verbose', action='store_true',
                      help='Show TensorFlow/Beam/TFX logs on the console '
                      'instead of only in the log file.')
  return parser


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'{text!r} is not a whole number')
  if value < 1:
    raise argparse.ArgumentTypeError(f'{value} is not at least 1')
  return value


def parse_args(
    argv: Optional[Sequence[str]] = None
) -> Tuple[argparse.Namespace, List[str]]:
  """Returns (own flags, Beam pipeline options) like Beam's examples do.

  A flag that is not ours but looks like a misspelling of one is an error
  rather than a Beam option that Beam would silently discard.
  """
  parser = build_parser()
  args, beam_args = parser.parse_known_args(argv)
  ours = [a for action in parser._actions for a in action.option_strings]  # pylint: disable=protected-access
  for arg in beam_args:
    name = arg.split('=', 1)[0]
    if name.startswith('--'):
      close = difflib.get_close_matches(name, ours, n=1, cutoff=0.85)
      if close:
        parser.error(f'unknown flag {name}; did you mean {close[0]}?')
  args.images_root = args.images_root or os.path.join(
      args.data_root, configs.IMAGES_SUBDIR)
  args.serving_model_dir = args.serving_model_dir or os.path.join(
      args.pipeline_root, configs.SERVING_SUBDIR)
  for name in ('data_root', 'images_root', 'pipeline_root', 'module_file',
               'serving_model_dir', 'schema_file'):
    setattr(args, name, _absolute(getattr(args, name)))
  args.metadata_path = _absolute(args.metadata_path or os.path.join(
      args.pipeline_root, configs.METADATA_FILENAME))
  return args, beam_args


def _absolute(path: str) -> str:
  """Local paths become absolute (components may not share our cwd); URIs stay."""
  return path if '://' in path else os.path.abspath(path)


def _csv_errors(path: str) -> List[str]:
  """Problems with one CSV file's readability and header."""
  try:
    with open(path, newline='', encoding='utf-8') as f:
      header = next(csv.reader(f), [])
  except (OSError, UnicodeDecodeError) as e:
    return [f'cannot read {path}: {e}']
  missing = [c for c in configs.CSV_COLUMNS if c not in header]
  if missing:
    return [f'{path} lacks the column(s) {", ".join(missing)} (a COCO '
            f'captions CSV has {",".join(configs.CSV_COLUMNS)})']
  return []


def _module_file_errors(path: str) -> List[str]:
  try:
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), filename=path)
  except (OSError, SyntaxError, UnicodeDecodeError) as e:
    return [f'module file {path} cannot be read as Python: {e}']
  defined = {node.name for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
  defined |= {target.id for node in tree.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)}
  return [f'module file {path} defines no {name}()'
          for name in ('preprocessing_fn', 'run_fn') if name not in defined]


def input_errors(args: argparse.Namespace) -> List[str]:
  """One line per problem with the inputs, checked before TFX starts."""
  errors = []
  if '://' not in args.data_root:
    if not os.path.isdir(args.data_root):
      errors.append(f'data root {args.data_root} is not a directory')
    else:
      csv_files = sorted(glob.glob(
          os.path.join(args.data_root, configs.CSV_PATTERN)))
      if not csv_files:
        errors.append(f'data root {args.data_root} has no *.csv file')
      for path in csv_files:
        errors.extend(_csv_errors(path))
  if '://' not in args.images_root and not os.path.isdir(args.images_root):
    errors.append(f'images root {args.images_root} is not a directory')
  if not os.path.isfile(args.module_file):
    errors.append(f'module file {args.module_file} does not exist')
  else:
    errors.extend(_module_file_errors(args.module_file))
  if not os.path.isfile(args.schema_file):
    errors.append(f'schema file {args.schema_file} does not exist')
  return errors


def _runner(orchestrator: str):
  if orchestrator == 'beam':
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
    return BeamDagRunner()
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner
  return LocalDagRunner()


def _run(args, beam_args, log_path, console, orchestrator):
  """Runs the pipeline; returns (component, exception) if it failed."""
  with console.captured_output(log_path) as out:
    out.write('Loading TensorFlow and TFX...\n')
    out.flush()
    # Not `tfx.v1`, which would also import TFX's Google Cloud extensions.
    from tfx.orchestration import metadata
    from coco_captions import pipeline
    tfx_pipeline = pipeline.create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=args.pipeline_root,
        data_root=args.data_root,
        images_root=args.images_root,
        module_file=args.module_file,
        serving_model_dir=args.serving_model_dir,
        train_epochs=args.train_epochs,
        train_steps=args.train_steps,
        eval_steps=args.eval_steps,
        trainer_config={'seed': args.seed},
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(
                args.metadata_path)),
        beam_pipeline_args=beam_args,
        enable_cache=not args.no_cache,
        blessing_metric=args.blessing_metric,
        blessing_threshold=args.blessing_threshold,
        schema_file=args.schema_file)
    with console.component_progress(
        out, len(tfx_pipeline.components)) as progress:
      try:
        _runner(orchestrator).run(tfx_pipeline)
      except Exception as e:  # pylint: disable=broad-except
        import traceback
        traceback.print_exc()  # Into the log file.
        return progress.current or 'the pipeline', e
  return None


def _write_report(args, log_path, console) -> Tuple[List[str], List[str]]:
  """Writes the run report (coco_captions.report).

  The report never changes a run's outcome: if it cannot be written, the
  reason is one line and the traceback goes to the log.

  Returns:
    (lines about the report to print, paths written).
  """
  with console.captured_output(log_path):
    try:
      from coco_captions import report
      written = report.build_report(
          args.pipeline_root, args.metadata_path, args.pipeline_name,
          images_root=args.images_root)
    except Exception as e:  # pylint: disable=broad-except
      import traceback
      traceback.print_exc()  # Into the log file.
      message = str(e).strip().splitlines()
      return [f'Report not written: {type(e).__name__}: '
              f'{message[0] if message else ""}'], []
  return report.describe(written), [written.path]


# Flags that change how a run goes, not what it computes.
_NOT_SETTINGS = ('verbose', 'no_cache', 'force_run')


def _fingerprint(args, beam_args, orchestrator):
  """What this run's results depend on (see coco_captions.up_to_date)."""
  from coco_captions import up_to_date
  settings = {k: v for k, v in sorted(vars(args).items())
              if k not in _NOT_SETTINGS}
  settings.update(beam_args=list(beam_args), orchestrator=orchestrator)
  return up_to_date.fingerprint(settings, args.data_root, configs.CSV_PATTERN,
                                args.images_root, args.module_file,
                                args.schema_file)


def _outputs(summary) -> List[str]:
  """Every path a run's summary points to."""
  paths = [uri for component in summary.components
           for uris in component.outputs.values() for uri in uris]
  if summary.pushed and summary.pushed.get('pushed_destination'):
    paths.append(summary.pushed['pushed_destination'])
  return paths


def main(argv: Optional[Sequence[str]] = None,
         orchestrator: str = 'local') -> int:
  """Runs the pipeline with `orchestrator`: 'local' (LocalDagRunner) or
  'beam' (BeamDagRunner); returns the exit code."""
  args, beam_args = parse_args(argv)
  errors = input_errors(args)
  if errors:
    for error in errors:
      print(f'error: {error}', file=sys.stderr)
    return 2
  beam_args = beam_args or list(configs.LOCAL_BEAM_PIPELINE_ARGS)
  log_path = None if args.verbose else os.path.join(
      args.pipeline_root, 'logs', time.strftime('run-%Y%m%d-%H%M%S.log'))

  # Answered before TensorFlow is imported: a run with nothing changed would
  # only read everything back from TFX's cache, after ~10 s of imports.
  from coco_captions import up_to_date
  fingerprint = _fingerprint(args, beam_args, orchestrator)
  if not (args.force_run or args.no_cache):
    found = up_to_date.check(args.pipeline_root, fingerprint,
                             args.metadata_path)
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

  print(f'Pipeline {args.pipeline_name}: data {args.data_root}, '
        f'images {args.images_root}')
  print('Beam options: ' + (' '.join(beam_args) or
                            "none (Beam's in-memory DirectRunner)"))
  if log_path:
    print(f'Logs: {log_path}')
  sys.stdout.flush()

  # Imported here so --help and input errors answer at once; TFX takes ~30 s.
  from coco_captions import console, recovery
  try:
    with recovery.RunLock(args.pipeline_root):
      up_to_date.clear(args.pipeline_root)
      for component, execution_id in recovery.cancel_interrupted_executions(
          args.metadata_path, args.pipeline_name):
        print(f'An earlier run was interrupted: marked {component} '
              f'(execution {execution_id}) CANCELED; finished components '
              'will be reused from cache.')
      failure = _run(args, beam_args, log_path, console, orchestrator)
  except recovery.RunInProgressError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2

  if failure:
    component, error = failure
    message = str(error).strip().splitlines()
    if component == 'AnomaliesGate':
      print('error: ' + '\n  '.join(message), file=sys.stderr)
      print(f'Transform and Trainer did not run. Fix the data, or change '
            f'{args.schema_file} if the change is intended.', file=sys.stderr)
    else:
      print(f'error: {component} failed: {type(error).__name__}: '
            f'{message[-1] if message else ""}', file=sys.stderr)
    if log_path:
      print(f'The full log is in {log_path}', file=sys.stderr)
    # What the run did get to (the data, at least) is worth a look.
    print('\n'.join(_write_report(args, log_path, console)[0]))
    return 1

  from coco_captions import run_summary
  summary = run_summary.summarize_run(args.metadata_path, args.pipeline_name)
  report_lines, report_paths = _write_report(args, log_path, console)
  printed = '\n'.join(
      [run_summary.format_summary(summary, args.metadata_path, log_path)] +
      report_lines)
  print(printed)
  up_to_date.record(args.pipeline_root, fingerprint, args.metadata_path,
                    summary.run_id, _outputs(summary) + report_paths, printed)
  return 0


if __name__ == '__main__':
  sys.exit(main())
