"""Builds TFX `FnArgs` for `run_fn` from Transform outputs on disk."""

import functools
import os
from typing import Tuple

from tfx import v1 as tfx
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils, standard_artifacts


def make_fn_args(transformed_examples_uri: str, transform_graph_uri: str,
                 output_dir: str, train_steps: int, eval_steps: int,
                 custom_config=None) -> tfx.components.FnArgs:
  """FnArgs as the Trainer component would pass them, data accessor included."""
  examples = standard_artifacts.Examples()
  examples.uri = transformed_examples_uri
  examples.split_names = artifact_utils.encode_split_names(['train', 'eval'])
  data_accessor = tfx.components.DataAccessor(
      tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact(
          [examples], []),
      record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact(
          [examples], []),
      data_view_decode_fn=None)
  split_files = lambda split: [
      os.path.join(transformed_examples_uri, f'Split-{split}', '*')]
  return tfx.components.FnArgs(
      train_files=split_files('train'),
      eval_files=split_files('eval'),
      transform_output=transform_graph_uri,
      transform_graph_path=transform_graph_uri,
      serving_model_dir=os.path.join(output_dir, 'serving_model'),
      model_run_dir=os.path.join(output_dir, 'model_run'),
      train_steps=train_steps,
      eval_steps=eval_steps,
      data_accessor=data_accessor,
      custom_config=custom_config or {})


def image_rows(data_dir: str, image_size: int = 0):
  """The per-image examples GroupCaptionsByImage makes of a generated
  dataset, as instance dicts ordered by image id; their `image_pixels` at
  `image_size` (0: none)."""
  from benchmarks import baselines
  return baselines.per_image_rows(data_dir, os.path.join(data_dir, 'images'),
                                  image_size)


def write_transformed_dataset(data_dir: str, output_dir: str,
                              image_size: int = 32) -> Tuple[str, str]:
  """Transforms a generated dataset as GroupCaptionsByImage and the Transform
  component would.

  Analyzes the train split, transforms both splits (train: image_id % 5 != 0)
  and writes gzipped tf.Example TFRecords under `output_dir/examples/Split-*`
  and the transform graph under `output_dir/transform_graph`.

  Returns:
    (transformed examples URI, transform graph URI).
  """
  import apache_beam as beam
  import tensorflow_transform.beam as tft_beam
  from tfx_bsl.coders import example_coder
  import tensorflow_transform as tft
  from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

  import coco_captions_utils
  from coco_captions import features

  metadata = dataset_metadata.DatasetMetadata(features.per_image_schema())
  rows = image_rows(data_dir, image_size)
  splits = {
      'train': [r for r in rows if r[features.IMAGE_ID][0] % 5 != 0],
      'eval': [r for r in rows if r[features.IMAGE_ID][0] % 5 == 0],
  }
  examples_uri = os.path.join(output_dir, 'examples')
  graph_uri = os.path.join(output_dir, 'transform_graph')
  config = {}
  with beam.Pipeline() as pipeline:
    with tft_beam.Context(temp_dir=os.path.join(output_dir, 'tmp')):
      transform_fn = (
          (pipeline | 'Train' >> beam.Create(splits['train']), metadata)
          | tft_beam.AnalyzeDataset(functools.partial(
              coco_captions_utils.preprocessing_fn, custom_config=config)))
      _ = transform_fn | tft_beam.WriteTransformFn(graph_uri)
      # The raw schema, which TFX's Transform also writes beside its outputs.
      metadata_io.write_metadata(
          metadata, os.path.join(graph_uri, tft.TFTransformOutput.RAW_METADATA_DIR))
      for split, split_rows in splits.items():
        batches, transformed_metadata = (
            ((pipeline | f'Create{split}' >> beam.Create(split_rows), metadata),
             transform_fn)
            | f'Transform{split}' >> tft_beam.TransformDataset(
                output_record_batches=True))
        encoder = example_coder.RecordBatchToExamplesEncoder(
            transformed_metadata.schema)
        _ = (batches
             | f'Encode{split}' >> beam.FlatMapTuple(
                 lambda batch, _: encoder.encode(batch))
             | f'Write{split}' >> beam.io.WriteToTFRecord(
                 os.path.join(examples_uri, f'Split-{split}', 'transformed'),
                 file_name_suffix='.gz'))
  return examples_uri, graph_uri
