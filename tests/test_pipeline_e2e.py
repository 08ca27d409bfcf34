"""The real pipeline, run by the CLI with LocalDagRunner on the bundled data.

One pipeline root is run four times (the session fixture `runs`, shared with
the report's e2e test):
  A: cold; the model clears the threshold and is pushed.
  B: the same flags and --force_run; everything up to Trainer comes from
     cache and the model, already the latest blessed one, is not pushed again.
  C: two training steps and no threshold; the new, worse model is rejected by
     the comparison with the latest blessed model (the baseline).
  D: A's flags again: every component is served from cache.
Then a fifth run with D's flags changes nothing and is answered from D's
record without TensorFlow or TFX (coco_captions.run.up_to_date).
(A first model judged on the threshold alone and rejected:
tests/test_bad_data_and_recovery_e2e.py.)
Tests assert on ML Metadata, the artifacts, the split, retrieval quality, the
serving directory and the query command.
"""

import csv
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from e2e_runs import run_cli as _run_cli
from e2e_runs import summaries as _summaries

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPONENTS = ['CsvExampleGen', 'ImportSchemaGen',
              'latest_blessed_model_resolver', 'StatisticsGen',
              'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage',
              'Transform', 'Trainer', 'RetrievalEvaluator', 'Pusher']
# Resolves the latest blessed model afresh on every run: never cached.
RESOLVER = 'latest_blessed_model_resolver'
BUNDLED_IMAGES = 300


def _states(summary):
  return {c.component_id: c.state for c in summary.components}


def test_first_run_executes_each_component_once(runs):
  _, _, (a, *_) = runs
  assert sorted((c.component_id, c.state) for c in a.components) == sorted(
      (name, 'COMPLETE') for name in COMPONENTS)


def test_second_run_reuses_everything_up_to_the_trainer(runs):
  _, _, (a, b, _, _) = runs
  states = _states(b)
  for name in ('CsvExampleGen', 'StatisticsGen', 'ImportSchemaGen',
               'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage',
               'Transform', 'Trainer'):
    assert states[name] == 'CACHED', (name, states)
  assert b.output('Trainer', 'model') == a.output('Trainer', 'model')


def test_unchanged_run_is_served_entirely_from_cache(runs):
  _, _, (_, b, _, d) = runs
  states = _states(d)
  assert states.pop(RESOLVER) == 'COMPLETE'
  assert set(states.values()) == {'CACHED'} and len(states) == 10, states
  assert d.output('Pusher', 'pushed_model') == b.output('Pusher', 'pushed_model')


@pytest.fixture(scope='module')
def unchanged_rerun(runs):
  """Run E: D's flags again, with nothing changed since D."""
  paths, _, _ = runs
  metadata_before = os.stat(paths['metadata_path'])
  output = _run_cli(paths)
  return output, metadata_before


def test_a_run_with_nothing_changed_is_answered_from_the_last_run(
    runs, unchanged_rerun):
  paths, (_, _, _, d_output), (_, _, c, d) = runs
  output, metadata_before = unchanged_rerun
  assert f'Since run {c.run_id}: the settings changed.' in d_output
  assert output.startswith(f'Nothing changed since run {d.run_id}: ')
  # D's results, as D printed them, and no pipeline started.
  summary_start = d_output.index(f'Pipeline coco_e2e, run {d.run_id}')
  assert d_output[summary_start:].strip() in output
  assert 'Loading TensorFlow' not in output and 'started' not in output
  # ML Metadata is untouched: still four runs.
  metadata_after = os.stat(paths['metadata_path'])
  assert (metadata_after.st_mtime_ns, metadata_after.st_size) == (
      metadata_before.st_mtime_ns, metadata_before.st_size)
  assert [s.run_id for s in _summaries(paths['metadata_path'])][-1] == d.run_id
  assert len(_summaries(paths['metadata_path'])) == 4


def test_console_shows_progress_and_an_actionable_summary(runs):
  paths, (cold, cached, _, _), (a, *_) = runs
  for name in COMPONENTS:
    assert f'{name} started' in cold and f'{name} finished in' in cold
  assert '[11/11] Pusher finished in' in cold
  for name in ('CsvExampleGen', 'Transform', 'Trainer'):
    assert f'{name} reused from cache in' in cached
  model_dir = os.path.join(a.output('Trainer', 'model'), 'Format-Serving')
  assert model_dir in cold
  assert 'Model BLESSED: text_to_image_recall@5' in cold
  assert f'Pushed to:' in cold and paths['serving_model_dir'] in cold
  assert paths['metadata_path'] in cold
  # TF, Beam and TFX logs went to the log file, not the console.
  chatter = [line for line in cold.splitlines()
             if line.startswith(('INFO', 'WARNING', 'ERROR', 'I0000', 'W0000'))
             or '.cc:' in line or 'Traceback' in line]
  assert not chatter, chatter
  logs = glob.glob(os.path.join(paths['pipeline_root'], 'logs', '*.log'))
  assert len(logs) == 4
  assert any('Component Transform is running' in open(p).read() for p in logs)


# A line of Trainer progress where the console is not a terminal; the last
# one, at the end, has no time left.
_TRAINING = re.compile(
    r'Training: (?P<step>[\d,]+)/(?P<total>[\d,]+) steps \((?P<pct>\d+)%\), '
    r'epoch \d+/\d+, loss \d+\.\d{4}(, eval loss \d+\.\d{4})?'
    r'(, stopped early at epoch \d+)?, '
    r'[\d,.]+ examples/s, \d+:\d\d elapsed(, \d+:\d\d left)?')


def test_console_shows_training_progress_as_plain_lines(runs):
  _, (cold, *_), (a, *_) = runs
  # Captured, the console is no terminal: plain lines, never redrawn.
  assert '\r' not in cold and '\x1b' not in cold
  lines = cold.splitlines()
  trainer = lines[lines.index('[9/11] Trainer started') + 1:
                  next(i for i, line in enumerate(lines)
                       if line.startswith('[9/11] Trainer finished in'))]
  # Before the first step, the Trainer's elapsed time every 10 s.
  training = [line for line in trainer if line.startswith('Training: ')]
  waiting = [line for line in trainer if line not in training]
  assert all(re.fullmatch(r'Trainer: \d+:\d\d elapsed', line)
             for line in waiting), waiting
  matches = [_TRAINING.fullmatch(line) for line in training]
  assert all(matches), [l for l, m in zip(training, matches) if not m]
  steps = [int(m['step'].replace(',', '')) for m in matches]
  total = int(matches[0]['total'].replace(',', ''))
  # A line at every 10 % at least of the most it could run, the last where
  # it ended: early stopping ends it sooner, and the line says so.
  assert steps == sorted(steps) and steps[-1] == a.training['steps']
  assert total == a.training['planned_steps']
  assert {int(m['pct']) // 10 for m in matches} >= set(
      range(1, 10 * steps[-1] // total + 1))
  assert ('stopped early at epoch' in training[-1]) == (steps[-1] < total)
  assert ' left' in training[0] and any('eval loss' in l for l in training)


def test_artifacts_are_written(runs):
  _, _, (a, *_) = runs
  model = a.output('Trainer', 'model')
  assert os.path.isfile(os.path.join(model, 'Format-Serving', 'saved_model.pb'))
  graph = a.output('Transform', 'transform_graph')
  vocabulary = os.path.join(graph, 'transform_fn', 'assets', 'caption_vocabulary')
  words = open(vocabulary).read().split()
  assert {'red', 'circle', 'left', 'background'} <= set(words)
  transformed = a.output('Transform', 'transformed_examples')
  for split in ('train', 'eval'):
    assert glob.glob(os.path.join(transformed, f'Split-{split}', '*.gz'))
  assert glob.glob(os.path.join(a.output('Trainer', 'model_run'), '**',
                                'events.out.tfevents.*'), recursive=True)


def _image_ids(examples_uri, split):
  files = glob.glob(os.path.join(examples_uri, f'Split-{split}', '*.gz'))
  ids = []
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
    example = tf.train.Example.FromString(record.numpy())
    ids.append(example.features.feature['image_id'].int64_list.value[0])
  return ids


def test_split_keeps_the_captions_of_an_image_together(runs):
  _, _, (a, *_) = runs
  examples = a.output('CsvExampleGen', 'examples')
  train, eval_ = _image_ids(examples, 'train'), _image_ids(examples, 'eval')
  assert len(train) + len(eval_) == 5 * BUNDLED_IMAGES
  assert not set(train) & set(eval_)
  assert all(ids.count(i) == 5 for ids in (train, eval_) for i in set(ids))
  assert a.split_counts == {'train': len(train), 'eval': len(eval_)}
  # Roughly the configured 4:1.
  assert 0.1 < len(eval_) / (5 * BUNDLED_IMAGES) < 0.3


def _grouped(examples_uri, split):
  """image_id -> (captions, caption ids) of one split of per-image examples."""
  files = glob.glob(os.path.join(examples_uri, f'Split-{split}', '*.gz'))
  found = {}
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    image_id = feature['image_id'].int64_list.value[0]
    assert image_id not in found, f'image {image_id} grouped twice'
    found[image_id] = (list(feature['captions'].bytes_list.value),
                       list(feature['caption_ids'].int64_list.value))
  return found


def test_transform_and_trainer_see_one_example_per_image(runs):
  _, _, (a, *_) = runs
  raw = a.output('CsvExampleGen', 'examples')
  grouped = a.output('GroupCaptionsByImage', 'image_examples')
  for split in ('train', 'eval'):
    images = _grouped(grouped, split)
    assert sorted(images) == sorted(set(_image_ids(raw, split)))
    # Every caption row is in its image's example, in caption id order.
    assert all(len(captions) == 5 and ids == sorted(ids)
               for captions, ids in images.values())
    assert a.image_counts[split] == len(images)
    transformed = glob.glob(os.path.join(
        a.output('Transform', 'transformed_examples'), f'Split-{split}',
        '*.gz'))
    assert sum(1 for _ in tf.data.TFRecordDataset(
        transformed, compression_type='GZIP')) == len(images)
  t = a.training
  assert t['train_images'] == a.image_counts['train']
  assert t['steps'] == t['epochs'] * t['steps_per_epoch']
  assert t['loss'][-1] < t['loss'][0]


def test_evaluation_is_recorded_in_ml_metadata_both_ways(runs):
  _, _, (a, *_) = runs
  e = a.evaluation
  eval_images = set(_image_ids(a.output('CsvExampleGen', 'examples'), 'eval'))
  assert e['num_images'] == len(eval_images)
  assert e['num_captions'] == 5 * len(eval_images)
  for direction in ('text_to_image', 'image_to_text'):
    for k in (1, 5, 10):
      assert e[f'{direction}_recall@{k}'] > 2 * e[f'{direction}_chance@{k}'], e
  assert e['blessing_metric'] == 'text_to_image_recall@5'
  metrics_file = os.path.join(a.output('RetrievalEvaluator', 'evaluation'),
                              'metrics.json')
  assert json.load(open(metrics_file))['metrics']['num_images'] == e['num_images']


def test_first_model_is_blessed_on_the_threshold_and_pushed(runs):
  paths, _, (a, *_) = runs
  assert a.blessing['blessed'] == 1
  assert 'no earlier blessed model' in a.blessing['reason']
  assert a.blessing['current_model'] == a.output('Trainer', 'model')
  assert a.pushed['pushed'] == 1
  versions = os.listdir(paths['serving_model_dir'])
  assert len(versions) == 1 and versions[0].isdigit()
  assert a.pushed['pushed_destination'] == os.path.join(
      paths['serving_model_dir'], versions[0])
  assert os.path.isfile(os.path.join(paths['serving_model_dir'], versions[0],
                                     'saved_model.pb'))


def test_the_blessed_model_is_not_pushed_twice(runs):
  paths, (_, cached, _, _), (a, b, _, _) = runs
  assert b.blessing['blessed'] == 0
  assert b.blessing['baseline_model'] == a.output('Trainer', 'model')
  assert 'already the latest blessed model' in b.blessing['reason']
  assert b.pushed['pushed'] == 0
  assert 'Model unchanged: this model is already the latest blessed' in cached
  assert 'Not pushed again' in cached
  assert len(os.listdir(paths['serving_model_dir'])) == 1


def test_a_worse_model_is_rejected_by_the_baseline_comparison(runs):
  paths, (_, _, worse, _), (a, _, c, _) = runs
  assert _states(c)['Trainer'] == 'COMPLETE'
  assert c.output('Trainer', 'model') != a.output('Trainer', 'model')
  assert c.blessing['blessed'] == 0
  assert "worse than the latest blessed model's" in c.blessing['reason']
  assert c.blessing['baseline_model'] == a.output('Trainer', 'model')
  assert c.evaluation['baseline_text_to_image_recall@5'] == pytest.approx(
      a.evaluation['text_to_image_recall@5'])
  assert c.pushed['pushed'] == 0
  assert 'Model NOT BLESSED' in worse and 'Not pushed' in worse
  assert len(os.listdir(paths['serving_model_dir'])) == 1
  # The rejected model is kept as an artifact.
  assert os.path.isfile(os.path.join(c.output('Trainer', 'model'),
                                     'Format-Serving', 'saved_model.pb'))


def _eval_rows(paths, summary):
  eval_ids = set(_image_ids(summary.output('CsvExampleGen', 'examples'), 'eval'))
  with open(os.path.join(paths['data_root'], 'captions.csv')) as f:
    return [r for r in csv.DictReader(f) if int(r['image_id']) in eval_ids]


def test_query_command_finds_held_out_images_from_their_captions(runs):
  paths, _, (a, *_) = runs
  rows = _eval_rows(paths, a)
  command = [sys.executable, '-m', 'coco_captions.serving.query',
             '--model', paths['serving_model_dir'],
             '--images_root', paths['images_root'], '--top_k', '5', '--json']
  for row in rows:
    command += ['--caption', row['caption']]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads(result.stdout)['results']
  assert len(results) == len(rows)
  top1 = np.mean([r['images'][0][0] == row['image_name']
                  for r, row in zip(results, rows)])
  top5 = np.mean([row['image_name'] in [name for name, _ in r['images']]
                  for r, row in zip(results, rows)])
  # All 300 bundled images are candidates: chance is 1/300 and 5/300. The
  # 242 training images, which the model has seen for ~100 epochs, compete
  # with each held-out one; the eval pool alone (58 images) is the
  # evaluator's, with R@1 ~0.35 there.
  assert top1 >= 5 / BUNDLED_IMAGES, (top1, top5)
  assert top5 >= 10 * 5 / BUNDLED_IMAGES, (top1, top5)


def test_query_command_finds_captions_for_held_out_images(runs):
  paths, _, (a, *_) = runs
  rows = _eval_rows(paths, a)
  images = sorted({r['image_name'] for r in rows})
  command = [sys.executable, '-m', 'coco_captions.serving.query',
             '--model', paths['serving_model_dir'], '--top_k', '10', '--json',
             '--captions_csv', os.path.join(paths['data_root'], 'captions.csv')]
  for image in images:
    command += ['--image', os.path.join(paths['images_root'], image)]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads(result.stdout)['results']
  hits = []
  for image, found in zip(images, results):
    own = {r['caption'] for r in rows if r['image_name'] == image}
    hits.append(bool(own & {caption for caption, _ in found['captions']}))
  # Candidates: all 1500 bundled captions. By chance, one of an image's five
  # lands in a top 10 with probability about 5 * 10 / 1500.
  assert np.mean(hits) >= 5 * (5 * 10 / (5 * BUNDLED_IMAGES)), np.mean(hits)
