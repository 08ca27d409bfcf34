"""The run history: every run of a pipeline on one page, newest first.

Written beside the per-run reports (PIPELINE_ROOT/reports/index.html). Each
row is a run: when it started, whether it completed, the fingerprints of the
data, images and code it read, its settings, its metrics, the blessing
verdict and the version it pushed, linking to the run's report. For any
pushed version it answers: what data was this model trained on, with which
parameters, when was it pushed and what did it score.
"""

import datetime
from typing import Callable, List, Set, Tuple

import markupsafe

from coco_captions.pipeline import configs
from coco_captions.reporting import charts, pages, run_record

INDEX = 'index.html'


def render(records: List[run_record.RunRecord], existing_reports: Set[str],
           report_filename: Callable[[str], str]) -> str:
  """The history page of `records` (run_record.read_history, newest first);
  a run links to its report where `report_filename(run id)` is among
  `existing_reports`."""
  links = {r.run_id: report_filename(r.run_id) for r in records}
  links = {run_id: name for run_id, name in links.items()
           if name in existing_reports}
  pipeline = records[0].pipeline_name if records else ''
  chart, caption = _blessing_chart(records)
  return pages.render(
      'history.html.j2', records=records, links=links,
      pipeline_name=pipeline, chart=chart, chart_caption=caption,
      generated=datetime.datetime.now().astimezone().strftime(
          '%Y-%m-%d %H:%M:%S %Z'))


def _blessing_chart(records: List[run_record.RunRecord]) -> Tuple[str, str]:
  """(an SVG chart, its caption) of the blessing metric of every evaluated
  run, oldest first and numbered as the table's rows are from the bottom,
  beside its chance rate; ('', '') when no run was evaluated."""
  numbered = list(enumerate(reversed(records), 1))
  evaluated = [(n, r.evaluation) for n, r in numbered if r.evaluation]
  if not evaluated:
    return '', ''
  metric = evaluated[-1][1].get('blessing_metric') or configs.BLESSING_METRIC
  chance = metric.replace('_recall@', '_chance@')
  series = {
      'model': [(n, float(e[metric])) for n, e in evaluated if metric in e],
      'chance': [(n, float(e[chance])) for n, e in evaluated if chance in e]}
  series = {name: points for name, points in series.items() if points}
  if not series:
    return '', ''
  return (markupsafe.Markup(charts.svg_line_chart(series, 'run', metric)),
          f'{metric} of each evaluated run\'s model (run 1 is the oldest) '
          'and its chance rate on the run\'s eval images.')
