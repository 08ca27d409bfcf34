"""The run history: every run of a pipeline on one page, newest first.

Written beside the per-run reports (PIPELINE_ROOT/reports/index.html). Each
row is a run: when it started, whether it completed, the fingerprints of the
data, images and code it read, its settings, its metrics, the blessing
verdict and the version it pushed, linking to the run's report. For any
pushed version it answers: what data was this model trained on, with which
parameters, when was it pushed and what did it score.
"""

import dataclasses
import datetime
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import markupsafe

from coco_captions.pipeline import configs
from coco_captions.reporting import artifacts, charts, mlmd, pages, run_record

INDEX = 'index.html'


@dataclasses.dataclass
class HistoryRow:
  """One run as the history page shows it."""
  record: run_record.RunRecord
  # The Trainer's plan (training.json), None without a trained model.
  training: Optional[Dict[str, Any]]
  # The model the run evaluated: (artifact id, run that made it, '' unknown).
  model: Optional[run_record.ArtifactRef]

  @property
  def pushed_version(self) -> str:
    return (str(self.record.pushed.get('pushed_version', ''))
            if self.record.was_pushed else '')

  @property
  def pushed_at(self) -> Optional[datetime.datetime]:
    """When Pusher pushed: TFX names a version by the Unix time it pushed."""
    version = self.pushed_version
    return (datetime.datetime.fromtimestamp(int(version))
            if version.isdigit() else None)


def history(store, pipeline_name: str) -> List[HistoryRow]:
  """Every run of `pipeline_name` in `store`, newest first."""
  rows = []
  for record in run_record.read_runs(
      store, pipeline_name, mlmd.runs(store, pipeline_name)[::-1],
      read_artifacts=False):
    models = [r for row in record.lineage if row.component == 'Trainer'
              for r in row.outputs if r.key == 'model']
    rows.append(HistoryRow(
        record, artifacts.training(record.output('Trainer', 'model_run')),
        models[0] if models else None))
  return rows


def render(rows: List[HistoryRow], existing_reports: Set[str],
           report_filename: Callable[[str], str]) -> str:
  """The history page of `rows`; a run links to its report where
  `report_filename(run id)` is among `existing_reports`."""
  links = {row.record.run_id: report_filename(row.record.run_id)
           for row in rows}
  links = {run_id: name for run_id, name in links.items()
           if name in existing_reports}
  pipeline = rows[0].record.pipeline_name if rows else ''
  chart, caption = blessing_chart(rows)
  return pages.render(
      'history.html.j2', rows=rows, links=links, pipeline_name=pipeline,
      recall_ks=run_record.RECALL_KS, chart=chart, chart_caption=caption,
      generated=datetime.datetime.now().astimezone().strftime(
          '%Y-%m-%d %H:%M:%S %Z'))


def blessing_chart(rows: List[HistoryRow]) -> Tuple[str, str]:
  """(an SVG chart, its caption) of the blessing metric of every evaluated
  run, oldest first and numbered as the table's rows are from the bottom,
  beside its chance rate; ('', '') when no run was evaluated."""
  numbered = list(enumerate((row.record for row in reversed(rows)), 1))
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
