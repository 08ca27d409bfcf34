"""run_fn on a tiny transformed set: training, metrics, and the exported model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import coco_captions_utils as module


@pytest.fixture(scope='module')
def trained(tiny_model):
  return tiny_model


@pytest.fixture(scope='module')
def serving(trained):
  fn_args, _ = trained
  return tf.saved_model.load(fn_args.serving_model_dir)


def _caption_examples(captions):
  return tf.constant([
      tf.train.Example(features=tf.train.Features(feature={
          'caption': tf.train.Feature(
              bytes_list=tf.train.BytesList(value=[c.encode()]))
      })).SerializeToString() for c in captions
  ])


def test_writes_retrieval_metrics_with_chance_rates(trained):
  fn_args, _ = trained
  with open(os.path.join(fn_args.model_run_dir, 'retrieval_metrics.json')) as f:
    metrics = json.load(f)
  # Images 5, 10, 15 and 20 are the eval split; each has five captions.
  assert metrics['num_candidates'] == 4
  assert metrics['num_queries'] == 20
  assert metrics['chance_recall@1'] == pytest.approx(0.25)
  assert metrics['chance_recall@5'] == 1.0
  assert metrics['recall@5'] == 1.0  # Only 4 candidates: all are in the top 5.
  assert 0.0 <= metrics['recall@1'] <= 1.0
  assert np.isfinite(metrics['train_loss']) and np.isfinite(metrics['eval_loss'])


def test_writes_tensorboard_logs(trained):
  fn_args, _ = trained
  events = tf.io.gfile.glob(
      os.path.join(fn_args.model_run_dir, '**', 'events.out.tfevents.*'))
  assert events, f'no TensorBoard event files under {fn_args.model_run_dir}'


def test_export_has_the_three_signatures(serving):
  assert set(serving.signatures) == {
      'serving_default', 'embed_captions', 'embed_images'}


def test_caption_signature_takes_raw_serialized_examples(serving):
  examples = _caption_examples([
      'A red circle and a blue square.',
      'a RED circle,  and a blue square',  # Same words after cleaning.
      'Zebras never appear in this vocabulary',
  ])
  out = serving.signatures['embed_captions'](examples=examples)
  embeddings = out['caption_embedding'].numpy()
  assert embeddings.shape == (3, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
  # The Transform graph inside cleans the text: same tokens, same embedding.
  np.testing.assert_allclose(embeddings[0], embeddings[1], atol=1e-6)
  default = serving.signatures['serving_default'](examples=examples)
  np.testing.assert_allclose(default['caption_embedding'], embeddings)


def test_caption_signature_accepts_captions_longer_than_training(serving):
  out = serving.signatures['embed_captions'](
      examples=_caption_examples([' '.join(['red circle'] * 40)]))
  assert out['caption_embedding'].shape == (1, 16)


def test_image_signature_takes_encoded_jpeg_and_png(serving, trained):
  _, data_dir = trained
  images_dir = os.path.join(data_dir, 'images')
  names = sorted(os.listdir(images_dir))[:5]
  assert {n.rsplit('.', 1)[1] for n in names} == {'jpg', 'png'}
  image_bytes = [open(os.path.join(images_dir, n), 'rb').read() for n in names]
  out = serving.signatures['embed_images'](image_bytes=tf.constant(image_bytes))
  embeddings = out['image_embedding'].numpy()
  assert embeddings.shape == (5, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_retrieval_metrics_ranks_by_similarity():
  # Two candidates; caption 0 matches image 10, caption 1 is closer to the
  # wrong image, caption 2 ties and a tie counts in the caption's favour.
  images = np.array([[1.0, 0.0], [0.0, 1.0]])
  captions = np.array([[0.9, 0.1], [0.8, 0.2], [0.5, 0.5]])
  metrics = module.retrieval_metrics(
      captions, np.array([10, 20, 20]), images, np.array([10, 20]), ks=(1, 2))
  assert metrics['recall@1'] == pytest.approx(2 / 3)
  assert metrics['recall@2'] == 1.0
  assert metrics['chance_recall@1'] == 0.5
  assert metrics['num_candidates'] == 2 and metrics['num_queries'] == 3


def test_train_function_is_traced_once():
  # A train step that creates variables (Adam's slots, lazily) makes
  # tf.function trace the train function again for every later call.
  model = module.build_model(vocab_size=20, length=4, size=16,
                             embedding_dim=8, learning_rate=1e-3,
                             steps_per_execution=2)
  inputs = {
      module.IMAGE_PIXELS: tf.zeros([4, 16, 16, 3], tf.uint8),
      module.CAPTION_TOKEN_IDS: tf.ones([4, 4], tf.int64),
  }
  dataset = tf.data.Dataset.from_tensors(
      (inputs, tf.constant([1, 1, 2, 3], tf.int64))).repeat()
  model.fit(dataset, epochs=2, steps_per_epoch=4, verbose=0)
  assert model.train_function.experimental_get_tracing_count() == 1
