"""A self-contained HTML report of one pipeline run, to look at in a browser.

  python -m coco_captions.reporting.report --pipeline_root tfx_output/coco_captions
  python -m coco_captions.reporting.report --pipeline_root DIR --metadata_path FILE \\
      --run_id 2026-11-22T15:11:59.155382

Reads the run (the latest by default) from ML Metadata and the artifacts it
points at, whichever orchestrator ran it (the Airflow runner's metadata
layout included), and writes PIPELINE_ROOT/reports/run-<run id>.html, a copy,
latest.html, and the run history, index.html (run_history):

  * Data: TFDV's statistics visualisation (Facets Overview) of the train and
    eval splits, the anomalies ExampleValidator found, row counts, the caption
    length distribution and the vocabulary coverage, from Transform's output.
  * Model: training and eval loss per epoch from the TensorBoard logs, the
    retrieval metrics beside their chance rates, the blessing and its reason.
  * Examples: for a few eval captions, the top images the model retrieves (the
    true image marked); for a few eval images, their best captions.
  * Lineage: which artifacts each component read and wrote, and in which run
    each was made (a cached component points at an earlier run's artifacts).

The file needs no server and no network: images are data: URIs, charts are
inline SVG, and Facets Overview runs from a vendored copy (coco_captions/
vendor/) inlined into the page. A section whose inputs are missing (say the
run stopped before Trainer) says why instead.
"""

import argparse
import dataclasses
import datetime
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import markupsafe

from coco_captions.pipeline import configs
from coco_captions.reporting import artifacts, charts, facets, mlmd, pages, report_data, run_history, run_record

REPORTS_SUBDIR = 'reports'
LATEST = 'latest.html'


class ReportError(Exception):
  """The report cannot be written at all (no metadata, no run)."""


@dataclasses.dataclass
class Report:
  path: str
  latest_path: str
  run_id: str
  # Section title -> why it is missing or incomplete.
  missing: Dict[str, str]
  # The run history page beside it, '' where it could not be written.
  history_path: str = ''


@dataclasses.dataclass
class Section:
  """One section of the page: what its template draws, or why it cannot."""
  anchor: str
  title: str
  data: Any = None
  missing: Optional[str] = None


class _Missing(Exception):
  """A section's input is absent for a known reason."""


def _section(anchor: str, title: str, build: Callable[[], Any]) -> Section:
  try:
    return Section(anchor, title, build())
  except Exception as e:  # pylint: disable=broad-except
    # The report is for looking, not for failing a run: say what is missing.
    reason = str(e).strip().splitlines()[0] if str(e).strip() else ''
    return Section(anchor, title, missing=reason or type(e).__name__)


def _require(record: run_record.RunRecord, component: str, key: str) -> str:
  if not record.ran(component):
    raise _Missing(f'{component} did not run in this run')
  uri = record.output(component, key)
  if not uri:
    raise _Missing(f'{component} ({record.component(component).state.lower()})'
                   f' has no {key} output')
  return uri


# --- What each section shows --------------------------------------------------


def _statistics(record: run_record.RunRecord) -> Dict[str, Any]:
  _require(record, 'StatisticsGen', 'statistics')
  stats = record.statistics
  if 'train' not in stats or 'eval' not in stats:
    raise _Missing(f'StatisticsGen has splits {sorted(stats)}, not train and '
                   'eval')
  proto = facets.facets_proto(stats['train'], stats['eval'])
  return {
      'counts': [(split, record.split_counts[split])
                 for split in ('train', 'eval')],
      'facets': facets.overview(proto) if proto is not None else None,
  }


def _anomalies(record: run_record.RunRecord) -> Dict[str, List[str]]:
  _require(record, 'ExampleValidator', 'anomalies')
  if not record.anomalies:
    raise _Missing('ExampleValidator wrote no split')
  return run_record.train_first(record.anomalies)


def _captions(record: run_record.RunRecord,
              memo_dir: Optional[str]) -> Dict[str, Any]:
  vocabulary, stats = report_data.remembered_caption_statistics(
      memo_dir, _require(record, 'Transform', 'transform_graph'),
      _require(record, 'Transform', 'transformed_examples'))
  rows = [(s, t.captions, t.tokens, f'{t.tokens / max(1, t.captions):.1f}',
           t.oov_tokens, f'{t.coverage:.2%}') for s, t in stats.items()]
  chart = charts.svg_histogram({s: t.lengths for s, t in stats.items()},
                               'tokens per caption')
  return {'vocabulary': vocabulary, 'rows': rows,
          'chart': markupsafe.Markup(chart)}


def _loss(record: run_record.RunRecord) -> markupsafe.Markup:
  curves = report_data.loss_curves(_require(record, 'Trainer', 'model_run'))
  if not curves:
    raise _Missing('the Trainer\'s TensorBoard logs hold no epoch_loss')
  training = record.training or {}
  if training.get('tensorboard_step') == 'training step':
    def epoch(step):  # The epochs (passes) done after `step` steps.
      return step / training['steps_per_epoch']
  else:  # Logged by Keras epoch, before epochs were passes everywhere.
    def epoch(step):
      return step + 1
  named = {('training' if name == 'train' else 'eval'):
           [(epoch(step), loss) for step, loss in points]
           for name, points in curves.items()}
  return markupsafe.Markup(charts.svg_line_chart(named, 'epoch', 'loss'))


def _metrics(record: run_record.RunRecord) -> Dict[str, Any]:
  if not record.evaluation:
    _require(record, 'RetrievalEvaluator', 'evaluation')
    raise _Missing('RetrievalEvaluator recorded no metrics')
  return {'evaluation': record.evaluation,
          'recalls': run_record.recalls(record.evaluation)}


def _blessing(record: run_record.RunRecord) -> Dict[str, Any]:
  if not record.blessing:
    _require(record, 'RetrievalEvaluator', 'blessing')
    raise _Missing('RetrievalEvaluator recorded no blessing')
  return {'verdict': record.verdict, 'blessing': record.blessing,
          'evaluation': record.evaluation or {},
          'pushed': record.pushed if record.was_pushed else None,
          'baseline_on_other_data': record.baseline_on_other_data,
          'data': record.fingerprints().get('data', '')}


def _examples(record: run_record.RunRecord, images_root: Optional[str],
              memo_dir: Optional[str]) -> Dict[str, Any]:
  from coco_captions.pipeline import evaluator
  model = _require(record, 'Trainer', 'model')
  examples = _require(record, 'CsvExampleGen', 'examples')
  images_root = images_root or report_data.images_root_of_run(record)
  if not images_root:
    raise _Missing('the run does not say where its images are; pass '
                   '--images_root')
  split_dir = artifacts.split_dirs(examples).get('eval')
  if not split_dir:
    raise _Missing('CsvExampleGen wrote no eval split')
  pool = evaluator.load_pool(
      split_dir, report_data.pool_size(record, configs.RETRIEVAL_MAX_IMAGES))
  caption_queries, image_queries, thumbnails = (
      report_data.remembered_retrieval_examples(
          memo_dir, os.path.join(model, 'Format-Serving'), split_dir, pool,
          images_root))
  return {
      'pool_images': len(pool.image_ids),
      'top_images': report_data.TOP_IMAGES,
      'top_captions': report_data.TOP_CAPTIONS,
      'caption_queries': [
          dict(dataclasses.asdict(q), rank=next(
              (i for i, (n, _) in enumerate(q.hits, 1) if n == q.true_image),
              None)) for q in caption_queries],
      'image_queries': image_queries,
      'thumbnails': thumbnails,
  }


# The artifacts a reader follows from data to pushed model.
_CHAIN = (('Data', 'CsvExampleGen', 'examples'),
          ('Schema', 'ImportSchemaGen', 'schema'),
          ('Transform graph', 'Transform', 'transform_graph'),
          ('Model', 'Trainer', 'model'),
          ('Evaluation', 'RetrievalEvaluator', 'evaluation'),
          ('Pushed model', 'Pusher', 'pushed_model'))


def _lineage(record: run_record.RunRecord) -> Dict[str, Any]:
  chain = []
  for label, component, key in _CHAIN:
    found = [r for row in record.lineage if row.component == component
             for r in row.outputs if r.key == key]
    if found:
      chain.append((label, found[0]))
  return {'run_id': record.run_id, 'chain': chain, 'rows': record.lineage}


def sections(record: run_record.RunRecord, metadata_path: str,
             images_root: Optional[str] = None,
             memo_dir: Optional[str] = None) -> List[Section]:
  """Every section of the report of `record`, in page order.

  `memo_dir` keeps what was read or computed from artifacts for the next
  report on the same artifacts (report_data's remembered_*); None reads them
  afresh.
  """
  return [
      _section('run', 'Run', lambda: {'record': record,
                                      'metadata_path': metadata_path}),
      _section('statistics', 'Data: statistics', lambda: _statistics(record)),
      _section('anomalies', 'Data: anomalies', lambda: _anomalies(record)),
      _section('captions', 'Data: caption lengths and vocabulary',
               lambda: _captions(record, memo_dir)),
      _section('loss', 'Model: loss', lambda: _loss(record)),
      _section('metrics', 'Model: retrieval metrics',
               lambda: _metrics(record)),
      _section('blessing', 'Model: blessing', lambda: _blessing(record)),
      _section('examples', 'Examples',
               lambda: _examples(record, images_root, memo_dir)),
      _section('lineage', 'Lineage', lambda: _lineage(record)),
  ]


def render(record: run_record.RunRecord, metadata_path: str,
           images_root: Optional[str] = None, memo_dir: Optional[str] = None,
           history: str = '') -> Tuple[str, Dict[str, str]]:
  """(the report's HTML, section title -> why it is missing).

  `history` is the run history page's address relative to the report, ''
  for no link.
  """
  found = sections(record, metadata_path, images_root, memo_dir)
  document = pages.render(
      'report.html.j2', record=record, sections=found, history=history,
      title=f'{record.pipeline_name}, run {record.run_id}',
      generated=datetime.datetime.now().astimezone().strftime(
          '%Y-%m-%d %H:%M:%S %Z'))
  return document, {s.title: s.missing for s in found
                    if s.missing is not None}


def report_filename(run_id: str) -> str:
  return 'run-' + re.sub(r'[^A-Za-z0-9._-]', '-', run_id) + '.html'


def _write(path: str, text: str) -> None:
  import tensorflow as tf  # For output directories such as gs://.
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(text)


def build_report(pipeline_root: str, metadata_path: Optional[str] = None,
                 pipeline_name: Optional[str] = configs.PIPELINE_NAME,
                 run_id: Optional[str] = None,
                 images_root: Optional[str] = None,
                 output_dir: Optional[str] = None,
                 record: Optional[run_record.RunRecord] = None) -> Report:
  """Writes the report of run `run_id` (default: the latest) and the run
  history beside it; returns where. A `pipeline_name` of None means the one
  pipeline the store holds (an Airflow DAG's is its DAG id). `record`: that
  run as the caller already read it (`run_record.read_run`), not read again.

  Raises ReportError when there is no metadata or no such run.
  """
  import tensorflow as tf
  metadata_path = metadata_path or os.path.join(pipeline_root,
                                                configs.METADATA_FILENAME)
  if not os.path.isfile(metadata_path):
    raise ReportError(f'no ML Metadata at {metadata_path}')
  try:
    store = mlmd.connect(metadata_path)
    pipeline_name = pipeline_name or _only_pipeline(store)
    record = record or run_record.read_run(store, pipeline_name, run_id)
  except LookupError as e:
    raise ReportError(str(e).strip('"\'')) from e
  output_dir = output_dir or os.path.join(pipeline_root, REPORTS_SUBDIR)
  memo_dir = None if '://' in output_dir else output_dir
  document, missing = render(record, metadata_path, images_root, memo_dir,
                             history=run_history.INDEX)
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir, report_filename(record.run_id))
  latest = os.path.join(output_dir, LATEST)
  for target in (path, latest):
    _write(target, document)
  history = os.path.join(output_dir, run_history.INDEX)
  _write(history, run_history.render(
      run_history.history(store, pipeline_name), existing_reports=set(
          tf.io.gfile.listdir(output_dir)), report_filename=report_filename))
  return Report(path, latest, record.run_id, missing, history)


def _only_pipeline(store) -> str:
  names = mlmd.pipeline_names(store)
  if not names:
    raise LookupError('ML Metadata holds no pipeline run')
  if len(names) > 1:
    raise LookupError(f'ML Metadata holds the pipelines {", ".join(names)}; '
                      'pass --pipeline_name')
  return names[0]


def describe(report: Report) -> List[str]:
  """The lines a CLI prints about a written report."""
  lines = [f'{"Report:":<20} {report.path}']
  for title, reason in report.missing.items():
    lines.append(f'  (partial) {title}: {reason}')
  if report.history_path:
    lines.append(f'{"Run history:":<20} {report.history_path}')
  return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument(
      '--pipeline_root', required=True,
      help='The run\'s pipeline root; the report goes to PIPELINE_ROOT/'
      f'{REPORTS_SUBDIR}/.')
  parser.add_argument(
      '--metadata_path', default=None,
      help=f'ML Metadata SQLite file. Default: PIPELINE_ROOT/'
      f'{configs.METADATA_FILENAME}')
  parser.add_argument(
      '--pipeline_name', default=None,
      help='Default: the one pipeline the metadata store holds.')
  parser.add_argument('--run_id', default=None,
                      help='Which run. Default: the latest.')
  parser.add_argument(
      '--images_root', default=None,
      help='Where the images are. Default: as the run recorded it.')
  parser.add_argument('--output_dir', default=None,
                      help=f'Default: PIPELINE_ROOT/{REPORTS_SUBDIR}')
  parser.add_argument('--verbose', action='store_true',
                      help='Show TensorFlow\'s logs on the console instead '
                      'of only in the log file.')
  args = parser.parse_args(argv)
  if '://' not in args.pipeline_root and not os.path.isdir(args.pipeline_root):
    print(f'error: pipeline root {args.pipeline_root} is not a directory',
          file=sys.stderr)
    return 2
  from coco_captions.run import console
  log_path = None
  if not args.verbose and '://' not in args.pipeline_root:
    log_path = os.path.join(args.pipeline_root, 'logs', datetime.datetime.now(
    ).strftime('report-%Y%m%d-%H%M%S.log'))
  with console.captured_output(log_path):
    try:
      report = build_report(args.pipeline_root, args.metadata_path,
                            args.pipeline_name, args.run_id, args.images_root,
                            args.output_dir)
    except ReportError as e:
      report, error = None, str(e)
  if report is None:
    print(f'error: {error}', file=sys.stderr)
    return 2
  print('\n'.join(describe(report)))
  return 0


if __name__ == '__main__':
  sys.exit(main())
