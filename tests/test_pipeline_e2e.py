"""The real pipeline, run twice by the CLI with LocalDagRunner on generated data.

Asserts on ML Metadata (one successful execution per component, then a run
served from cache), the artifacts, the split, retrieval quality and the
exported model used on its own.
"""

import csv
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from coco_captions import run_summary, synthetic_data

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_e2e'
COMPONENTS = ['CsvExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator',
              'Transform', 'Trainer']
NUM_IMAGES = 250


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """Generates data, runs the CLI twice; returns paths and both outputs."""
  base = tmp_path_factory.mktemp('e2e')
  data_root = base / 'data'
  synthetic_data.generate(str(data_root), NUM_IMAGES, seed=11)
  # Images in a directory of their own, to exercise --images_root.
  images_root = base / 'coco_images'
  os.rename(data_root / 'images', images_root)
  paths = {
      'data_root': str(data_root),
      'images_root': str(images_root),
      'pipeline_root': str(base / 'pipeline'),
      'metadata_path': str(base / 'metadata' / 'mlmd.sqlite'),
  }
  os.makedirs(os.path.dirname(paths['metadata_path']))
  command = [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
             '--pipeline_name', PIPELINE_NAME, '--train_steps', '300',
             '--eval_steps', '5'] + [f'--{k}={v}' for k, v in paths.items()]
  outputs = []
  for _ in range(2):
    result = subprocess.run(command, cwd=str(base), capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, (
        f'exit {result.returncode}\nstdout:\n{result.stdout}\n'
        f'stderr:\n{result.stderr}')
    outputs.append(result.stdout)
  store = run_summary.connect(paths['metadata_path'])
  run_ids = sorted(
      {c.name for c in store.get_contexts_by_type('pipeline_run')})
  assert len(run_ids) == 2
  summaries = [run_summary.summarize_run(paths['metadata_path'], PIPELINE_NAME,
                                         run_id) for run_id in run_ids]
  return paths, outputs, summaries


def test_first_run_executes_each_component_once(runs):
  _, _, (first, _) = runs
  assert [(c.component_id, c.state) for c in first.components] == [
      (name, 'COMPLETE') for name in COMPONENTS]


def test_second_run_is_served_from_cache(runs):
  _, _, (first, second) = runs
  assert [(c.component_id, c.state) for c in second.components] == [
      (name, 'CACHED') for name in COMPONENTS]
  assert second.output('Trainer', 'model') == first.output('Trainer', 'model')


def test_console_shows_progress_and_an_actionable_summary(runs):
  paths, (cold, cached), (first, _) = runs
  for name in COMPONENTS:
    assert f'{name} started' in cold and f'{name} finished in' in cold
    assert f'{name} reused from cache in' in cached
  model_dir = os.path.join(first.output('Trainer', 'model'), 'Format-Serving')
  assert model_dir in cold
  assert 'Text-to-image retrieval on the eval split' in cold
  assert paths['metadata_path'] in cold
  # TF, Beam and TFX logs went to the log file, not the console.
  chatter = [line for line in cold.splitlines()
             if line.startswith(('INFO', 'WARNING', 'ERROR', 'I0000', 'W0000'))
             or '.cc:' in line or 'Traceback' in line]
  assert not chatter, chatter
  logs = glob.glob(os.path.join(paths['pipeline_root'], 'logs', '*.log'))
  assert len(logs) == 2
  assert any('Component Transform is running' in open(p).read() for p in logs)


def test_artifacts_are_written(runs):
  _, _, (first, _) = runs
  model = first.output('Trainer', 'model')
  assert os.path.isfile(os.path.join(model, 'Format-Serving', 'saved_model.pb'))
  graph = first.output('Transform', 'transform_graph')
  vocabulary = os.path.join(graph, 'transform_fn', 'assets', 'caption_vocabulary')
  words = open(vocabulary).read().split()
  assert {'red', 'circle', 'left', 'background'} <= set(words)
  transformed = first.output('Transform', 'transformed_examples')
  for split in ('train', 'eval'):
    assert glob.glob(os.path.join(transformed, f'Split-{split}', '*.gz'))
  assert glob.glob(os.path.join(first.output('Trainer', 'model_run'), '**',
                                'events.out.tfevents.*'), recursive=True)


def _image_ids(examples_uri, split):
  files = glob.glob(os.path.join(examples_uri, f'Split-{split}', '*.gz'))
  ids = []
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
    example = tf.train.Example.FromString(record.numpy())
    ids.append(example.features.feature['image_id'].int64_list.value[0])
  return ids


def test_split_keeps_the_captions_of_an_image_together(runs):
  _, _, (first, _) = runs
  examples = first.output('CsvExampleGen', 'examples')
  train, eval_ = _image_ids(examples, 'train'), _image_ids(examples, 'eval')
  assert len(train) + len(eval_) == 5 * NUM_IMAGES
  assert not set(train) & set(eval_)
  assert all(ids.count(i) == 5 for ids in (train, eval_) for i in set(ids))
  assert first.split_counts == {'train': len(train), 'eval': len(eval_)}
  # Roughly the configured 4:1.
  assert 0.1 < len(eval_) / (5 * NUM_IMAGES) < 0.3


def test_retrieval_is_well_above_chance(runs):
  _, _, (first, _) = runs
  m = first.metrics
  assert m['num_candidates'] == len(set(_image_ids(
      first.output('CsvExampleGen', 'examples'), 'eval')))
  assert m['recall@1'] >= 5 * m['chance_recall@1'], m
  assert m['recall@10'] >= 2 * m['chance_recall@10'], m


def test_exported_model_alone_retrieves_from_raw_captions_and_images(runs):
  paths, _, (first, _) = runs
  eval_ids = set(_image_ids(first.output('CsvExampleGen', 'examples'), 'eval'))
  with open(os.path.join(paths['data_root'], 'captions.csv')) as f:
    rows = [r for r in csv.DictReader(f) if int(r['image_id']) in eval_ids]
  names = sorted({r['image_name'] for r in rows})
  model = tf.saved_model.load(
      os.path.join(first.output('Trainer', 'model'), 'Format-Serving'))
  image_bytes = [open(os.path.join(paths['images_root'], n), 'rb').read()
                 for n in names]
  images = model.signatures['embed_images'](
      image_bytes=tf.constant(image_bytes))['image_embedding'].numpy()
  examples = [tf.train.Example(features=tf.train.Features(feature={
      'caption': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[r['caption'].encode()]))})).SerializeToString() for r in rows]
  captions = model.signatures['embed_captions'](
      examples=tf.constant(examples))['caption_embedding'].numpy()
  scores = captions @ images.T
  truth = np.array([names.index(r['image_name']) for r in rows])
  top5 = np.argsort(-scores, axis=1)[:, :5]
  recall5 = np.mean([t in row for t, row in zip(truth, top5)])
  assert recall5 >= 3 * 5 / len(names), recall5
