"""Feature and column names, one home for each: the pipeline and the model
import them from here, never copy them.

Three kinds of example carry them, in pipeline order:

  caption rows       the captions CSV, one row per caption (CsvExampleGen's
                     examples; the RetrievalEvaluator reads them again)
  per-image examples one per image, every caption of it
                     (GroupCaptionsByImage writes them, `preprocessing_fn`
                     reads them: `per_image_feature_spec`)
  transformed        `preprocessing_fn`'s output, the Trainer's input

This file is outside the module file's directory, so TFX's fingerprint of the
user code does not cover it: `create_pipeline` passes its `DIGEST` to the
components that use these names instead. No TensorFlow at import.
"""

import hashlib

# --- Caption rows (the COCO captions CSV) -----------------------------------

IMAGE_ID = 'image_id'
CAPTION_ID = 'id'
CAPTION = 'caption'
IMAGE_URL = 'image_url'
IMAGE_NAME = 'image_name'
IMAGE_LICENSE = 'image_license'

# The columns a captions CSV must have, in the order the converters write them.
CSV_COLUMNS = (IMAGE_ID, CAPTION_ID, CAPTION, IMAGE_URL, IMAGE_NAME,
               IMAGE_LICENSE)

# --- Per-image examples (also IMAGE_ID and IMAGE_NAME) ------------------------

# The image decoded and resized once, stored as a PNG of uint8 pixels; the
# transformed feature of the same name passes it through.
IMAGE_PIXELS = 'image_pixels'
# Every caption of the image, ordered by caption id, and those ids.
CAPTIONS = 'captions'
CAPTION_IDS = 'caption_ids'


def per_image_feature_spec():
  """The tf.io feature spec of the per-image examples: `preprocessing_fn`'s
  input."""
  import tensorflow as tf  # Only here: the names need no TensorFlow.
  return {
      IMAGE_ID: tf.io.FixedLenFeature([1], tf.int64),
      IMAGE_NAME: tf.io.FixedLenFeature([1], tf.string),
      IMAGE_PIXELS: tf.io.FixedLenFeature([1], tf.string),
      CAPTIONS: tf.io.VarLenFeature(tf.string),
      CAPTION_IDS: tf.io.VarLenFeature(tf.int64),
  }


def per_image_schema():
  """The schema of the per-image examples (a tensorflow_metadata Schema)."""
  from tensorflow_transform.tf_metadata import schema_utils
  return schema_utils.schema_from_feature_spec(per_image_feature_spec())


# --- Transformed features (also IMAGE_PIXELS, IMAGE_ID, IMAGE_NAME) -----------

# Token ids of every caption of an image, sparse [captions, tokens]: PAD_ID
# pads, 1..V are the vocabulary's words (most frequent first), V+1.. OOV.
CAPTION_TOKEN_IDS = 'caption_token_ids'
PAD_ID = 0
# The vocabulary file Transform writes for the captions.
CAPTION_VOCABULARY = 'caption_vocabulary'


def source_digest(path: str = __file__) -> str:
  """The SHA-256 of the bytes of `path` (by default this file), hex."""
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


# This file's digest, read at import so that `create_pipeline` reads no file;
# it goes into the exec properties of the components that use these names,
# under DIGEST_KEY where they take a custom_config.
DIGEST = source_digest()
DIGEST_KEY = 'features_digest'
