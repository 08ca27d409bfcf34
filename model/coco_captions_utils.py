"""TFX module file for the COCO captions pipeline: `preprocessing_fn` and `run_fn`.

Read top to bottom, as TFX's penguin example: imports and feature names,
settings, `preprocessing_fn` (Transform), the input pipeline, `run_fn`
(Trainer) and the serving signatures. The model itself (towers, loss,
optimiser) is `coco_captions_model.py` beside this file; the settings'
defaults are `coco_captions_hparams.DEFAULTS`.

Transform reads one example per image (GroupCaptionsByImage's output, which
decoded the image once with `encode_pixels` as it checked it) and tokenises
every caption of it beside its pixels. The Trainer draws one caption of each
image per step, a different one each epoch; the RetrievalEvaluator measures
the exported model through its signatures.

TFX packages this file and the `.py` files beside it into a user-code wheel
and fingerprints them: an edit here re-runs Transform and the Trainer. The
feature names come from the installed package (`coco_captions.features`),
whose digest `create_pipeline` passes on instead.

What other code calls here, and nothing else is public to it:
  GroupCaptionsByImage (coco_captions/pipeline/grouping.py) loads this file
    from the wheel and calls `encode_pixels(image_bytes, image_size)` to
    store each image, and `image_encoder_settings(config,
    for_model=False).image_size` for the size when the pipeline sets none.
  The Dockerfile's IMAGE_ENCODERS step calls `image_encoder_settings` and
    `coco_captions_model.keras_application` to download weights.
  benchmarks/baselines.py and the tests call the public functions below.
"""

import json
import math
import os
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
# `tfx.v1.components.DataAccessor` and `FnArgs`, from where they are defined:
# `tfx.v1` would import TFX's Google Cloud extensions too (slow, unused).
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

# TFT is Keras 2 only; `tf_keras` is Keras 2 under TF 2.16.
import tf_keras as keras

from coco_captions.features import (CAPTION, CAPTION_TOKEN_IDS,
                                    CAPTION_VOCABULARY, CAPTIONS, IMAGE_ID,
                                    IMAGE_NAME, IMAGE_PIXELS, PAD_ID)
from coco_captions.run.training_progress import TrainingProgress
# The encoders table, the hyper-parameters' defaults and the model, beside
# this file (TFX packages them with it).
import coco_captions_encoders as encoders
from coco_captions_hparams import DEFAULTS, MAX_EVALUATIONS
import coco_captions_model as model_lib
from coco_captions_model import DualEncoder, ImageEncoderSettings

# Token ids above the vocabulary's: words it does not hold.
_NUM_OOV_BUCKETS = 1

# --- Settings ----------------------------------------------------------------


def _config(custom_config: Optional[Dict[str, Any]], key: str):
  if custom_config and custom_config.get(key) is not None:
    return custom_config[key]
  return DEFAULTS[key]


def image_encoder_settings(custom_config: Optional[Dict[str, Any]],
                           for_model: bool = True) -> ImageEncoderSettings:
  """`image_encoder`, `image_encoder_weights`, `fine_tune_layers` and
  `image_size` from a custom_config, defaults filled in and checked (the size
  against the encoder's smallest only `for_model`: images are stored at any).

  Raises ValueError, one line naming each wrong setting.
  """
  config = custom_config or {}
  name = _config(config, 'image_encoder')
  errors = encoders.settings_errors(
      name, config.get('image_encoder_weights'),
      config.get('fine_tune_layers'), config.get('image_size'),
      check_files=False, for_model=for_model)
  if errors:
    raise ValueError('; '.join(errors))
  pretrained = encoders.is_pretrained(name)
  return ImageEncoderSettings(
      name=name,
      weights=_config(config, 'image_encoder_weights') if pretrained else None,
      fine_tune_layers=int(_config(config, 'fine_tune_layers')),
      image_size=encoders.image_size(name, config.get('image_size')))


# --- preprocessing_fn --------------------------------------------------------


def _dense_column(x, default_value):
  """Returns a [batch] dense tensor for a one-value-per-row raw column."""
  if isinstance(x, tf.SparseTensor):
    x = tf.sparse.to_dense(x, default_value=default_value)
  if x.shape.rank == 2:
    x = tf.squeeze(x, axis=1)
  return x


def clean_captions(captions: tf.Tensor) -> tf.Tensor:
  """Lower-cases, strips punctuation and normalises whitespace.

  Words are runs of letters, digits and combining marks (accents, Devanagari
  vowel signs, the dot of a lower-cased "İ"); apostrophes join their word
  ("man's" -> "mans"); any other character (punctuation, symbols such as
  emoji, control characters) separates words. Scripts written without spaces
  (Chinese, Japanese) give one word per run between separators. Captions
  arrive NFKC-normalised (coco_captions/text.py), which TensorFlow has no op
  for.
  """
  # Before lower(), which ends a string at its first NUL.
  text = tf.strings.regex_replace(captions, r'[\x00-\x1f\x7f]', ' ')
  text = tf.strings.lower(text, encoding='utf-8')
  text = tf.strings.regex_replace(text, r"['\x{2019}]", '')
  text = tf.strings.regex_replace(text, r'[^\pL\pN\pM]+', ' ')
  return tf.strings.strip(text)


# Images decoded side by side: enough to keep every core of a worker busy.
_PARALLEL_IMAGES = 64

# libjpeg's cheapest decoding scales: 1, 1/2, 1/4, 1/8 of each side.
_JPEG_SCALES = (1, 2, 4, 8)


def _decode_jpeg_scaled(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  """Decodes a JPEG at the smallest of libjpeg's scales still >= image_size.

  libjpeg decodes at 1/2, 1/4 or 1/8 of each side straight from the DCT
  coefficients: the inverse DCT, colour conversion and the resize after it
  work on a quarter, a sixteenth or a sixty-fourth of the pixels (reading the
  compressed data still costs what it did). A COCO image (640 x 480) is
  decoded at 1/4, 160 x 120, for 64-pixel images. Images smaller than twice
  `image_size` on their short side are decoded whole.
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

  Shared by `encode_pixels` (the training images) and the image serving
  signature, so training and serving see the same pixels; the model scales
  them to [0, 1] itself (`_image_tower`). Images have no analyzer state, so
  this is the whole of their transformation.
  """
  return tf.map_fn(
      lambda encoded: _decode_and_resize_image(encoded, image_size),
      image_bytes,
      fn_output_signature=tf.TensorSpec([image_size, image_size, 3],
                                        tf.uint8),
      parallel_iterations=_PARALLEL_IMAGES)


# zlib's fastest level: the examples are gzipped again on the way to disk,
# which would spend more time on raw pixels than the decoding does; stored
# sizes are within 2 %.
_PNG_COMPRESSION = 1


def encode_pixels(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
  """JPEG/PNG bytes [batch] -> the stored form of their pixels, [batch] strings.

  Each is `decode_and_resize_images`' uint8 [size, size, 3] pixels as a
  lossless PNG (`parse_pixels` reads them back). GroupCaptionsByImage stores
  every distinct image this way once, as it checks it; Transform passes the
  strings through.
  """

  def _one(encoded):
    return tf.io.encode_png(_decode_and_resize_image(encoded, image_size),
                            compression=_PNG_COMPRESSION)

  return tf.map_fn(_one, image_bytes,
                   fn_output_signature=tf.TensorSpec([], tf.string),
                   parallel_iterations=_PARALLEL_IMAGES)


def parse_pixels(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  """uint8 [batch, size, size, 3] from the transformed `image_pixels` PNGs.

  Fails with a message naming both sizes if the images were stored at
  another size than `image_size` (the Trainer's `custom_config`).
  """

  def _one(png):
    pixels = tf.io.decode_png(png, channels=3)
    same_size = tf.debugging.assert_equal(
        tf.shape(pixels), tf.constant([image_size, image_size, 3]),
        message=(f'image_pixels were stored at another size than the '
                 f'image_size {image_size} the model is built for; give '
                 "the Trainer's custom_config the image_size that "
                 'GroupCaptionsByImage stored them at (stored [height, '
                 'width, channels] follows)'),
        summarize=3)
    with tf.control_dependencies([same_size]):
      return tf.ensure_shape(pixels, [image_size, image_size, 3])

  return tf.map_fn(
      _one, tf.reshape(encoded, [-1]),
      fn_output_signature=tf.TensorSpec([image_size, image_size, 3],
                                        tf.uint8),
      parallel_iterations=_PARALLEL_IMAGES)


def _ragged_captions(x) -> tf.RaggedTensor:
  """[batch, (captions)] strings from the `captions` column."""
  if isinstance(x, tf.RaggedTensor):
    return x
  if isinstance(x, tf.SparseTensor):
    return tf.RaggedTensor.from_sparse(x)
  return tf.RaggedTensor.from_tensor(x)


def preprocessing_fn(inputs: Dict[str, Any],
                     custom_config: Optional[Dict[str, Any]] = None):
  """Transforms per-image examples into model features.

  Args:
    inputs: per-image features (GroupCaptionsByImage's output,
      `coco_captions.features.per_image_feature_spec`): `image_id`,
      `image_name`, `image_pixels` (the image, decoded, resized and stored
      once by GroupCaptionsByImage with `encode_pixels`), `captions` (every
      caption of the image) and `caption_ids`.
    custom_config: optional `max_caption_tokens`.

  Returns:
    `caption_token_ids`: int64 SparseTensor of dense shape [batch, C, L]: each
      caption's token ids, where C is the most captions of any analysed image
      and L the longest cleaned caption (capped at `max_caption_tokens`), both
      analyzers; densify with 0 as padding (`dense_token_ids`).
    `image_pixels`: string [batch], each image's uint8 [size, size, 3]
      pixels as a PNG (read them with `parse_pixels`); the model scales them
      to [0, 1] itself.
    `image_id`, `image_name`: passed through.
  """
  max_tokens = int(_config(custom_config, 'max_caption_tokens'))

  captions = _ragged_captions(inputs[CAPTIONS])
  # [batch, (captions), (tokens)]
  tokens = tf.strings.split(
      captions.with_flat_values(clean_captions(captions.flat_values)))

  # The vocabulary, L and C all come from one full pass over every caption.
  # Keep them in one analysis phase: a second phase (an analyzer fed by
  # another's result) breaks TFX 1.16's Transform under Beam >= 2.63.
  vocab_ids = tft.compute_and_apply_vocabulary(
      tokens.merge_dims(1, 2).to_sparse(),
      num_oov_buckets=_NUM_OOV_BUCKETS,
      vocab_filename=CAPTION_VOCABULARY)
  # The cap keeps one run-on caption from inflating every example.
  caption_length = tf.minimum(
      tft.max(tf.reduce_max(tokens.row_lengths(axis=2), axis=1)), max_tokens)
  max_captions = tft.max(captions.row_lengths())
  # merge_dims and to_sparse keep the tokens in order: the ids line up.
  token_ids = tokens.with_flat_values(vocab_ids.values + 1).to_sparse()
  token_ids = tf.sparse.retain(
      token_ids, (token_ids.indices[:, 1] < max_captions) &
      (token_ids.indices[:, 2] < caption_length))
  tft.experimental.annotate_sparse_output_shape(
      token_ids, tf.stack([max_captions, caption_length]))

  return {
      CAPTION_TOKEN_IDS: token_ids,
      # The caption serving signature feeds no image: TFT fills it with ''.
      IMAGE_PIXELS: _dense_column(inputs[IMAGE_PIXELS], b''),
      IMAGE_ID: _dense_column(inputs[IMAGE_ID], -1),
      IMAGE_NAME: _dense_column(inputs[IMAGE_NAME], b''),
  }


# --- Input pipeline ----------------------------------------------------------


def caption_length(tf_transform_output: tft.TFTransformOutput) -> int:
  """The analyzer-derived caption length L recorded in the transformed schema."""
  spec = tf_transform_output.transformed_feature_spec()[CAPTION_TOKEN_IDS]
  return int(spec.size[-1] if isinstance(spec.size, (list, tuple)) else spec.size)


def vocabulary_size(tf_transform_output: tft.TFTransformOutput) -> int:
  """Number of distinct token ids, padding and OOV buckets included."""
  return (tf_transform_output.vocabulary_size_by_name(CAPTION_VOCABULARY) + 1 +
          _NUM_OOV_BUCKETS)


def dense_token_ids(token_ids, length: int) -> tf.Tensor:
  """[batch, captions, L] token ids, 0-padded, from the sparse feature.

  Tokens past L are dropped; an image without captions gets one empty row.
  """
  if isinstance(token_ids, tf.RaggedTensor):
    token_ids = token_ids.to_sparse()
  kept = tf.sparse.retain(token_ids, token_ids.indices[:, 2] < length)
  shape = tf.stack([kept.dense_shape[0], tf.maximum(kept.dense_shape[1], 1),
                    tf.constant(length, tf.int64)])
  return tf.scatter_nd(kept.indices, kept.values, shape)


def pick_captions(token_ids: tf.Tensor, image_ids: tf.Tensor, epoch,
                  seed: int) -> tf.Tensor:
  """One caption of each image, [batch, captions, L] -> [batch, L].

  Image i gets its ((epoch + offset_i) mod n_i)-th non-empty caption, where
  n_i counts them and offset_i is a hash of the image id and `seed`: each
  epoch a different caption of every image with more than one, all of them in
  turn, and not the same index for every image at once.
  """
  present = tf.reduce_any(tf.not_equal(token_ids, PAD_ID), axis=2)
  count = tf.reduce_sum(tf.cast(present, tf.int64), axis=1)
  offset = tf.strings.to_hash_bucket_fast(
      tf.strings.join([tf.strings.as_string(image_ids), str(seed)], '/'),
      2**31 - 1)
  turn = (tf.cast(epoch, tf.int64) + offset) % tf.maximum(count, 1)
  rank = tf.cumsum(tf.cast(present, tf.int64), axis=1) - 1
  chosen = tf.argmax(
      tf.cast(present & tf.equal(rank, turn[:, None]), tf.int32), axis=1)
  return tf.gather(token_ids, chosen, batch_dims=1)


def model_inputs(transformed: Dict[str, Any], length: int, size: int, epoch,
                 seed: int) -> Dict[str, tf.Tensor]:
  """The tensors the model consumes, from a batch of transformed features."""
  image_ids = tf.reshape(transformed[IMAGE_ID], [-1])
  return {
      CAPTION_TOKEN_IDS: pick_captions(
          dense_token_ids(transformed[CAPTION_TOKEN_IDS], length), image_ids,
          epoch, seed),
      IMAGE_PIXELS: parse_pixels(transformed[IMAGE_PIXELS], size),
  }


def _count_examples(file_pattern: List[str]) -> int:
  """How many examples (images) the gzipped TFRecord files hold."""
  files = [f for pattern in file_pattern for f in tf.io.gfile.glob(pattern)]
  if not files:
    return 0
  return int(tf.data.TFRecordDataset(files, compression_type='GZIP').reduce(
      tf.constant(0, tf.int64), lambda n, _: n + 1))


def _input_fn(file_pattern: List[str],
              data_accessor: DataAccessor,
              tf_transform_output: tft.TFTransformOutput,
              batch_size: int,
              size: int,
              seed: int) -> tf.data.Dataset:
  """Endless batches of (model inputs, image ids), one pass an epoch.

  Each pass is shuffled and drops its last partial batch, so an epoch is
  exactly `number of images // batch_size` steps and every batch holds
  `batch_size` distinct images; the caption of each follows the pass number
  (`pick_captions`). Reads and decodes every image each pass
  (`_in_memory_input_fn` does it once).
  """
  length = caption_length(tf_transform_output)
  one_pass = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, shuffle=True, shuffle_seed=seed,
          num_epochs=1, drop_final_batch=True),
      tf_transform_output.transformed_metadata.schema)

  def epoch_batches(epoch):
    return one_pass.map(
        lambda f: (model_inputs(f, length, size, epoch, seed),
                   tf.reshape(f[IMAGE_ID], [-1])),
        num_parallel_calls=tf.data.AUTOTUNE)

  return tf.data.Dataset.counter().flat_map(epoch_batches).prefetch(
      tf.data.AUTOTUNE)


# Images parsed and decoded at once when filling the in-memory copy.
_DECODE_BATCH = 256


def _in_memory_input_fn(file_pattern: List[str],
                        data_accessor: DataAccessor,
                        tf_transform_output: tft.TFTransformOutput,
                        batch_size: int,
                        size: int,
                        seed: int,
                        images: int) -> tf.data.Dataset:
  """`_input_fn`'s batches, from the split's first `images` images (all of
  them, or fewer), read, parsed and decoded once in the first pass and kept
  in memory.

  Every pass is a new shuffle of all of them, its last partial batch
  dropped, and the caption of each image follows the pass number, as in
  `_input_fn`; the order differs from it.
  """
  length = caption_length(tf_transform_output)
  batch_size = min(batch_size, images)
  steps_per_pass = images // batch_size
  decoded = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=_DECODE_BATCH, shuffle=False,
                                     num_epochs=1),
      tf_transform_output.transformed_metadata.schema).map(
          lambda f: (tf.reshape(f[IMAGE_ID], [-1]),
                     dense_token_ids(f[CAPTION_TOKEN_IDS], length),
                     parse_pixels(f[IMAGE_PIXELS], size)),
          num_parallel_calls=tf.data.AUTOTUNE).unbatch().take(images).cache()
  # Each repetition reshuffles; a buffer of every image is a full shuffle.
  passes = decoded.shuffle(images, seed=seed,
                           reshuffle_each_iteration=True).padded_batch(
                               batch_size, drop_remainder=True).repeat()

  def model_batch(step, batch):
    image_ids, token_ids, pixels = batch
    inputs = {
        CAPTION_TOKEN_IDS: pick_captions(token_ids, image_ids,
                                         step // steps_per_pass, seed),
        IMAGE_PIXELS: pixels,
    }
    return inputs, image_ids

  return passes.enumerate().map(
      model_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
          tf.data.AUTOTUNE)


def _decoded_bytes(images: int, size: int, length: int) -> int:
  """About what `images` decoded images take in memory, five captions each."""
  return images * (size * size * 3 + 5 * length * 8 + 64)


def _available_memory() -> int:
  """Bytes this process can still take: the machine's available memory, or
  less where a cgroup (a container, a Kubernetes pod) limits it."""
  found = []
  try:
    with open('/proc/meminfo') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          found.append(int(line.split()[1]) * 1024)
  except OSError:
    pass
  for limit, usage in (('/sys/fs/cgroup/memory.max',
                        '/sys/fs/cgroup/memory.current'),
                       ('/sys/fs/cgroup/memory/memory.limit_in_bytes',
                        '/sys/fs/cgroup/memory/memory.usage_in_bytes')):
    try:
      with open(limit) as f, open(usage) as g:
        found.append(int(f.read().strip()) - int(g.read().strip()))
    except (OSError, ValueError):  # Absent, or 'max': no limit.
      continue
  if not found:
    pages = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    found.append(pages)
  return max(0, min(found))


# --- run_fn ------------------------------------------------------------------

_TRAINING_FILE = 'training.json'


# Keras runs this many steps per call of its traced train function, and a
# Keras epoch (a line of its log) is at least this long.
STEPS_PER_EXECUTION = 10


def _largest_divisor(number: int, at_most: int) -> int:
  """The largest divisor of `number` that is at most `at_most` (>= 1)."""
  return max(d for d in range(1, max(1, min(number, at_most)) + 1)
             if number % d == 0)


class TrainingPlan:
  """How long to train, from the size of the train split.

  An epoch is a pass over the train split's images: `steps_per_epoch` batches
  of `batch_size` distinct images; it is the only epoch the console, the
  report, training.json and TensorBoard speak of. Training runs exactly
  `train_epochs` epochs, or, given `train_steps`, exactly that many steps
  (`epochs` may then be a fraction). With `max_train_steps` (the default
  plan) it runs at most that many steps, in whole passes (one at least).
  With `min_train_steps` (the default
  plan, not an epoch count a user set), it runs at least that many steps.

  Keras sees `keras_epochs` epochs of `keras_steps_per_epoch` steps: one
  pass each, or several whole passes where a pass is shorter than
  STEPS_PER_EXECUTION steps, always dividing the length asked for.
  `total_steps` in all; `eval_epochs` are the Keras epochs after which the
  eval loss is measured (`epoch_at` converts).
  """

  def __init__(self, train_images: int, batch_size: int,
               train_epochs: int, train_steps: Optional[int] = None,
               min_train_steps: int = 0, max_train_steps: int = 0):
    if train_images < 2:
      raise ValueError(
          f'The train split has {train_images} image(s); contrastive '
          'training needs at least 2 distinct images a batch.')
    # A batch never holds an image twice, so it is at most the split.
    self.batch_size = min(batch_size, train_images)
    self.train_images = train_images
    self.steps_per_epoch = train_images // self.batch_size
    grouped = math.ceil(STEPS_PER_EXECUTION / self.steps_per_epoch)
    if train_steps:
      self.keras_steps_per_epoch = _largest_divisor(
          int(train_steps), max(self.steps_per_epoch, STEPS_PER_EXECUTION))
      self.keras_epochs = int(train_steps) // self.keras_steps_per_epoch
    else:
      passes = max(int(train_epochs),
                   math.ceil(min_train_steps / self.steps_per_epoch))
      if max_train_steps:
        passes = min(passes, max(1, max_train_steps // self.steps_per_epoch))
      if min_train_steps:  # A length of our choosing: rounded up.
        passes = math.ceil(passes / grouped) * grouped
      else:
        grouped = _largest_divisor(passes, grouped)
      self.keras_epochs = passes // grouped
      self.keras_steps_per_epoch = grouped * self.steps_per_epoch
    self.total_steps = self.keras_epochs * self.keras_steps_per_epoch
    self.epochs = round(self.total_steps / self.steps_per_epoch, 2)
    evaluations = min(self.keras_epochs, MAX_EVALUATIONS)
    self.eval_epochs = sorted({math.ceil(i * self.keras_epochs / evaluations)
                               for i in range(1, evaluations + 1)})

  def epoch_at(self, keras_epoch: int) -> float:
    """The epochs (passes) done after `keras_epoch` Keras epochs."""
    return round(keras_epoch * self.keras_steps_per_epoch /
                 self.steps_per_epoch, 2)


def _thread_layout() -> Dict[str, int]:
  """The threads TensorFlow's ops run on: set (TF_NUM_INTRAOP_THREADS,
  TF_NUM_INTEROP_THREADS), else one per core this process may use."""
  cores = len(os.sched_getaffinity(0))
  return {
      'intra_op': tf.config.threading.get_intra_op_parallelism_threads() or
                  int(os.environ.get('TF_NUM_INTRAOP_THREADS') or cores),
      'inter_op': tf.config.threading.get_inter_op_parallelism_threads() or
                  int(os.environ.get('TF_NUM_INTEROP_THREADS') or cores),
  }


class _EarlyStopping(keras.callbacks.EarlyStopping):
  """Keras' early stopping on the eval loss, counting only the Keras epochs
  that measured it (`validation_freq`), and restoring the weights of the
  best one at the end whether or not it stopped early."""

  def __init__(self, patience: int):
    super().__init__(monitor='val_loss', patience=patience,
                     restore_best_weights=True)

  def get_monitor_value(self, logs):
    # None on a Keras epoch without an eval: not counted, not warned of.
    return (logs or {}).get('val_loss')


class _TensorBoard(keras.callbacks.TensorBoard):
  """Keras' TensorBoard logs, each epoch's values at the training step it
  ended on: a Keras epoch can be several passes over the train images
  (`TrainingPlan`), so its index is no epoch a user knows."""

  def __init__(self, plan: TrainingPlan, **kwargs):
    super().__init__(**kwargs)
    self._steps = plan.keras_steps_per_epoch

  def on_epoch_end(self, epoch, logs=None):
    super().on_epoch_end((epoch + 1) * self._steps, logs)


def training_phases(keras_epochs: int, pretrained: bool,
                    fine_tune_layers: int,
                    fine_tune_fraction: float) -> List[Tuple[str, int]]:
  """The phases of training, in order: (name, Keras epochs) each.

  The small CNN trains whole: one phase, `train`. A pretrained encoder stays
  frozen while the rest trains, `heads`; with `fine_tune_layers`, the last
  round(`fine_tune_fraction` x `keras_epochs`) Keras epochs (at least one, and
  at least one left for the heads: a plan of one Keras epoch gets two) are
  `fine_tune`, with the encoder's top layers training too.
  """
  if not pretrained:
    return [('train', keras_epochs)]
  if not fine_tune_layers:
    return [('heads', keras_epochs)]
  tuned = max(1, round(fine_tune_fraction * keras_epochs))
  return [('heads', max(1, keras_epochs - tuned)), ('fine_tune', tuned)]


def _parameters(weights) -> int:
  return int(sum(w.shape.num_elements() for w in weights))


def _describe_phase(model: DualEncoder, phase: str,
                    settings: ImageEncoderSettings,
                    tuned_layers: List[str]) -> Dict[str, Any]:
  """What trains in `phase` and what is frozen, for the log and training.json."""
  encoder = model_lib.image_encoder_of(model)
  if encoder is None:
    frozen = f'nothing: the {settings.name} image tower trains whole'
  elif phase == 'heads':
    frozen = (f'the {settings.name} encoder, all {len(encoder.layers)} '
              'layers (batch normalisation in inference mode); its '
              'projection head and the caption tower train')
  else:
    frozen = (f'the {settings.name} encoder below its top '
              f'{settings.fine_tune_layers} layers and its batch '
              f'normalisation; {len(tuned_layers)} layers with weights train'
              + (f', from {tuned_layers[0]} up' if tuned_layers else ''))
  return {
      'phase': phase,
      'frozen': frozen,
      'trainable_encoder_layers': tuned_layers,
      'trainable_parameters': _parameters(model.trainable_weights),
      'non_trainable_parameters': _parameters(model.non_trainable_weights),
  }


def run_fn(fn_args: FnArgs):
  """Trains the dual encoder and exports it with the Transform graph inside.

  Settings come from `fn_args.custom_config` (defaults in `DEFAULTS`):
  `train_epochs` (passes over the train split's images; by default at least
  `min_train_steps` steps; `fn_args.train_steps`, when set, overrides both;
  each is run exactly as given, `TrainingPlan`),
  `batch_size`, `embedding_dim`, `learning_rate`,
  `warmup_fraction`, `temperature`, `seed` (weights, shuffling and caption
  choice: the same seed and data give the same model), `image_encoder` and
  `image_size`, which must be the size GroupCaptionsByImage stored the
  images at, `image_encoder_weights`, `fine_tune_layers`, `fine_tune_fraction` and
  `fine_tune_learning_rate_factor` (`training_phases`). Writes TensorBoard
  logs and `training.json` (the plan, the phases with what each froze, and
  the loss of every Keras epoch) to `fn_args.model_run_dir`, and the
  SavedModel to `fn_args.serving_model_dir`.
  """
  config = fn_args.custom_config or {}
  seed = int(_config(config, 'seed'))
  image_encoder = image_encoder_settings(config)
  keras.utils.set_random_seed(seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  plan = _training_plan(fn_args, config)
  data = _training_data(fn_args, config, plan, tf_transform_output,
                        image_encoder.image_size, seed)
  phases = training_phases(
      plan.keras_epochs, encoders.is_pretrained(image_encoder.name),
      image_encoder.fine_tune_layers,
      float(_config(config, 'fine_tune_fraction')))
  model = _dual_encoder(config, plan, phases[0][1], tf_transform_output,
                        image_encoder)
  fitted = _fit(model, plan, data, phases, _patience(fn_args, config),
                config, image_encoder, fn_args.model_run_dir)
  _write_training_record(fn_args.model_run_dir, config, plan, data, fitted,
                         image_encoder, seed)
  # The signatures are the interface (query, evaluator and TF Serving load
  # the SavedModel with TensorFlow alone). save_traces=False skips tracing
  # every layer's call again for Keras' own reloading, which would push each
  # tf_keras layer through AutoGraph.
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=_serving_signatures(model, tf_transform_output),
             save_traces=False)


def _training_plan(fn_args: FnArgs, config: Dict[str, Any]) -> TrainingPlan:
  """How long to train: the custom_config's length, or the default plan's."""
  # The floor and the ceiling of steps are the default plan's: epochs a
  # user set are run.
  default_length = config.get('train_epochs') is None
  min_steps, max_steps = (
      _config(config, name) if default_length or config.get(name) is not None
      else 0 for name in ('min_train_steps', 'max_train_steps'))
  plan = TrainingPlan(_count_examples(fn_args.train_files),
                      int(_config(config, 'batch_size')),
                      int(_config(config, 'train_epochs')),
                      fn_args.train_steps, int(min_steps), int(max_steps))
  logging.info('Training for %g epochs of %d steps (%d steps, batches of %d '
               'distinct images of %d)', plan.epochs, plan.steps_per_epoch,
               plan.total_steps, plan.batch_size, plan.train_images)
  return plan


def _patience(fn_args: FnArgs, config: Dict[str, Any]) -> int:
  """Evaluations without a better eval loss before training stops; 0: off."""
  # A length the user set is run whole unless they asked for early stopping.
  user_length = (config.get('train_epochs') is not None or
                 bool(fn_args.train_steps))
  return (int(_config(config, 'early_stopping_patience'))
          if not user_length or
          config.get('early_stopping_patience') is not None else 0)


class _TrainingData(NamedTuple):
  """The train and eval batches, and how many eval images they use."""
  train: tf.data.Dataset
  eval: tf.data.Dataset
  eval_images: int  # In the split.
  eval_steps: int
  eval_used: int  # Each time the eval loss is measured.
  in_memory: bool


def _training_data(fn_args: FnArgs, config: Dict[str, Any],
                   plan: TrainingPlan,
                   tf_transform_output: tft.TFTransformOutput, size: int,
                   seed: int) -> _TrainingData:
  """The datasets `fit` reads: decoded once and kept in memory where the
  images take at most `in_memory_images_share` of the memory available."""
  eval_images = _count_examples(fn_args.eval_files)
  if not eval_images:
    raise ValueError('The eval split is empty: no images to measure the '
                     'eval loss on.')
  eval_batch = min(plan.batch_size, eval_images)
  if fn_args.eval_steps:
    eval_steps = min(eval_images // eval_batch, fn_args.eval_steps)
  else:
    eval_steps = max(1, min(eval_images, int(_config(
        config, 'max_eval_images'))) // eval_batch)
  eval_used = eval_steps * eval_batch

  length = caption_length(tf_transform_output)
  share = float(_config(config, 'in_memory_images_share'))
  in_memory = share > 0 and _decoded_bytes(
      plan.train_images + eval_used, size, length) <= (
          share * _available_memory())

  def dataset(files, batch, images):
    args = (files, fn_args.data_accessor, tf_transform_output, batch, size,
            seed)
    return _in_memory_input_fn(*args, images) if in_memory else _input_fn(
        *args)

  return _TrainingData(
      train=dataset(fn_args.train_files, plan.batch_size, plan.train_images),
      eval=dataset(fn_args.eval_files, eval_batch, eval_used),
      eval_images=eval_images, eval_steps=eval_steps, eval_used=eval_used,
      in_memory=in_memory)


def _dual_encoder(config: Dict[str, Any], plan: TrainingPlan,
                  first_phase_epochs: int,
                  tf_transform_output: tft.TFTransformOutput,
                  image_encoder: ImageEncoderSettings) -> DualEncoder:
  """The compiled model, its learning rate scheduled over the first phase."""
  return model_lib.build_model(
      vocab_size=vocabulary_size(tf_transform_output),
      length=caption_length(tf_transform_output),
      size=image_encoder.image_size,
      embedding_dim=int(_config(config, 'embedding_dim')),
      learning_rate=model_lib.learning_rate_schedule(
          float(_config(config, 'learning_rate')),
          first_phase_epochs * plan.keras_steps_per_epoch,
          float(_config(config, 'warmup_fraction'))),
      temperature=float(_config(config, 'temperature')),
      steps_per_execution=min(STEPS_PER_EXECUTION,
                              plan.keras_steps_per_epoch),
      image_encoder=image_encoder)


class _Fitted(NamedTuple):
  """What `_fit` did: Keras epochs run and planned, and each one's losses."""
  keras_epochs: int
  planned_epochs: int
  patience: int
  losses: List[float]
  eval_losses: List[float]
  eval_epochs: List[int]  # The Keras epochs after which eval_losses came.
  phases: List[Dict[str, Any]]  # training.json's record of each phase.
  seconds: float


def _fit(model: DualEncoder, plan: TrainingPlan, data: _TrainingData,
         phases: List[Tuple[str, int]], patience: int,
         config: Dict[str, Any], image_encoder: ImageEncoderSettings,
         log_dir: str) -> _Fitted:
  """Trains `model` phase after phase (`training_phases`), each one `fit`."""
  logging.info('Images %s; early stopping %s', 'decoded once, kept in memory'
               if data.in_memory else 'read and decoded every epoch',
               f'after {patience} evaluations without a better eval loss'
               if patience else 'off')
  tensorboard = _TensorBoard(plan, log_dir=log_dir, update_freq='epoch')
  started = time.time()
  # One callback across the phases: their steps count as one run.
  progress = TrainingProgress(plan)
  losses, eval_losses, phase_records, eval_epochs = [], [], [], []
  first = planned_first = 0
  for number, (phase, epochs) in enumerate(phases, 1):
    last = first + epochs
    # The plan's evaluations in this phase, moved back as far as an earlier
    # phase stopped early, and one at its end: what fine-tuning changed.
    shift = first - planned_first
    phase_evals = sorted(
        {e + shift for e in plan.eval_epochs
         if planned_first < e <= planned_first + epochs} | {last})
    planned_first += epochs
    record = _start_phase(model, phase, plan, first, last, config,
                          image_encoder)
    logging.info('Training phase %d of %d, %s: epochs %g to %g (%d steps%s) '
                 'at a peak learning rate of %g; frozen: %s; %d trainable '
                 'parameters, %d not', number, len(phases), phase,
                 *record['epochs'], record['steps'],
                 ', at most' if patience else '', record['learning_rate'],
                 record['frozen'], record['trainable_parameters'],
                 record['non_trainable_parameters'])
    stopping = [_EarlyStopping(patience)] if patience else []
    history = model.fit(
        data.train,
        initial_epoch=first,
        epochs=last,
        steps_per_epoch=plan.keras_steps_per_epoch,
        validation_data=data.eval,
        validation_steps=data.eval_steps,
        validation_freq=phase_evals,
        callbacks=[tensorboard, progress, *stopping],
        verbose=2)
    losses += history.history['loss']
    eval_losses += history.history.get('val_loss', [])
    done = first + len(history.history['loss'])
    eval_epochs += [e for e in phase_evals if e <= done]
    if stopping:
      _record_early_stopping(record, stopping[0], plan, first, done, last)
      if done < last and number == len(phases):
        progress.stopped_early(plan.epoch_at(done))
      logging.info('Phase %s %s at epoch %g; kept the weights of epoch %g '
                   '(eval loss %.4f)', phase, 'stopped early' if done < last
                   else 'ended', plan.epoch_at(done),
                   record['early_stopping']['kept_epoch'], stopping[0].best)
    phase_records.append(record)
    first = done
  progress.close()
  return _Fitted(keras_epochs=first,
                 planned_epochs=sum(epochs for _, epochs in phases),
                 patience=patience, losses=losses, eval_losses=eval_losses,
                 eval_epochs=eval_epochs, phases=phase_records,
                 seconds=round(time.time() - started, 1))


def _start_phase(model: DualEncoder, phase: str, plan: TrainingPlan,
                 first: int, last: int, config: Dict[str, Any],
                 image_encoder: ImageEncoderSettings) -> Dict[str, Any]:
  """Readies `model` for `phase`, Keras epochs `first` to `last` (fine-tuning
  unfreezes the encoder's top layers and compiles again), and returns the
  phase's record as planned."""
  steps = (last - first) * plan.keras_steps_per_epoch
  peak = float(_config(config, 'learning_rate'))
  tuned_layers = []
  if phase == 'fine_tune':
    peak *= float(_config(config, 'fine_tune_learning_rate_factor'))
    tuned_layers = model_lib.unfreeze_top_layers(
        model_lib.image_encoder_of(model), image_encoder.fine_tune_layers)
    model_lib.compile_model(
        model, model_lib.learning_rate_schedule(
            peak, steps, float(_config(config, 'warmup_fraction'))),
        min(STEPS_PER_EXECUTION, plan.keras_steps_per_epoch))
  return {'epochs': [plan.epoch_at(first), plan.epoch_at(last)],
          'steps': steps, 'learning_rate': peak,
          **_describe_phase(model, phase, image_encoder, tuned_layers)}


def _record_early_stopping(record: Dict[str, Any], stopping: _EarlyStopping,
                           plan: TrainingPlan, first: int, done: int,
                           last: int):
  """Adds to a phase's `record` where early stopping ended it and which
  epoch's weights it kept."""
  best = stopping.best_epoch + 1  # Keras' epochs count from 0.
  record['early_stopping'] = {
      'stopped_early': done < last,
      'planned_end': plan.epoch_at(last),
      'kept_epoch': plan.epoch_at(best),
      'kept_eval_loss': float(stopping.best),
  }
  record['epochs'][1] = plan.epoch_at(done)
  record['steps'] = (done - first) * plan.keras_steps_per_epoch


def _write_training_record(model_run_dir: str, config: Dict[str, Any],
                           plan: TrainingPlan, data: _TrainingData,
                           fitted: _Fitted,
                           image_encoder: ImageEncoderSettings, seed: int):
  """Logs and writes training.json: the plan, what ran and its losses."""
  steps = fitted.keras_epochs * plan.keras_steps_per_epoch
  training = {
      'train_images': plan.train_images,
      'eval_images': data.eval_images,
      # The eval loss's images each time it is measured.
      'eval_loss_images': data.eval_used,
      'batch_size': plan.batch_size,
      'epochs': plan.epoch_at(fitted.keras_epochs),
      'steps_per_epoch': plan.steps_per_epoch,
      'steps': steps,
      # The length planned; with early stopping, the most it could run.
      'planned_epochs': plan.epoch_at(fitted.planned_epochs),
      'planned_steps': fitted.planned_epochs * plan.keras_steps_per_epoch,
      'early_stopping_patience': fitted.patience,
      'images_in_memory': data.in_memory,
      # The epoch reached at each value of `loss` and `eval_loss`.
      'loss_epochs': [plan.epoch_at(k)
                      for k in range(1, fitted.keras_epochs + 1)],
      'eval_epochs': [plan.epoch_at(k) for k in fitted.eval_epochs],
      # TensorBoard's step for the per-epoch values (`_TensorBoard`).
      'tensorboard_step': 'training step',
      'learning_rate': float(_config(config, 'learning_rate')),
      'warmup_fraction': float(_config(config, 'warmup_fraction')),
      'temperature': float(_config(config, 'temperature')),
      'seed': seed,
      # The same seed, data, settings, TensorFlow build, CPU model and
      # thread layout train the same model (README, "Reproducible runs").
      'threads': _thread_layout(),
      'image_encoder': image_encoder.name,
      'image_encoder_weights': image_encoder.weights,
      'image_size': image_encoder.image_size,
      'fine_tune_layers': image_encoder.fine_tune_layers,
      'phases': fitted.phases,
      'seconds': fitted.seconds,
      'loss': [float(v) for v in fitted.losses],
      'eval_loss': [float(v) for v in fitted.eval_losses],
  }
  logging.info('Training: %s', training)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, _TRAINING_FILE),
                         'w') as f:
    json.dump(training, f, indent=2, sort_keys=True)


# --- Serving signatures ------------------------------------------------------


def _serving_signatures(model: DualEncoder,
                            tf_transform_output: tft.TFTransformOutput):
  """Signatures that take raw input and apply the Transform graph themselves.

  `embed_captions` (also `serving_default`): serialized tf.Examples with a
  `caption` feature -> `caption_embedding` [batch, dim].
  `embed_images`: encoded JPEG/PNG bytes -> `image_embedding` [batch, dim].
  Embeddings are L2-normalised: a dot product is the cosine similarity.
  `count_known_words`: `embed_captions`' input -> `known_words` [batch], the
  words of each caption that are in the vocabulary (0: the embedding says
  nothing about it).
  """
  # Tracked as an attribute so the Transform graph and its vocabulary asset
  # are saved with the model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  # A raw caption row's `caption`, fed to the Transform graph as an image's
  # one caption.
  caption_spec = {CAPTION: tf.io.VarLenFeature(tf.string)}
  length = caption_length(tf_transform_output)
  # The size the image tower was built for.
  size = int(model.image_tower.input_shape[1])

  # autograph=False: as for train_step, AutoGraph would slowly rewrite every
  # tf_keras layer on the way, and nothing here branches on a tensor.
  def token_ids_of(serialized_examples):
    raw = tf.io.parse_example(serialized_examples, caption_spec)
    transformed = model.tft_layer({CAPTIONS: raw[CAPTION]})
    return dense_token_ids(transformed[CAPTION_TOKEN_IDS], length)[:, 0]

  @tf.function(input_signature=[
      tf.TensorSpec(shape=[None], dtype=tf.string, name='examples')
  ], autograph=False)
  def embed_captions(serialized_examples):
    token_ids = token_ids_of(serialized_examples)
    return {'caption_embedding': model.embed_captions(token_ids)}

  # Ids 1..V are the vocabulary's words (PAD_ID below, OOV buckets above).
  words = tf_transform_output.vocabulary_size_by_name(CAPTION_VOCABULARY)

  @tf.function(input_signature=[
      tf.TensorSpec(shape=[None], dtype=tf.string, name='examples')
  ], autograph=False)
  def count_known_words(serialized_examples):
    token_ids = token_ids_of(serialized_examples)
    known = (token_ids > PAD_ID) & (token_ids <= words)
    return {'known_words': tf.reduce_sum(tf.cast(known, tf.int32), axis=1)}

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
      'count_known_words': count_known_words.get_concrete_function(),
  }
