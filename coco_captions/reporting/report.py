"""A self-contained HTML report of one pipeline run, to look at in a browser.

  python -m coco_captions.reporting.report --pipeline_root tfx_output/coco_captions
  python -m coco_captions.reporting.report --pipeline_root DIR --metadata_path FILE \\
      --run_id 2026-11-22T15:11:59.155382

Reads the run (the latest by default) from ML Metadata and the artifacts it
points at (the read model: run_record, report_data), whichever orchestrator
ran it (the Airflow runner's metadata layout included), renders it with the
templates in templates/ and writes PIPELINE_ROOT/reports/run-<run id>.html, a
copy, latest.html, and the run history, index.html (run_history):

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
reporting/vendor/) inlined into the page. A section whose inputs are missing
(say the run stopped before Trainer) says why instead.

A new section: its data comes from the read model (a RunRecord field, or a
ReportData part), `sections` below lists it, and
templates/section_<anchor>.html.j2 draws it.
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
from coco_captions.reporting import (charts, facets, pages, report_data,
                                     run_history, run_record)

REPORTS_SUBDIR = 'reports'
LATEST = 'latest.html'


class ReportError(Exception):
  """The report cannot be written at all (no metadata, no run)."""


@dataclasses.dataclass
class Report:
  """Where `build_report` wrote a run's report, and what it lacks."""
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


def _section(anchor: str, title: str, build: Callable[[], Any]) -> Section:
  try:
    return Section(anchor, title, build())
  except Exception as e:  # pylint: disable=broad-except
    # The report is for looking, not for failing a run: say what is missing.
    return Section(anchor, title, missing=run_record.reason(e))


def _part(data: report_data.ReportData, part: str) -> Any:
  """A part of `data`, or Unavailable with why it was not read."""
  value = getattr(data, part)
  if value is None:
    raise run_record.Unavailable(data.missing.get(part, 'not read'))
  return value


# --- What each section shows --------------------------------------------------


def _statistics(record: run_record.RunRecord) -> Dict[str, Any]:
  record.require('StatisticsGen', 'statistics')
  stats = record.statistics
  if 'train' not in stats or 'eval' not in stats:
    raise run_record.Unavailable(
        f'StatisticsGen has splits {sorted(stats)}, not train and eval')
  proto = facets.facets_proto(stats['train'], stats['eval'])
  return {
      'counts': [(split, record.split_counts[split])
                 for split in ('train', 'eval')],
      'facets': facets.overview(proto) if proto is not None else None,
  }


def _anomalies(record: run_record.RunRecord) -> Dict[str, List[str]]:
  record.require('ExampleValidator', 'anomalies')
  if not record.anomalies:
    raise run_record.Unavailable('ExampleValidator wrote no split')
  return run_record.train_first(record.anomalies)


def _captions(data: report_data.ReportData) -> Dict[str, Any]:
  vocabulary, stats = _part(data, 'captions')
  rows = [(s, t.captions, t.tokens, f'{t.tokens / max(1, t.captions):.1f}',
           t.oov_tokens, f'{t.coverage:.2%}') for s, t in stats.items()]
  chart = charts.svg_histogram({s: t.lengths for s, t in stats.items()},
                               'tokens per caption')
  return {'vocabulary': vocabulary, 'rows': rows,
          'chart': markupsafe.Markup(chart)}


def _loss(data: report_data.ReportData) -> markupsafe.Markup:
  return markupsafe.Markup(charts.svg_line_chart(
      _part(data, 'loss'), 'epoch', 'loss'))


def _metrics(record: run_record.RunRecord) -> Dict[str, Any]:
  if not record.evaluation:
    record.require('RetrievalEvaluator', 'evaluation')
    raise run_record.Unavailable('RetrievalEvaluator recorded no metrics')
  return {'evaluation': record.evaluation, 'recalls': record.recalls_of()}


def _blessing(record: run_record.RunRecord) -> Dict[str, Any]:
  if not record.blessing:
    record.require('RetrievalEvaluator', 'blessing')
    raise run_record.Unavailable('RetrievalEvaluator recorded no blessing')
  return {'verdict': record.verdict, 'blessing': record.blessing,
          'evaluation': record.evaluation or {},
          'pushed': record.pushed if record.was_pushed else None,
          'baseline_on_other_data': record.baseline_on_other_data,
          'data': record.fingerprints().get('data', '')}


# The artifacts a reader follows from data to pushed model.
_CHAIN = (('Data', 'CsvExampleGen', 'examples'),
          ('Schema', 'ImportSchemaGen', 'schema'),
          ('Transform graph', 'Transform', 'transform_graph'),
          ('Model', 'Trainer', 'model'),
          ('Evaluation', 'RetrievalEvaluator', 'evaluation'),
          ('Pushed model', 'Pusher', 'pushed_model'))


def _lineage(record: run_record.RunRecord) -> Dict[str, Any]:
  chain = [(label, record.made(component, key))
           for label, component, key in _CHAIN]
  return {'run_id': record.run_id, 'rows': record.lineage,
          'chain': [(label, ref) for label, ref in chain if ref]}


def sections(record: run_record.RunRecord, data: report_data.ReportData,
             metadata_path: str) -> List[Section]:
  """Every section of the report of `record` and its `data`, in page
  order."""
  return [
      _section('run', 'Run', lambda: {'record': record,
                                      'metadata_path': metadata_path}),
      _section('statistics', 'Data: statistics', lambda: _statistics(record)),
      _section('anomalies', 'Data: anomalies', lambda: _anomalies(record)),
      _section('captions', 'Data: caption lengths and vocabulary',
               lambda: _captions(data)),
      _section('loss', 'Model: loss', lambda: _loss(data)),
      _section('metrics', 'Model: retrieval metrics',
               lambda: _metrics(record)),
      _section('blessing', 'Model: blessing', lambda: _blessing(record)),
      _section('examples', 'Examples',
               lambda: _part(data, 'examples')),
      _section('lineage', 'Lineage', lambda: _lineage(record)),
  ]


def render(record: run_record.RunRecord, data: report_data.ReportData,
           metadata_path: str, history: str = '') -> Tuple[str, Dict[str, str]]:
  """(the report's HTML, section title -> why it is missing).

  `data` is read by report_data.read_report_data; `history` is the run
  history page's address relative to the report, '' for no link.
  """
  found = sections(record, data, metadata_path)
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
    record = record or run_record.read_run(metadata_path, pipeline_name,
                                           run_id)
    history = run_record.read_history(metadata_path, record.pipeline_name)
  except LookupError as e:
    raise ReportError(str(e).strip('"\'')) from e
  output_dir = output_dir or os.path.join(pipeline_root, REPORTS_SUBDIR)
  memo_dir = None if '://' in output_dir else output_dir
  data = report_data.read_report_data(record, images_root, memo_dir)
  document, missing = render(record, data, metadata_path,
                             history=run_history.INDEX)
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir, report_filename(record.run_id))
  latest = os.path.join(output_dir, LATEST)
  for target in (path, latest):
    _write(target, document)
  history_path = os.path.join(output_dir, run_history.INDEX)
  _write(history_path, run_history.render(
      history, existing_reports=set(tf.io.gfile.listdir(output_dir)),
      report_filename=report_filename))
  return Report(path, latest, record.run_id, missing, history_path)


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
