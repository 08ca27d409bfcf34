"""The image encoders the dual encoder can use, and their settings' checks.

A table of names, with no TensorFlow import: runners check the settings of
`image_encoder`, `image_encoder_weights`, `fine_tune_layers` and `image_size`
(hyper-parameters of coco_captions_hparams.py, whose default encoder is
DEFAULT_ENCODER) against each other at parse time with it, and the module
file (coco_captions_utils.py, beside this file, which TFX packages with it)
builds the encoder they name.

  small_cnn           a small CNN trained from scratch (the default)
  mobilenet_v2        tf_keras.applications.MobileNetV2: light, for CPUs
  efficientnet_v2_b0  tf_keras.applications.EfficientNetV2B0
  resnet50            tf_keras.applications.ResNet50: heavy, for GPUs
"""

import collections
import os
from typing import List, Optional

# A tf_keras.applications model and how to feed it.
#   application: the constructor in `tf_keras.applications`, None for the
#     small CNN.
#   preprocessing: the `tf_keras.applications` submodule whose
#     `preprocess_input` maps 0..255 RGB to what the encoder was trained on;
#     None where the model does it itself (the small CNN, EfficientNetV2).
#   image_size: the side Transform stores images at unless --image_size says
#     otherwise; the size the ImageNet weights were trained at.
#   min_image_size: the smallest side the architecture accepts.
Encoder = collections.namedtuple(
    'Encoder', ['application', 'preprocessing', 'image_size', 'min_image_size'])

ENCODERS = {
    'small_cnn': Encoder(None, None, 64, 16),
    'mobilenet_v2': Encoder('MobileNetV2', 'mobilenet_v2', 224, 32),
    'efficientnet_v2_b0': Encoder('EfficientNetV2B0', None, 224, 32),
    'resnet50': Encoder('ResNet50', 'resnet50', 224, 32),
}
ENCODER_NAMES = tuple(ENCODERS)
DEFAULT_ENCODER = 'small_cnn'

# --image_encoder_weights: Keras' ImageNet download, no weights, or a file.
IMAGENET = 'imagenet'
NO_WEIGHTS = 'none'


def is_pretrained(name: str) -> bool:
  """Whether `name` is a Keras application (which has pretrained weights)."""
  return ENCODERS[name].application is not None


def image_size(name: str, size: Optional[int] = None) -> int:
  """The side images are stored and fed at: `size`, else the encoder's."""
  return int(size) if size else ENCODERS[name].image_size


def settings_errors(image_encoder: Optional[str] = None,
                    image_encoder_weights: Optional[str] = None,
                    fine_tune_layers: Optional[int] = None,
                    size: Optional[int] = None,
                    check_files: bool = True,
                    for_model: bool = True) -> List[str]:
  """What is wrong with these settings, one line each; [] if nothing.

  None means unset (the default). `check_files`: a local weights path must
  exist here; a runner whose Trainer runs elsewhere (a Kubeflow pod) passes
  False. URIs (`gs://...`) are not checked. `for_model`: the size must suit
  the encoder; Transform alone (False) stores images of any size.
  """
  errors = []
  name = image_encoder or DEFAULT_ENCODER
  if name not in ENCODERS:
    return [f'image_encoder {name!r} is not one of '
            f'{", ".join(ENCODER_NAMES)}']
  smallest = ENCODERS[name].min_image_size if for_model else 1
  if size is not None:
    if isinstance(size, bool) or not isinstance(size, int) or size < smallest:
      errors.append(f'image_size {size!r}: {name} needs a whole number of '
                    f'at least {smallest} pixels')
  if fine_tune_layers is not None and (
      isinstance(fine_tune_layers, bool) or
      not isinstance(fine_tune_layers, int) or fine_tune_layers < 0):
    errors.append(f'fine_tune_layers {fine_tune_layers!r}: give a whole '
                  'number of layers, 0 or more')
  weights = image_encoder_weights
  if not is_pretrained(name):
    if weights not in (None, NO_WEIGHTS):
      errors.append(f'image_encoder_weights {weights!r}: {name} is trained '
                    'from scratch and takes none; choose a pretrained '
                    'encoder (' + ', '.join(
                        n for n in ENCODER_NAMES if is_pretrained(n)) + ')')
    if fine_tune_layers:
      errors.append(f'fine_tune_layers {fine_tune_layers}: {name} is trained '
                    'whole; fine-tuning applies to a pretrained encoder')
    return errors
  if weights is not None and not isinstance(weights, str):
    errors.append(f'image_encoder_weights {weights!r}: give {IMAGENET!r}, '
                  f'{NO_WEIGHTS!r}, or a weights file')
  elif weights in (None, IMAGENET, NO_WEIGHTS):
    pass
  elif not weights.strip():
    errors.append(f'image_encoder_weights is empty: give {IMAGENET!r}, '
                  f'{NO_WEIGHTS!r}, or a weights file')
  elif check_files and '://' not in weights and not os.path.isfile(weights):
    errors.append(f'image_encoder_weights {weights}: no such file (give '
                  f'{IMAGENET!r}, {NO_WEIGHTS!r}, or a .h5 weights file of '
                  f'{ENCODERS[name].application})')
  return errors
