"""What a pipeline run did, as the few lines the CLI prints at its end.

`render` renders a run as read by run_record.read_run: per component its
state and wall time, the row and image counts, the anomalies, the Trainer's
plan and losses, the retrieval metrics, the blessing verdict, what was pushed
and where the outputs are.
"""

import os
import sys
from typing import Any, Dict, List, Optional

from coco_captions.reporting import run_record


# TensorBoard as installed beside this Python (TensorFlow installs it).
_TENSORBOARD = os.path.join(os.path.dirname(sys.executable), 'tensorboard')


def _recalls(record: run_record.RunRecord, direction: str) -> str:
  return ', '.join(f'R@{r.k} {r.value_text} (chance {r.chance_text})'
                   for r in record.recalls_of(direction))


def _evaluation_lines(record: run_record.RunRecord) -> List[str]:
  lines = []
  e = record.evaluation
  if e:
    lines.append(
        f'Evaluation of the exported model on {int(e["num_images"])} eval '
        f'images and their {int(e["num_captions"])} captions:')
    lines.append(f'  text to image: {_recalls(record, "text_to_image")}')
    lines.append(f'  image to text: {_recalls(record, "image_to_text")}')
  verdict = record.verdict
  if verdict:
    lines.append(f'Model {verdict.label}: {verdict.reason}')
  other = record.baseline_on_other_data
  if other:
    lines.append(
        f'Note: the latest blessed model it was compared with was trained in '
        f'run {other.run_id} on other data: {other.data_root} (data '
        f'{other.data}; this run: {record.fingerprints()["data"]}).')
  if record.was_pushed:
    lines.append(f'{"Pushed to:":<20} {record.pushed.get("pushed_destination")}')
  elif verdict and verdict.name == 'unchanged':
    lines.append('Not pushed again: the serving directory already has it.')
  elif verdict:
    lines.append('Not pushed: the model is kept as an artifact only.')
  return lines


def _encoder_lines(training: Dict[str, Any]) -> List[str]:
  """A pretrained image encoder's weights and training phases; nothing for
  the small CNN (or a training.json from before encoders)."""
  phases = training.get('phases') or []
  if not any(p['phase'] != 'train' for p in phases):
    return []
  lines = [f'Image encoder: {training["image_encoder"]} at '
           f'{training["image_size"]} px, weights '
           f'{training["image_encoder_weights"]}']
  for p in phases:
    span = ('epochs {:g} to {:g}'.format(*p['epochs']) if 'epochs' in p else
            'Keras epochs {}-{}'.format(*p['keras_epochs']))  # Older runs.
    lines.append(f'  {p["phase"]}: {span}, {p["steps"]} steps at learning '
                 f'rate {p["learning_rate"]:g}; frozen: {p["frozen"]}')
  return lines


def _stopping_lines(training: Dict[str, Any]) -> List[str]:
  """Where early stopping ended training and which weights it kept; nothing
  when it was off (a length the user set) or for older runs."""
  lines = []
  for p in training.get('phases') or []:
    found = p.get('early_stopping')
    if not found:
      continue
    name = '' if p['phase'] == 'train' else f' ({p["phase"]})'
    ended = ('stopped early at epoch {:g} of at most {:g}: the eval loss had '
             'not improved for {} evaluations'.format(
                 p['epochs'][1], found['planned_end'],
                 training['early_stopping_patience'])
             if found['stopped_early'] else
             'ran its whole length, {:g} epochs'.format(p['epochs'][1]))
    lines.append(f'Early stopping{name}: {ended}; kept the weights of epoch '
                 f'{found["kept_epoch"]:g}, eval loss '
                 f'{found["kept_eval_loss"]:.3f}')
  return lines


def _dropped_lines(record: run_record.RunRecord) -> List[str]:
  """What --bad_images=drop left out: the rows counted above include them."""
  dropped = record.dropped
  if not dropped:
    return []
  return [f'Dropped (--bad_images=drop): {dropped.bad_images} bad image(s) '
          f'and their {dropped.caption_rows} caption row(s), not trained or '
          f'evaluated on; listed in {dropped.listing}']


def render(record: run_record.RunRecord, metadata_path: str,
           log_path: Optional[str] = None) -> str:
  """A few lines a person can act on: outputs, counts, metrics, timings."""
  lines = [f'Pipeline {record.pipeline_name}, run {record.run_id}']
  width = max([len('component')] +
              [len(c.component_id) for c in record.components])
  lines.append(f'  {"component":<{width}} {"status":<9} {"seconds":>8}')
  for c in record.components:
    lines.append(
        f'  {c.component_id:<{width}} {c.state.lower():<9} {c.seconds:>8.1f}')
  lines.append(f'  {"total":<{width}} {"":<9} {record.seconds:>8.1f}')

  if record.split_counts:
    counts = ', '.join(f'{n} {split}' for split, n in record.split_counts.items())
    lines.append(f'Rows (captions): {counts}')
  if record.anomalies:
    found = [f'{split}: {a}' for split, items in record.anomalies.items()
             for a in items]
    lines.append('Data anomalies: ' + ('none' if not found else ''))
    lines.extend(f'  {a}' for a in found)

  if record.image_counts:
    counts = ', '.join(f'{n} {split}'
                       for split, n in record.image_counts.items())
    lines.append(f'Images: {counts}')
  lines.extend(_dropped_lines(record))
  t = record.training
  if t:
    lines.append(
        f'Trainer: {t["epochs"]:g} epochs over {t["train_images"]} train '
        f'images, {t["steps"]} steps of {t["batch_size"]} distinct images, '
        f'in {t["seconds"]:.0f} s')
    lines.extend(_stopping_lines(t))
    lines.append(f'Loss: train {t["loss"][-1]:.3f}, eval {t["eval_loss"][-1]:.3f}'
                 f' (first epoch: train {t["loss"][0]:.3f})')
    lines.extend(_encoder_lines(t))
  lines.extend(_evaluation_lines(record))

  logs = record.output('Trainer', 'model_run')
  where = [
      ('Model (SavedModel)', record.output('Trainer', 'model'), 'Format-Serving'),
      ('TensorBoard', logs and f'{_TENSORBOARD} --logdir {logs}', ''),
      ('Transform graph', record.output('Transform', 'transform_graph'), ''),
      ('Schema', record.output('ImportSchemaGen', 'schema'), ''),
  ] if record.ran('Trainer') else []
  for label, uri, sub in where:
    if uri:
      lines.append(f'{label + ":":<20} {os.path.join(uri, sub) if sub else uri}')
  lines.append(f'{"ML Metadata:":<20} {metadata_path}')
  if log_path:
    lines.append(f'{"Log:":<20} {log_path}')
  return '\n'.join(lines)
