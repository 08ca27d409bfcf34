"""TFX module file for the COCO captions pipeline: `preprocessing_fn` and `run_fn`.

Read top to bottom: feature names, `preprocessing_fn` (Transform), the input
pipeline, the dual-encoder model, retrieval evaluation, `run_fn` (Trainer) and
the serving signatures.

This file is self-contained on purpose: TFX packages it (with the other
top-level `.py` files beside it) into a wheel that Beam workers and Trainer
containers install, so it must not import the `coco_captions` package.
"""

import json
import os
from typing import Any, Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
# `tfx.v1.components.DataAccessor` and `FnArgs`, from where they are defined:
# `tfx.v1` would import TFX's Google Cloud extensions too (slow, unused).
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

# TFT is Keras 2 only; `tf_keras` is Keras 2 under TF 2.16.
import tf_keras as keras

# --- Feature names -----------------------------------------------------------

# Raw columns of the COCO captions CSV.
IMAGE_ID_KEY = 'image_id'
CAPTION_ID_KEY = 'id'
CAPTION_KEY = 'caption'
IMAGE_NAME_KEY = 'image_name'

# Transformed features.
CAPTION_TOKEN_IDS = 'caption_token_ids'
IMAGE_PIXELS = 'image_pixels'
IMAGE_ID = 'image_id'
CAPTION_ID = 'caption_id'
IMAGE_NAME = 'image_name'

CAPTION_VOCABULARY = 'caption_vocabulary'
# Token id 0 pads, 1..V are vocabulary entries (most frequent first), V+1.. OOV.
PAD_ID = 0
NUM_OOV_BUCKETS = 1

# Defaults; every one can be overridden through `custom_config`.
DEFAULT_IMAGE_SIZE = 64
DEFAULT_MAX_CAPTION_TOKENS = 32


def _config(custom_config: Optional[Dict[str, Any]], key: str, default: Any):
  if custom_config and custom_config.get(key) is not None:
    return custom_config[key]
  return default


# --- preprocessing_fn ----------------------------------------------------------


def _dense_column(x, default_value):
  """Returns a [batch] dense tensor for a one-value-per-row raw column."""
  if isinstance(x, tf.SparseTensor):
    x = tf.sparse.to_dense(x, default_value=default_value)
  if x.shape.rank == 2:
    x = tf.squeeze(x, axis=1)
  return x


def clean_captions(captions: tf.Tensor) -> tf.Tensor:
  """Lower-cases, strips punctuation and normalises whitespace.

  Apostrophes join their word ("man's" -> "mans"); any other character that is
  not a letter or a digit separates words.
  """
  text = tf.strings.lower(captions, encoding='utf-8')
  text = tf.strings.regex_replace(text, r"['\x{2019}]", '')
  text = tf.strings.regex_replace(text, r'[^\pL\pN]+', ' ')
  return tf.strings.strip(text)


# libjpeg's cheapest decoding scales: 1, 1/2, 1/4, 1/8 of each side.
_JPEG_SCALES = (1, 2, 4, 8)


def _decode_jpeg_scaled(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  """Decodes a JPEG at the smallest of libjpeg's scales still >= image_size.

  libjpeg decodes at 1/2, 1/4 or 1/8 of each side straight from the DCT
  coefficients: the inverse DCT, colour conversion and the resize after it
  work on a quarter, a sixteenth or a sixty-fourth of the pixels (reading the
  compressed data still costs what it did). A COCO image (640 x 480) is
  decoded at 1/4, 160 x 120, for 64-pixel images: 3.3 ms of CPU instead of
  5.6. Images smaller than twice `image_size` on their short side are decoded
  whole, as before.
  """
  shortest = tf.reduce_min(tf.image.extract_jpeg_shape(encoded)[:2])
  index = tf.constant(0)
  for i, scale in enumerate(_JPEG_SCALES[1:], start=1):
    index = tf.where(shortest // scale >= image_size, i, index)
  return tf.switch_case(index, [
      lambda scale=scale: tf.io.decode_jpeg(encoded, channels=3, ratio=scale)
      for scale in _JPEG_SCALES])


def _decode_and_resize_image(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  image = tf.cond(
      tf.io.is_jpeg(encoded),
      lambda: _decode_jpeg_scaled(encoded, image_size),
      lambda: tf.io.decode_image(encoded, channels=3, expand_animations=False))
  image = tf.image.resize(image, [image_size, image_size], antialias=True)
  # Back to whole 0..255 values: a quarter of float32's bytes to store.
  return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def decode_and_resize_images(image_bytes: tf.Tensor,
                             image_size: int) -> tf.Tensor:
  """Decodes JPEG/PNG bytes [batch] into uint8 [batch, size, size, 3].

  Shared by `preprocessing_fn` and the image serving signature, so training and
  serving see the same pixels; the model scales them to [0, 1] itself
  (`_image_tower`). Images have no analyzer state, so this is the whole of
  their transformation.
  """
  return tf.map_fn(
      lambda encoded: _decode_and_resize_image(encoded, image_size),
      image_bytes,
      fn_output_signature=tf.TensorSpec([image_size, image_size, 3],
                                        tf.uint8))


def _load_images(images_root: str, image_names: tf.Tensor,
                 image_size: int) -> tf.Tensor:
  """Reads, decodes and resizes `images_root/image_name` for each row.

  Returns [batch] strings, each one image's uint8 [size, size, 3] pixels as
  `tf.io.serialize_tensor` writes them (`parse_pixels` reads them back).

  An empty name gives a black image without touching storage: the caption
  serving signature feeds the Transform graph no image, and TFT fills the
  missing column with ''. In pipeline data the schema requires a name.
  """
  root = images_root.rstrip('/')

  def _one(name):
    return tf.io.serialize_tensor(tf.cond(
        tf.strings.length(name) > 0,
        lambda: _decode_and_resize_image(
            tf.io.read_file(tf.strings.join([root, name], separator='/')),
            image_size),
        lambda: tf.zeros([image_size, image_size, 3], tf.uint8)))

  return tf.map_fn(
      _one, image_names, fn_output_signature=tf.TensorSpec([], tf.string))


def parse_pixels(serialized: tf.Tensor, image_size: int) -> tf.Tensor:
  """uint8 [batch, size, size, 3] from the transformed `image_pixels` strings.

  Fails with a message naming both sizes if Transform stored the images at
  another size than `image_size` (the Trainer's `custom_config`).
  """

  def _one(row):
    pixels = tf.io.parse_tensor(row, tf.uint8)
    same_size = tf.debugging.assert_equal(
        tf.shape(pixels), tf.constant([image_size, image_size, 3]),
        message=(f'image_pixels were stored by Transform at another size '
                 f'than the image_size {image_size} the model is built for; '
                 "give the Trainer's custom_config the image_size of "
                 "Transform's (stored [height, width, channels] follows)"),
        summarize=3)
    with tf.control_dependencies([same_size]):
      return tf.ensure_shape(pixels, [image_size, image_size, 3])

  return tf.map_fn(
      _one, tf.reshape(serialized, [-1]),
      fn_output_signature=tf.TensorSpec([image_size, image_size, 3],
                                        tf.uint8))


def preprocessing_fn(inputs: Dict[str, Any],
                     custom_config: Optional[Dict[str, Any]] = None):
  """Transforms raw CSV columns into model features.

  Args:
    inputs: raw features parsed with the pipeline schema: `image_id`, `id`,
      `caption`, `image_name` (other COCO columns are ignored).
    custom_config: `images_root` (required: directory or URI that
      `image_name` is relative to), optional `image_size` and
      `max_caption_tokens`.

  Returns:
    `caption_token_ids`: int64 SparseTensor of dense shape [batch, L], where L
      is the longest cleaned caption of the analysed data (an analyzer), capped
      at `max_caption_tokens`; densify with 0 as padding.
    `image_pixels`: string [batch], each image's uint8 [size, size, 3]
      pixels serialized with `tf.io.serialize_tensor` (read them with
      `parse_pixels`). One byte a pixel value: as int64 values or floats,
      encoding, sizing and gzipping them was most of Transform's time. The
      model scales them to [0, 1] itself.
    `image_id`, `caption_id`, `image_name`: passed through for evaluation.
  """
  images_root = _config(custom_config, 'images_root', None)
  if not images_root:
    raise ValueError(
        "preprocessing_fn needs custom_config['images_root']: the directory "
        'that the image_name column is relative to.')
  image_size = int(_config(custom_config, 'image_size', DEFAULT_IMAGE_SIZE))
  max_tokens = int(
      _config(custom_config, 'max_caption_tokens', DEFAULT_MAX_CAPTION_TOKENS))

  captions = _dense_column(inputs[CAPTION_KEY], b'')
  tokens = tf.strings.split(clean_captions(captions)).to_sparse()

  # The vocabulary and the caption length L both come from one full pass over
  # the data. Keep them in one analysis phase: a second phase (an analyzer fed
  # by another's result) breaks TFX 1.16's Transform under Beam >= 2.63.
  vocab_ids = tft.compute_and_apply_vocabulary(
      tokens,
      num_oov_buckets=NUM_OOV_BUCKETS,
      vocab_filename=CAPTION_VOCABULARY)
  token_counts = tf.math.bincount(
      tf.cast(tokens.indices[:, 0], tf.int32),
      minlength=tf.cast(tokens.dense_shape[0], tf.int32),
      dtype=tf.int64)
  # The cap keeps one run-on caption from inflating every example.
  caption_length = tf.minimum(tft.max(token_counts), max_tokens)
  token_ids = tf.sparse.retain(
      tf.SparseTensor(tokens.indices, vocab_ids.values + 1, tokens.dense_shape),
      tokens.indices[:, 1] < caption_length)
  tft.experimental.annotate_sparse_output_shape(
      token_ids, tf.reshape(caption_length, [1]))

  image_names = _dense_column(inputs[IMAGE_NAME_KEY], b'')

  return {
      CAPTION_TOKEN_IDS: token_ids,
      IMAGE_PIXELS: _load_images(images_root, image_names, image_size),
      IMAGE_ID: _dense_column(inputs[IMAGE_ID_KEY], -1),
      CAPTION_ID: _dense_column(inputs[CAPTION_ID_KEY], -1),
      IMAGE_NAME: image_names,
  }


# --- Input pipeline -------------------------------------------------------------


def caption_length(tf_transform_output: tft.TFTransformOutput) -> int:
  """The analyzer-derived caption length L recorded in the transformed schema."""
  spec = tf_transform_output.transformed_feature_spec()[CAPTION_TOKEN_IDS]
  return int(spec.size[0] if isinstance(spec.size, (list, tuple)) else spec.size)


def vocabulary_size(tf_transform_output: tft.TFTransformOutput) -> int:
  """Number of distinct token ids, padding and OOV buckets included."""
  return (tf_transform_output.vocabulary_size_by_name(CAPTION_VOCABULARY) + 1 +
          NUM_OOV_BUCKETS)


def dense_token_ids(token_ids, length: int) -> tf.Tensor:
  """[batch, L] token ids, 0-padded, from the transformed sparse feature."""
  if isinstance(token_ids, tf.SparseTensor):
    token_ids = tf.sparse.to_dense(token_ids, default_value=PAD_ID)
  return tf.reshape(token_ids, [-1, length])


def model_inputs(features: Dict[str, Any], length: int,
                 size: int) -> Dict[str, tf.Tensor]:
  """The tensors the model consumes, from transformed features."""
  return {
      CAPTION_TOKEN_IDS: dense_token_ids(features[CAPTION_TOKEN_IDS], length),
      IMAGE_PIXELS: parse_pixels(features[IMAGE_PIXELS], size),
  }


def _input_fn(file_pattern: List[str],
              data_accessor: DataAccessor,
              tf_transform_output: tft.TFTransformOutput,
              batch_size: int,
              size: int,
              shuffle: bool = True,
              num_epochs: Optional[int] = None,
              seed: Optional[int] = None) -> tf.data.Dataset:
  """Batches of (model inputs, image ids) from transformed TFRecords."""
  length = caption_length(tf_transform_output)
  dataset = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, shuffle=shuffle, shuffle_seed=seed,
          num_epochs=num_epochs),
      tf_transform_output.transformed_metadata.schema)
  return dataset.map(
      lambda f: (model_inputs(f, length, size),
                 tf.reshape(f[IMAGE_ID], [-1])),
      num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# --- Model ------------------------------------------------------------------------


def _image_tower(size: int, embedding_dim: int) -> keras.Model:
  pixels = keras.Input(shape=(size, size, 3), dtype=tf.uint8,
                       name=IMAGE_PIXELS)
  # Scaling to [0, 1] here, inside the model, serves training and the
  # `embed_images` signature alike: both feed it uint8 pixels.
  x = keras.layers.Rescaling(1 / 255)(pixels)
  # Small shifts (training only) stop the tower from memorising training
  # images pixel by pixel; they are too small to move an object across the
  # left/center/right boundaries that captions talk about.
  x = keras.layers.RandomTranslation(0.05, 0.05, fill_mode='nearest')(x)
  # A strided first layer keeps the CPU cost of a step low.
  x = keras.layers.Conv2D(32, 5, strides=2, padding='same',
                          activation='relu')(x)
  x = keras.layers.MaxPooling2D()(x)
  for filters in (64, 128):
    x = keras.layers.Conv2D(filters, 3, padding='same', activation='relu')(x)
    x = keras.layers.MaxPooling2D()(x)
  # Flatten keeps where things are; captions talk about positions.
  x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(x))
  x = keras.layers.Dense(256, activation='relu')(x)
  x = keras.layers.Dense(embedding_dim)(x)
  return keras.Model(pixels, x, name='image_tower')


def _caption_tower(vocab_size: int, length: int,
                   embedding_dim: int) -> keras.Model:
  token_ids = keras.Input(shape=(length,), dtype=tf.int64,
                          name=CAPTION_TOKEN_IDS)
  not_padding = tf.cast(tf.not_equal(token_ids, PAD_ID), tf.float32)[..., None]
  x = keras.layers.Embedding(vocab_size, 64)(token_ids) * not_padding
  # Two convolutions see five words: enough to bind "a blue disc in the
  # bottom" together, and far cheaper on a CPU than a recurrent layer.
  for _ in range(2):
    x = keras.layers.Conv1D(128, 3, padding='same', activation='relu')(x)
    x = x * not_padding
  x = keras.layers.Dropout(0.3)(keras.layers.GlobalMaxPooling1D()(x))
  x = keras.layers.Dense(256, activation='relu')(x)
  x = keras.layers.Dense(embedding_dim)(x)
  return keras.Model(token_ids, x, name='caption_tower')


class DualEncoder(keras.Model):
  """Image and caption towers trained with a symmetric contrastive loss.

  Every other pair in the batch is a negative, except captions of the same
  image, which count as positives too.
  """

  def __init__(self, image_tower, caption_tower, **kwargs):
    super().__init__(**kwargs)
    self.image_tower = image_tower
    self.caption_tower = caption_tower
    # Learnable temperature, CLIP-style, starting at 1/0.07.
    self.logit_scale = tf.Variable(np.log(1 / 0.07), dtype=tf.float32,
                                   trainable=True, name='logit_scale')
    self.loss_tracker = keras.metrics.Mean(name='loss')

  @property
  def metrics(self):
    return [self.loss_tracker]

  def embed_images(self, pixels, training=False):
    return tf.math.l2_normalize(self.image_tower(pixels, training=training), -1)

  def embed_captions(self, token_ids, training=False):
    return tf.math.l2_normalize(
        self.caption_tower(token_ids, training=training), -1)

  def call(self, inputs, training=False):
    return (self.embed_images(inputs[IMAGE_PIXELS], training),
            self.embed_captions(inputs[CAPTION_TOKEN_IDS], training))

  def _loss(self, inputs, image_ids, training):
    image_emb, caption_emb = self(inputs, training=training)
    scale = tf.exp(tf.minimum(self.logit_scale, np.log(100.0)))
    logits = scale * tf.matmul(caption_emb, image_emb, transpose_b=True)
    same_image = tf.cast(
        tf.equal(image_ids[:, None], image_ids[None, :]), tf.float32)
    targets = same_image / tf.reduce_sum(same_image, axis=1, keepdims=True)
    text_to_image = keras.losses.categorical_crossentropy(
        targets, logits, from_logits=True)
    image_to_text = keras.losses.categorical_crossentropy(
        targets, tf.transpose(logits), from_logits=True)
    return tf.reduce_mean(text_to_image + image_to_text) / 2

  # Keras traces these into graphs with AutoGraph, which would rewrite every
  # tf_keras layer's source on the way (AutoGraph skips `keras` but not
  # `tf_keras`): about 18 s of the first step on a CPU. They have no
  # tensor-dependent Python control flow, so plain tracing is the same graph.
  @tf.autograph.experimental.do_not_convert
  def train_step(self, data):
    inputs, image_ids = data
    with tf.GradientTape() as tape:
      loss = self._loss(inputs, image_ids, training=True)
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    self.loss_tracker.update_state(loss)
    return {'loss': self.loss_tracker.result()}

  @tf.autograph.experimental.do_not_convert
  def test_step(self, data):
    inputs, image_ids = data
    self.loss_tracker.update_state(self._loss(inputs, image_ids, False))
    return {'loss': self.loss_tracker.result()}


def build_model(vocab_size: int, length: int, size: int,
                embedding_dim: int, learning_rate: float,
                steps_per_execution: int = 10) -> DualEncoder:
  model = DualEncoder(
      _image_tower(size, embedding_dim),
      _caption_tower(vocab_size, length, embedding_dim))
  # Several steps per call of the traced train function: Keras' per-step
  # Python work (callbacks, logs) was ~10% of a step on a CPU. The steps are
  # the same (on the bundled data: the same training losses and recall).
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                steps_per_execution=steps_per_execution)
  # Adam's slot variables, created now rather than by the first train step:
  # a traced function that creates variables is traced a second time for
  # the calls after its first, ~2 s of a CPU Trainer. Same zeros either way.
  model.optimizer.build(model.trainable_variables)
  return model


# --- Retrieval evaluation -------------------------------------------------------


def retrieval_metrics(caption_embeddings: np.ndarray,
                      caption_image_ids: np.ndarray,
                      image_embeddings: np.ndarray,
                      image_ids: np.ndarray,
                      ks=(1, 5, 10)) -> Dict[str, float]:
  """Text-to-image recall@K: how often a caption's own image ranks in the top K.

  Args:
    caption_embeddings: [num_captions, dim], L2-normalised.
    caption_image_ids: [num_captions] the image each caption describes.
    image_embeddings: [num_images, dim], L2-normalised: the candidate pool.
    image_ids: [num_images] unique ids of the candidates.

  Returns:
    `recall@K` and `chance_recall@K` (K / number of candidates) for each K,
    `num_candidates` and `num_queries`.
  """
  scores = caption_embeddings @ image_embeddings.T
  true_index = {image_id: i for i, image_id in enumerate(image_ids)}
  true_columns = np.array([true_index[i] for i in caption_image_ids])
  true_scores = scores[np.arange(len(scores)), true_columns]
  # Rank = how many candidates score strictly higher than the true image.
  ranks = (scores > true_scores[:, None]).sum(axis=1)
  metrics = {
      'num_candidates': int(len(image_ids)),
      'num_queries': int(len(caption_image_ids)),
  }
  for k in ks:
    metrics[f'recall@{k}'] = float(np.mean(ranks < k))
    metrics[f'chance_recall@{k}'] = float(min(k, len(image_ids)) / len(image_ids))
  return metrics


def evaluate_retrieval(model: DualEncoder, dataset: tf.data.Dataset,
                       max_images: int) -> Dict[str, float]:
  """Text-to-image recall@K over the distinct images of `dataset`.

  The candidate pool is the first `max_images` distinct images; every caption
  of those images is a query.
  """
  captions, caption_image_ids, images, image_ids = [], [], [], []
  seen = set()
  for inputs, batch_image_ids in dataset:
    keep = []
    for row, image_id in enumerate(batch_image_ids.numpy()):
      if image_id not in seen and len(seen) < max_images:
        seen.add(image_id)
        image_ids.append(image_id)
        keep.append(row)
    if keep:
      images.append(model.embed_images(
          tf.gather(inputs[IMAGE_PIXELS], keep)).numpy())
    in_pool = [row for row, image_id in enumerate(batch_image_ids.numpy())
               if image_id in seen]
    if in_pool:
      captions.append(model.embed_captions(
          tf.gather(inputs[CAPTION_TOKEN_IDS], in_pool)).numpy())
      caption_image_ids.extend(batch_image_ids.numpy()[in_pool])
  if not image_ids:
    raise ValueError('The eval split is empty: no images to retrieve.')
  return retrieval_metrics(
      np.concatenate(captions), np.array(caption_image_ids),
      np.concatenate(images), np.array(image_ids))


# --- run_fn -------------------------------------------------------------------------

RETRIEVAL_METRICS_FILE = 'retrieval_metrics.json'


def run_fn(fn_args: FnArgs):
  """Trains the dual encoder and exports it with the Transform graph inside.

  Hyper-parameters come from `fn_args.custom_config`: `batch_size`,
  `embedding_dim`, `learning_rate`, `retrieval_max_images`, `seed` (weights
  and shuffling; the same seed and data give the same model), and
  `image_size`, which must be the size Transform stored the images at. Writes
  TensorBoard logs and `retrieval_metrics.json` to `fn_args.model_run_dir`
  and the SavedModel to `fn_args.serving_model_dir`.
  """
  config = fn_args.custom_config or {}
  batch_size = int(config.get('batch_size', 64))
  seed = int(config.get('seed', 0))
  size = int(config.get('image_size', DEFAULT_IMAGE_SIZE))
  keras.utils.set_random_seed(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  train_dataset = _input_fn(fn_args.train_files, fn_args.data_accessor,
                            tf_transform_output, batch_size, size, seed=seed)
  eval_dataset = _input_fn(fn_args.eval_files, fn_args.data_accessor,
                           tf_transform_output, batch_size, size, seed=seed)

  model = build_model(
      vocab_size=vocabulary_size(tf_transform_output),
      length=caption_length(tf_transform_output),
      size=size,
      embedding_dim=int(config.get('embedding_dim', 128)),
      learning_rate=float(config.get('learning_rate', 1e-3)))

  tensorboard = keras.callbacks.TensorBoard(
      log_dir=fn_args.model_run_dir, update_freq='epoch')
  # Several short epochs, so the loss curves have points to plot.
  epochs = max(1, min(10, fn_args.train_steps // 10))
  history = model.fit(
      train_dataset,
      epochs=epochs,
      steps_per_epoch=max(1, fn_args.train_steps // epochs),
      validation_data=eval_dataset,
      validation_steps=max(1, fn_args.eval_steps),
      callbacks=[tensorboard],
      verbose=2)

  metrics = evaluate_retrieval(
      model,
      _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                batch_size, size, shuffle=False, num_epochs=1),
      max_images=int(config.get('retrieval_max_images', 1000)))
  metrics['train_loss'] = float(history.history['loss'][-1])
  metrics['eval_loss'] = float(history.history['val_loss'][-1])
  logging.info('Text-to-image retrieval on the eval split: %s', metrics)

  writer = tf.summary.create_file_writer(
      os.path.join(fn_args.model_run_dir, 'retrieval'))
  with writer.as_default():
    for name, value in metrics.items():
      tf.summary.scalar(name, value, step=fn_args.train_steps)
  with tf.io.gfile.GFile(
      os.path.join(fn_args.model_run_dir, RETRIEVAL_METRICS_FILE), 'w') as f:
    json.dump(metrics, f, indent=2, sort_keys=True)

  signatures = make_serving_signatures(model, tf_transform_output)
  # The signatures are the interface (query, evaluator and TF Serving load
  # the SavedModel with TensorFlow alone). save_traces=False skips tracing
  # every layer's call again for Keras' own reloading, which would push each
  # tf_keras layer through AutoGraph (~11 s here).
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=signatures, save_traces=False)


# --- Serving signatures -----------------------------------------------------------


def make_serving_signatures(model: DualEncoder,
                            tf_transform_output: tft.TFTransformOutput):
  """Signatures that take raw input and apply the Transform graph themselves.

  `embed_captions` (also `serving_default`): serialized tf.Examples with a
  `caption` feature -> `caption_embedding` [batch, dim].
  `embed_images`: encoded JPEG/PNG bytes -> `image_embedding` [batch, dim].
  Embeddings are L2-normalised: a dot product is the cosine similarity.
  """
  # Tracked as an attribute so the Transform graph and its vocabulary asset
  # are saved with the model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  caption_spec = {CAPTION_KEY: tf_transform_output.raw_feature_spec()[CAPTION_KEY]}
  length = caption_length(tf_transform_output)
  # The size the image tower was built for.
  size = int(model.image_tower.input_shape[1])

  # autograph=False: as for train_step, AutoGraph would rewrite every
  # tf_keras layer on the way (~12 s of the export), and nothing here branches
  # on a tensor.
  @tf.function(input_signature=[
      tf.TensorSpec(shape=[None], dtype=tf.string, name='examples')
  ], autograph=False)
  def embed_captions(serialized_examples):
    raw = tf.io.parse_example(serialized_examples, caption_spec)
    token_ids = dense_token_ids(model.tft_layer(raw)[CAPTION_TOKEN_IDS], length)
    return {'caption_embedding': model.embed_captions(token_ids)}

  @tf.function(input_signature=[
      tf.TensorSpec(shape=[None], dtype=tf.string, name='image_bytes')
  ], autograph=False)
  def embed_images(image_bytes):
    pixels = decode_and_resize_images(image_bytes, size)
    return {'image_embedding': model.embed_images(pixels)}

  return {
      'serving_default': embed_captions.get_concrete_function(),
      'embed_captions': embed_captions.get_concrete_function(),
      'embed_images': embed_images.get_concrete_function(),
  }
