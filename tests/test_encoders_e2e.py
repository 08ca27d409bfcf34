"""The real pipeline with a pretrained-architecture image encoder.

create_pipeline with MobileNetV2 at 48 px (its weights from a file written
here: these machines cannot download ImageNet's), run by LocalDagRunner on 40
generated images; the pushed model answers on raw image bytes and the query
command works on it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from coco_captions.data import synthetic_data
from coco_captions.pipeline import configs, pipeline
from coco_captions.reporting import run_record, run_summary

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 48
IMAGES = 40


@pytest.fixture(scope='module')
def encoder_run(tmp_path_factory):
  """(paths, the run's summary) of one run with MobileNetV2 fine-tuned."""
  import tf_keras as keras
  from tfx.orchestration import metadata
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner

  base = tmp_path_factory.mktemp('encoder_e2e')
  data_root = str(base / 'data')
  synthetic_data.generate(data_root, IMAGES, seed=2)
  keras.utils.set_random_seed(4)
  weights = str(base / 'mobilenet_v2_notop.h5')
  keras.applications.MobileNetV2(
      include_top=False, weights=None, input_shape=(SIZE, SIZE, 3),
      pooling='avg').save_weights(weights)
  paths = {
      'data_root': data_root,
      'images_root': os.path.join(data_root, 'images'),
      'metadata_path': str(base / 'mlmd.sqlite'),
      'serving_model_dir': str(base / 'serving'),
      'weights': weights,
  }
  LocalDagRunner().run(pipeline.create_pipeline(
      pipeline_name='encoders_e2e',
      pipeline_root=str(base / 'pipeline'),
      data_root=data_root,
      images_root=paths['images_root'],
      module_file=configs.MODULE_FILE,
      serving_model_dir=paths['serving_model_dir'],
      train_steps=30,
      metadata_connection_config=metadata.sqlite_metadata_connection_config(
          paths['metadata_path']),
      image_config={'image_encoder': 'mobilenet_v2', 'image_size': SIZE},
      trainer_config={'image_encoder_weights': weights,
                      'fine_tune_layers': 10, 'batch_size': 16},
      # Judged on nothing: the point is the export, not the quality of
      # random features.
      blessing_threshold=0.0, blessing_significance=1.0))
  return paths, run_record.read_run(paths['metadata_path'],
                                          'encoders_e2e')


def test_transform_stores_images_at_the_encoders_size(encoder_run):
  import tensorflow as tf
  _, summary = encoder_run
  files = tf.io.gfile.glob(os.path.join(
      summary.output('Transform', 'transformed_examples'), 'Split-train',
      '*.gz'))
  record = next(iter(tf.data.TFRecordDataset(files, compression_type='GZIP')))
  feature = tf.train.Example.FromString(record.numpy()).features.feature
  pixels = tf.io.decode_png(feature['image_pixels'].bytes_list.value[0])
  assert pixels.shape == (SIZE, SIZE, 3)


def test_the_trainer_records_its_encoder_and_phases(encoder_run):
  paths, summary = encoder_run
  t = summary.training
  assert t['image_encoder'] == 'mobilenet_v2'
  assert t['image_encoder_weights'] == paths['weights']
  assert t['image_size'] == SIZE and t['fine_tune_layers'] == 10
  assert [p['phase'] for p in t['phases']] == ['heads', 'fine_tune']
  assert sum(p['steps'] for p in t['phases']) == t['steps'] == 30
  assert t['phases'][1]['trainable_encoder_layers']
  assert summary.pushed['pushed'] == 1
  # The run's summary, as the CLI prints it, says the same.
  text = run_summary.render(summary, paths['metadata_path'])
  assert (f'Image encoder: mobilenet_v2 at {SIZE} px, weights '
          f'{paths["weights"]}') in text
  assert '  heads: epochs 0 to ' in text
  assert '  fine_tune: epochs ' in text
  assert 'frozen: the mobilenet_v2 encoder below its top 10 layers' in text


def test_the_pushed_model_answers_on_raw_image_bytes(encoder_run):
  import tensorflow as tf
  paths, _ = encoder_run
  (version,) = os.listdir(paths['serving_model_dir'])
  loaded = tf.saved_model.load(
      os.path.join(paths['serving_model_dir'], version))
  # JPEG and PNG of another size than 48 px: the signature decodes and
  # resizes, the model applies MobileNetV2's own scaling.
  found = sorted(os.listdir(paths['images_root']))
  names = ([n for n in found if n.endswith('.jpg')][:2] +
           [n for n in found if n.endswith('.png')][:2])
  assert len(names) == 4
  out = loaded.signatures['embed_images'](image_bytes=tf.constant(
      [open(os.path.join(paths['images_root'], n), 'rb').read()
       for n in names]))['image_embedding'].numpy()
  assert out.shape == (4, 128)
  np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
  assert np.ptp(out, axis=0).max() > 0  # Not one embedding for every image.


def test_the_query_command_works_on_it(encoder_run):
  paths, _ = encoder_run
  image = os.path.join(paths['images_root'],
                       sorted(os.listdir(paths['images_root']))[0])
  result = subprocess.run(
      [sys.executable, '-m', 'coco_captions.serving.query',
       '--model', paths['serving_model_dir'], '--json', '--top_k', '3',
       '--images_root', paths['images_root'],
       '--caption', 'a red circle on the left',
       '--captions_csv', os.path.join(paths['data_root'], 'captions.csv'),
       '--image', image],
      cwd=ROOT, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads(result.stdout)['results']
  assert len(results) == 2
  by_caption, by_image = results
  assert len(by_caption['images']) == 3
  assert all(os.path.isfile(os.path.join(paths['images_root'], name))
             for name, _ in by_caption['images'])
  assert len(by_image['captions']) == 3
