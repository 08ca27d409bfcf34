"""The pipeline's names, paths and fixed choices, and the defaults that
`create_pipeline` shares with the runners.

Settings a user can change are declared, with their help, in
`coco_captions.run.settings` (flags and COCO_CAPTIONS_* variables); the
model's hyper-parameters in model/coco_captions_hparams.py, beside the module
file.
"""

import os

from coco_captions import features

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

PIPELINE_NAME = 'coco_captions'

# The bundled synthetic dataset: data/captions.csv and data/images/.
DATA_ROOT = os.path.join(PROJECT_DIR, 'data')
IMAGES_SUBDIR = 'images'
# Only CSV files under the data root are read, so images may live beside them.
CSV_PATTERN = '*.csv'

# The curated schema every input CSV must match.
SCHEMA_FILE = os.path.join(PROJECT_DIR, 'schema', 'schema.pbtxt')
# The TFX module file (preprocessing_fn and run_fn), alone with the model code
# in its directory: TFX packages and fingerprints that directory.
MODULE_FILE = os.path.join(PROJECT_DIR, 'model', 'coco_captions_utils.py')

# Outputs of a local run.
OUTPUT_DIR = os.path.join(os.getcwd(), 'tfx_output')
METADATA_FILENAME = 'metadata.sqlite'
SERVING_SUBDIR = 'serving_model'

# Train/eval split, hashed on image_id so the captions of one image stay together.
SPLIT_PARTITION_FEATURE = features.IMAGE_ID
TRAIN_HASH_BUCKETS = 4
EVAL_HASH_BUCKETS = 1

# The RetrievalEvaluator's candidate pool: the eval images with the lowest ids.
RETRIEVAL_MAX_IMAGES = 1000

# Blessing: the model must reach this text-to-image recall@5 on the eval split
# (chance is 5 / number of eval images) and not fall below the latest blessed
# model on the same images...
BLESSING_METRIC = 'text_to_image_recall@5'
BLESSING_THRESHOLD = 0.3
# ... and be above chance with a one-sided binomial p-value below this.
BLESSING_SIGNIFICANCE = 0.01

# What GroupCaptionsByImage does with rows whose image cannot be used: stop
# the run before Transform (the default), or leave them out and count them.
BAD_IMAGES_CHOICES = ('fail', 'drop')
BAD_IMAGES = 'fail'
