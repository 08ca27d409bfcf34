"""The model's hyper-parameters: for each its default, its allowed values,
what it does and which step reads it. No TensorFlow import.

`preprocessing_fn` and `run_fn` (coco_captions_utils.py, beside this file)
read each from their `custom_config`, falling back to `DEFAULTS`. The runners
load this table from beside the module file they are given
(coco_captions.run.settings): each entry becomes a flag and a
COCO_CAPTIONS_<NAME> variable, checked against its range, with this help line
and default; the pipeline passes on only what a user set. TFX packages this
file with the module file, so an edit here re-runs Transform and the Trainer.
"""

from typing import Any, NamedTuple, Optional, Tuple

import coco_captions_encoders as encoders

# Which custom_config reads a hyper-parameter. IMAGES: GroupCaptionsByImage
# stores the images for it and the Trainer builds the model for them, so
# both get it.
IMAGES = 'images'
TRANSFORM = 'transform'  # preprocessing_fn
TRAINER = 'trainer'  # run_fn

# The eval loss is measured after at most this many Keras epochs.
MAX_EVALUATIONS = 30
# The bounds below are far beyond any real run and below what TensorFlow or
# the machine would fail on: counts stay 32-bit integers, an image side of
# 1,024 pixels is 3 MiB decoded, a batch of 16,384 a 1 GiB similarity matrix.
_MAX_COUNT = 100_000_000


def _by_encoder(field: str) -> str:
  """'64 for small_cnn; 224 for mobilenet_v2, ...': a field of the encoders."""
  names = {}
  for name, encoder in encoders.ENCODERS.items():
    names.setdefault(getattr(encoder, field), []).append(name)
  return '; '.join(f'{value} for {", ".join(found)}'
                   for value, found in names.items())


class HParam(NamedTuple):
  """One hyper-parameter. A number must lie from `low` to `high` (and be
  more than `above` where set); a text one of `choices` where given."""
  default: Any
  reader: str  # IMAGES, TRANSFORM or TRAINER.
  help: str
  type: type = int  # int, float or str.
  low: Optional[float] = None
  high: Optional[float] = None
  above: Optional[float] = None
  choices: Tuple[str, ...] = ()
  # The default in words where it depends on other settings; {name} is
  # another hyper-parameter's default.
  default_text: Optional[str] = None


HPARAMS = {
    'image_encoder': HParam(
        encoders.DEFAULT_ENCODER, IMAGES,
        'The image tower: small_cnn (trained from scratch), or a pretrained '
        'tf_keras.applications encoder (see README, "Training on real COCO '
        'photos")', str, choices=encoders.ENCODER_NAMES),
    'image_size': HParam(
        None, IMAGES,
        'Side in pixels GroupCaptionsByImage stores images at and the model '
        'reads; at least the encoder\'s smallest (' +
        _by_encoder('min_image_size') + ')', low=1, high=1024,
        default_text=f'the encoder\'s ({_by_encoder("image_size")})'),
    'max_caption_tokens': HParam(
        32, TRANSFORM, 'Tokens a caption is cut or padded to', low=1,
        high=1024),
    'train_epochs': HParam(
        30, TRAINER,
        'Passes over the train split\'s images, run exactly (no early '
        'stopping unless early_stopping_patience is set too); the steps '
        'follow from the split\'s size and the batch size',
        low=1, high=1_000_000,
        default_text='{train_epochs}, but at least {min_train_steps:,} and at '
        'most {max_train_steps:,} steps (whole passes), stopped early'),
    'min_train_steps': HParam(
        1000, TRAINER,
        'The default length\'s floor of steps, which small datasets need '
        'more passes for; 0: none', low=0, high=_MAX_COUNT),
    'max_train_steps': HParam(
        15000, TRAINER,
        'The default length\'s ceiling of steps, in whole passes, which '
        'large datasets learn in with fewer; 0: none', low=0,
        high=_MAX_COUNT),
    'early_stopping_patience': HParam(
        5, TRAINER,
        'Stop training once the eval loss has not improved for this many '
        f'evaluations in a row (up to {MAX_EVALUATIONS} in a run) and keep '
        'the weights of the best; 0: train the whole length',
        low=0, high=MAX_EVALUATIONS,
        default_text='{early_stopping_patience} for the default length, 0 '
        'with train_epochs or train_steps'),
    'in_memory_images_share': HParam(
        0.25, TRAINER,
        'The decoded train and eval images stay in memory when they take at '
        'most this share of the memory available, decoded once instead of '
        'once an epoch; 0: never', float, low=0, high=1),
    'max_eval_images': HParam(
        4096, TRAINER,
        'The eval loss is measured on at most this many eval images, the '
        'same ones each time (eval_steps overrides it)', low=1,
        high=_MAX_COUNT),
    'batch_size': HParam(
        64, TRAINER, 'Distinct images a training batch holds (at most the '
        'train split\'s)', low=2, high=16_384),
    'embedding_dim': HParam(
        128, TRAINER, 'Size of the image and caption embeddings', low=1,
        high=4096),
    'learning_rate': HParam(
        2e-3, TRAINER,
        'Adam\'s peak learning rate, reached after a linear warmup over '
        'warmup_fraction of the steps, then decayed to 0 along a cosine',
        float, above=0, high=1),
    'warmup_fraction': HParam(
        0.05, TRAINER, 'Share of the steps the learning rate warms up over',
        float, low=0, high=1),
    'temperature': HParam(
        0.05, TRAINER, 'Softmax temperature of the contrastive loss over '
        'cosine similarities', float, above=0, high=1),
    'seed': HParam(
        0, TRAINER,
        'Seed of the model\'s initial weights, the shuffling and the caption '
        'drawn for each image: the same seed and data give the same model',
        # What NumPy's seed takes (keras.utils.set_random_seed).
        low=0, high=2**32 - 1),
    'image_encoder_weights': HParam(
        encoders.IMAGENET, TRAINER,
        'A pretrained encoder\'s starting weights: imagenet (Keras downloads '
        'them where the Trainer runs), none, or a weights file (local path '
        'or gs://...)', str,
        default_text='{image_encoder_weights} for a pretrained encoder'),
    'fine_tune_layers': HParam(
        0, TRAINER,
        'After training the heads on the frozen encoder, also train its top '
        'N layers for fine_tune_fraction of the steps at '
        'fine_tune_learning_rate_factor times the learning rate', low=0,
        high=10_000),
    'fine_tune_fraction': HParam(
        0.3, TRAINER, 'Share of the training that fine-tunes the encoder\'s '
        'top layers', float, low=0, high=1),
    'fine_tune_learning_rate_factor': HParam(
        0.1, TRAINER, 'The learning rate while fine-tuning, as a share of '
        'learning_rate', float, above=0, high=1),
}

# What preprocessing_fn and run_fn fall back on.
DEFAULTS = {name: hparam.default for name, hparam in HPARAMS.items()}
