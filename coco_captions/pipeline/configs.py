"""Names, paths, hyper-parameters and Beam options, in one place.

`coco_captions.run.settings` reads the runners' defaults from here; the runners
hand the settings to `coco_captions.pipeline.pipeline.create_pipeline`.
"""

import os

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
# Columns a captions CSV must have (the COCO captions columns).
CSV_COLUMNS = ('image_id', 'id', 'caption', 'image_url', 'image_name',
               'image_license')

# The TFX module file (preprocessing_fn and run_fn).
# The TFX module file (preprocessing_fn and run_fn), alone with the model code
# in its directory: TFX packages and fingerprints that directory.
MODULE_FILE = os.path.join(PROJECT_DIR, 'model', 'coco_captions_utils.py')

# Outputs of a local run.
OUTPUT_DIR = os.path.join(os.getcwd(), 'tfx_output')
METADATA_FILENAME = 'metadata.sqlite'

# Train/eval split, hashed on image_id so the captions of one image stay together.
SPLIT_PARTITION_FEATURE = 'image_id'
TRAIN_HASH_BUCKETS = 4
EVAL_HASH_BUCKETS = 1

# Model and training settings have their defaults in the module file
# (coco_captions_utils.DEFAULTS); the pipeline passes only what a user sets.

# The RetrievalEvaluator's candidate pool: the eval images with the lowest ids.
RETRIEVAL_MAX_IMAGES = 1000

# Blessing: the model must reach this text-to-image recall@5 on the eval split
# (chance is 5 / number of eval images) and not fall below the latest blessed
# model on the same images.
BLESSING_METRIC = 'text_to_image_recall@5'
BLESSING_THRESHOLD = 0.3
# ... and be above chance with a one-sided binomial p-value below this.
BLESSING_SIGNIFICANCE = 0.01
SERVING_SUBDIR = 'serving_model'

# Beam options for a local run when the user passes none: none, so Beam's
# default applies, the in-memory DirectRunner. It starts no worker processes,
# each of which would import TensorFlow, a cost that dominates on small data. An empty list also spares every Beam component TFX's habit of
# building an sdist of TFX itself for remote workers, which it does whenever
# beam_pipeline_args is non-empty and names no --extra_package/--setup_file.
# For large data pass e.g.
#   --direct_running_mode=multi_processing --direct_num_workers=0
LOCAL_BEAM_PIPELINE_ARGS = ()

# What GroupCaptionsByImage does with rows whose image Transform could not
# read: stop the run before Transform, or leave them out and count them.
BAD_IMAGES_CHOICES = ('fail', 'drop')
