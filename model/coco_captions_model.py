"""The dual-encoder retrieval model: its towers, loss and optimiser.

Imported by the module file (coco_captions_utils.py, beside this file, which
TFX packages with it): `build_model` gives the compiled `DualEncoder`, whose
image tower is a small CNN or a pretrained Keras application
(`keras_application`) with a projection head, and whose caption tower is a
word-level convolution; both map into one L2-normalised space, trained with
`contrastive_loss`. A new layer goes in its tower here.

Inputs are the transformed features `image_pixels` (uint8 [batch, size, size,
3]; each tower scales them itself) and `caption_token_ids` (int64 [batch, L],
`PAD_ID` padding).
"""

import os
import re
import tempfile
from typing import List, NamedTuple, Optional

import tensorflow as tf
# TFT is Keras 2 only; `tf_keras` is Keras 2 under TF 2.16.
import tf_keras as keras

from coco_captions.features import CAPTION_TOKEN_IDS, IMAGE_PIXELS, PAD_ID
import coco_captions_encoders as encoders
from coco_captions_hparams import DEFAULTS


class ImageEncoderSettings(NamedTuple):
  """The image encoder to build (the module file's `image_encoder_settings`
  reads it from a custom_config)."""
  name: str
  # 'imagenet', 'none' or a file; None for the small CNN, which has none.
  weights: Optional[str]
  fine_tune_layers: int
  image_size: int


# --- Image towers ------------------------------------------------------------

# Light: more slowed learning so much that, at the 1,000-step floor, some
# seeds had barely started to learn on a few thousand images.
_DROPOUT = 0.1


def _batch_normalization():
  # Momentum 0.9: the statistics used at inference settle within a few dozen
  # steps, which a small dataset's short training needs.
  return keras.layers.BatchNormalization(momentum=0.9)


def _conv_block(x, filters: int, kernel: int, strides: int = 1):
  # Batch normalisation keeps every layer's input at a steady scale while the
  # towers change under a large learning rate: without it, the contrastive
  # loss stalls at chance on thousands of images.
  x = keras.layers.Conv2D(filters, kernel, strides=strides, padding='same',
                          use_bias=False)(x)
  x = _batch_normalization()(x)
  return keras.layers.ReLU()(x)


def _projection(x, embedding_dim: int):
  x = keras.layers.Dense(256, use_bias=False)(x)
  x = _batch_normalization()(x)
  x = keras.layers.ReLU()(x)
  return keras.layers.Dense(embedding_dim)(x)


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
  x = _conv_block(x, 32, 5, strides=2)
  x = keras.layers.MaxPooling2D()(x)
  for filters in (64, 128):
    x = _conv_block(x, filters, 3)
    x = keras.layers.MaxPooling2D()(x)
  # Flatten keeps where things are; captions talk about positions.
  x = keras.layers.Dropout(_DROPOUT)(keras.layers.Flatten()(x))
  return keras.Model(pixels, _projection(x, embedding_dim), name='image_tower')


# --- Pretrained image encoders ---------------------------------------------


def _local_weights_file(uri: str) -> str:
  """A local path to the weights file `uri`; a remote one is copied first
  (Keras reads HDF5 weights from local files only)."""
  if not tf.io.gfile.exists(uri):
    raise ValueError(f'image_encoder_weights {uri}: no such file where the '
                     'Trainer runs')
  if '://' not in uri:
    return uri
  local = os.path.join(tempfile.mkdtemp(prefix='image_encoder_weights_'),
                       os.path.basename(uri))
  tf.io.gfile.copy(uri, local)
  return local


def _imagenet_unavailable(settings: ImageEncoderSettings,
                          error: Exception) -> ValueError:
  """The one-line error for ImageNet weights Keras could not download."""
  found = re.search(r'https?://\S+?\.h5', str(error))
  url = found.group(0) if found else 'its download URL'
  reason = ' '.join(str(error).split(' -- ')[-1].split())
  return ValueError(
      f'could not download the ImageNet weights of {settings.name} from {url} '
      f'({reason}); fetch that file where there is internet and pass it as '
      f'--image_encoder_weights PATH (a local file or a gs:// URI), or put '
      f'it in ~/.keras/models/ where the Trainer runs (see the Dockerfile)')


def keras_application(settings: ImageEncoderSettings) -> keras.Model:
  """The pretrained encoder `settings` names: its convolutional part,
  [batch, size, size, 3] preprocessed pixels -> [batch, features], average
  pooled, with the weights `settings.weights` names."""
  spec = encoders.ENCODERS[settings.name]
  constructor = getattr(keras.applications, spec.application)
  size = settings.image_size
  arguments = dict(include_top=False, input_shape=(size, size, 3),
                   pooling='avg')
  if settings.weights == encoders.IMAGENET:
    try:
      return constructor(weights=encoders.IMAGENET, **arguments)
    except Exception as e:  # pylint: disable=broad-except
      # keras.utils.get_file raises a bare Exception when a download fails.
      if 'URL fetch failure' not in str(e):
        raise
      raise _imagenet_unavailable(settings, e) from None
  model = constructor(weights=None, **arguments)
  if settings.weights != encoders.NO_WEIGHTS:
    path = _local_weights_file(settings.weights)
    try:
      model.load_weights(path)
    except (ValueError, OSError, KeyError) as e:
      raise ValueError(
          f'image_encoder_weights {settings.weights}: not weights of '
          f'{spec.application} without its top ({type(e).__name__}: '
          f"{' '.join(str(e).split())})") from None
  return model


def _pretrained_image_tower(settings: ImageEncoderSettings,
                            embedding_dim: int) -> keras.Model:
  size = settings.image_size
  pixels = keras.Input(shape=(size, size, 3), dtype=tf.uint8,
                       name=IMAGE_PIXELS)
  # The encoder's own input scaling, inside the model: training and the
  # `embed_images` signature both feed it uint8 pixels.
  x = tf.cast(pixels, tf.float32)
  preprocessing = encoders.ENCODERS[settings.name].preprocessing
  if preprocessing:
    x = getattr(keras.applications, preprocessing).preprocess_input(x)
  encoder = keras_application(settings)
  encoder.trainable = False
  # training=False keeps its batch normalisation in inference mode (the
  # pretrained statistics), also once its top layers are unfrozen.
  x = encoder(x, training=False)
  x = keras.layers.Dropout(_DROPOUT)(x)
  return keras.Model(pixels, _projection(x, embedding_dim), name='image_tower')


def image_encoder_of(model) -> Optional[keras.Model]:
  """The pretrained encoder inside a DualEncoder's image tower, or None."""
  inner = [layer for layer in model.image_tower.layers
           if isinstance(layer, keras.Model)]
  return inner[0] if inner else None


def unfreeze_top_layers(encoder: keras.Model, count: int) -> List[str]:
  """Makes the top `count` of `encoder.layers` trainable, the rest frozen.

  Layers are counted as Keras lists them (activations and additions too).
  Batch normalisation layers stay frozen, as Keras' fine-tuning guide does:
  their statistics came with the weights. Returns the names of the layers
  with weights that now train, bottom to top.
  """
  encoder.trainable = True
  first = len(encoder.layers) - count
  for i, layer in enumerate(encoder.layers):
    layer.trainable = i >= first and not isinstance(
        layer, keras.layers.BatchNormalization)
  return [layer.name for layer in encoder.layers
          if layer.trainable and layer.weights]


# --- Caption tower, loss and the dual encoder ---------------------------------


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
  x = keras.layers.Dropout(_DROPOUT)(keras.layers.GlobalMaxPooling1D()(x))
  return keras.Model(token_ids, _projection(x, embedding_dim),
                     name='caption_tower')


def contrastive_loss(caption_embeddings: tf.Tensor,
                     image_embeddings: tf.Tensor,
                     temperature: float) -> tf.Tensor:
  """Symmetric in-batch softmax loss of [batch, dim] L2-normalised pairs.

  Row i of each is a matching caption and image; every other image of the
  batch is a negative for caption i and every other caption one for image i
  (the batch holds distinct images). The mean of the caption-to-image and
  image-to-caption cross-entropies over cosine similarities / temperature.
  """
  logits = tf.matmul(caption_embeddings, image_embeddings,
                     transpose_b=True) / temperature
  labels = tf.range(tf.shape(logits)[0])
  caption_to_image = keras.losses.sparse_categorical_crossentropy(
      labels, logits, from_logits=True)
  image_to_caption = keras.losses.sparse_categorical_crossentropy(
      labels, tf.transpose(logits), from_logits=True)
  return (tf.reduce_mean(caption_to_image) +
          tf.reduce_mean(image_to_caption)) / 2


class DualEncoder(keras.Model):
  """Image and caption towers trained with `contrastive_loss`."""

  def __init__(self, image_tower, caption_tower, temperature: float, **kwargs):
    super().__init__(**kwargs)
    self.image_tower = image_tower
    self.caption_tower = caption_tower
    self.temperature = float(temperature)
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

  def _loss(self, inputs, training):
    image_embeddings, caption_embeddings = self(inputs, training=training)
    return contrastive_loss(caption_embeddings, image_embeddings,
                            self.temperature)

  # Keras traces these into graphs with AutoGraph, which would rewrite every
  # tf_keras layer's source on the way (AutoGraph skips `keras` but not
  # `tf_keras`). They have no tensor-dependent Python control flow, so plain
  # tracing is the same graph.
  @tf.autograph.experimental.do_not_convert
  def train_step(self, data):
    inputs, _ = data
    with tf.GradientTape() as tape:
      loss = self._loss(inputs, training=True)
    grads = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    self.loss_tracker.update_state(loss)
    return {'loss': self.loss_tracker.result()}

  @tf.autograph.experimental.do_not_convert
  def test_step(self, data):
    inputs, _ = data
    self.loss_tracker.update_state(self._loss(inputs, training=False))
    return {'loss': self.loss_tracker.result()}


def learning_rate_schedule(peak: float, total_steps: int,
                           warmup_fraction: float):
  """Linear warmup to `peak` over `warmup_fraction` of the steps, then a
  cosine decay to 0 at `total_steps`."""
  warmup = int(round(warmup_fraction * total_steps))
  return keras.optimizers.schedules.CosineDecay(
      0.0 if warmup else peak, max(1, total_steps - warmup), alpha=0.0,
      warmup_target=peak if warmup else None, warmup_steps=warmup)


def build_model(vocab_size: int, length: int, size: int,
                embedding_dim: int, learning_rate,
                temperature: float = DEFAULTS['temperature'],
                steps_per_execution: int = 10,
                image_encoder: Optional[ImageEncoderSettings] = None
                ) -> DualEncoder:
  """The compiled dual encoder; `learning_rate` is a number or a schedule.

  `image_encoder` (`image_encoder_settings`) picks the image tower: the small
  CNN when None or `small_cnn`, else a pretrained encoder with its weights
  loaded, frozen (`unfreeze_top_layers` fine-tunes it), at
  `image_encoder.image_size`, which must then equal `size`.
  """
  if image_encoder is None or not encoders.is_pretrained(image_encoder.name):
    image_tower = _image_tower(size, embedding_dim)
  else:
    image_tower = _pretrained_image_tower(image_encoder, embedding_dim)
  model = DualEncoder(
      image_tower,
      _caption_tower(vocab_size, length, embedding_dim), temperature)
  compile_model(model, learning_rate, steps_per_execution)
  return model


def compile_model(model: DualEncoder, learning_rate,
                  steps_per_execution: int) -> None:
  """Compiles `model` with Adam for its trainable variables as they are now
  (again after `unfreeze_top_layers`)."""
  # Several steps per call of the traced train function: Keras' per-step
  # Python work (callbacks, logs) is a noticeable share of a CPU step.
  model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                steps_per_execution=steps_per_execution)
  # Adam's slot variables, created now rather than by the first train step:
  # a traced function that creates variables is traced a second time.
  model.optimizer.build(model.trainable_variables)

