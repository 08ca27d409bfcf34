"""GroupCaptionsByImage: one example per image, holding every caption of it.

CsvExampleGen writes one row per caption, and ExampleValidator checks those
rows against the curated schema. After them, this component groups the rows of
each split by `image_id` (a Beam GroupByKey), so that Transform reads and
decodes each image once, stores its pixels once, and the Trainer's batches
hold distinct images. Output features, per image:

  image_id     int64, one value
  image_name   bytes, one value
  captions     bytes, one per caption, ordered by caption id
  caption_ids  int64, the caption ids in the same order

The component also writes the schema of its output, which Transform reads.
"""

import os
from typing import Iterable, List, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.component.experimental.annotations import (
    BeamComponentParameter, InputArtifact, OutputArtifact)
from tfx.dsl.component.experimental.decorators import component
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from coco_captions import progress

# Raw caption rows (CsvExampleGen's features).
RAW_IMAGE_ID = 'image_id'
RAW_CAPTION_ID = 'id'
RAW_CAPTION = 'caption'
RAW_IMAGE_NAME = 'image_name'

# Per-image features (this component's output, preprocessing_fn's input).
IMAGE_ID = 'image_id'
IMAGE_NAME = 'image_name'
CAPTIONS = 'captions'
CAPTION_IDS = 'caption_ids'

SCHEMA_FILE = 'schema.pbtxt'
# The name its progress is shown under (coco_captions.progress).
PROGRESS_TASK = 'GroupCaptionsByImage'
_COUNTER_NAMESPACE = 'GroupCaptionsByImage.'
# The file name CsvExampleGen gives its output shards.
_FILE_PREFIX = 'data_tfrecord'


class ConflictingImageNameError(ValueError):
  """Rows of one image_id name different image files."""


def feature_spec():
  """The tf.io feature spec of the per-image examples."""
  return {
      IMAGE_ID: tf.io.FixedLenFeature([1], tf.int64),
      IMAGE_NAME: tf.io.FixedLenFeature([1], tf.string),
      CAPTIONS: tf.io.VarLenFeature(tf.string),
      CAPTION_IDS: tf.io.VarLenFeature(tf.int64),
  }


def per_image_schema():
  """The schema of the per-image examples (a tensorflow_metadata Schema)."""
  from tensorflow_transform.tf_metadata import schema_utils
  return schema_utils.schema_from_feature_spec(feature_spec())


def _one(example: tf.train.Example, name: str):
  feature = example.features.feature[name]
  values = (feature.int64_list.value or feature.bytes_list.value)
  return values[0] if values else None


def keyed_caption(serialized: bytes) -> Tuple[int, Tuple[int, bytes, bytes]]:
  """(image_id, (caption_id, caption, image_name)) of one raw caption row."""
  example = tf.train.Example.FromString(serialized)
  return (_one(example, RAW_IMAGE_ID),
          (_one(example, RAW_CAPTION_ID), _one(example, RAW_CAPTION),
           _one(example, RAW_IMAGE_NAME)))


def image_example(image_id: int,
                  captions: Iterable[Tuple[int, bytes, bytes]]
                  ) -> tf.train.Example:
  """The per-image example of `image_id` from its (id, caption, name) rows."""
  rows: List[Tuple[int, bytes, bytes]] = sorted(captions)
  names = sorted({name for _, _, name in rows})
  if len(names) > 1:
    raise ConflictingImageNameError(
        f'image_id {image_id} names {len(names)} different image files: '
        + ', '.join(n.decode('utf-8', 'replace') for n in names))

  def int64s(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  def strings(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_ID: int64s([image_id]),
      IMAGE_NAME: strings(names),
      CAPTIONS: strings([caption for _, caption, _ in rows]),
      CAPTION_IDS: int64s([caption_id for caption_id, _, _ in rows]),
  }))


class GroupByImage(beam.PTransform):
  """Serialized caption-row tf.Examples -> serialized per-image tf.Examples."""

  def __init__(self, counter_namespace: str = 'GroupCaptionsByImage',
               split: str = ''):
    super().__init__()
    self._images = beam.metrics.Metrics.counter(counter_namespace, 'images')
    # Beam counters are read when the pipeline ends; these counts are shown
    # while it runs (coco_captions.progress).
    self._split = split

  def _keyed(self, serialized: bytes):
    progress.count(PROGRESS_TASK, 'caption rows', self._split)
    return keyed_caption(serialized)

  def _example(self, keyed) -> bytes:
    self._images.inc()
    progress.count(PROGRESS_TASK, 'images', self._split)
    return image_example(*keyed).SerializeToString()

  def expand(self, serialized_rows):
    return (serialized_rows
            | 'KeyByImage' >> beam.Map(self._keyed)
            | 'GroupByKey' >> beam.GroupByKey()
            | 'ToExample' >> beam.Map(self._example))


@component(use_beam=True)
def GroupCaptionsByImage(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    image_examples: OutputArtifact[standard_artifacts.Examples],
    image_schema: OutputArtifact[standard_artifacts.Schema],
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
):
  """Groups the caption rows of every split of `examples` by image.

  Args:
    examples: caption rows, one tf.Example each (CsvExampleGen's output).
    image_examples: output; one tf.Example per image, same splits, gzipped
      TFRecords.
    image_schema: output; the schema of `image_examples` (schema.pbtxt).
      Its own output name: TFX's Airflow runner names artifacts by output
      name and run, and ImportSchemaGen's Schema is `schema`.
    beam_pipeline: the pipeline's Beam options apply (TFX supplies it).
  """
  splits = artifact_utils.decode_split_names(examples.split_names)
  image_examples.split_names = artifact_utils.encode_split_names(splits)
  examples_utils.set_payload_format(
      image_examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
  pipeline = beam_pipeline
  for split in splits:
    source = artifact_utils.get_split_uri([examples], split)
    target = artifact_utils.get_split_uri([image_examples], split)
    _ = (pipeline
         | f'Read[{split}]' >> beam.io.ReadFromTFRecord(
             os.path.join(source, '*'),
             compression_type=beam.io.filesystem.CompressionTypes.GZIP)
         | f'Group[{split}]' >> GroupByImage(_COUNTER_NAMESPACE + split, split)
         | f'Write[{split}]' >> beam.io.WriteToTFRecord(
             os.path.join(target, _FILE_PREFIX), file_name_suffix='.gz'))
  try:
    result = pipeline.run()
    result.wait_until_finish()
  finally:
    progress.finish(PROGRESS_TASK)
  for split, count in _image_counts(result, splits).items():
    image_examples.set_int_custom_property(f'{split}_images', count)
  io_utils.write_pbtxt_file(os.path.join(image_schema.uri, SCHEMA_FILE),
                            per_image_schema())


def _image_counts(result, splits):
  """Split -> images written, where the runner reports Beam counters."""
  counts = {}
  try:
    counters = result.metrics().query(
        beam.metrics.MetricsFilter().with_name('images'))['counters']
  except (AttributeError, KeyError, NotImplementedError):
    return counts
  for counter in counters:
    namespace = counter.key.metric.namespace
    if namespace.startswith(_COUNTER_NAMESPACE):
      split = namespace[len(_COUNTER_NAMESPACE):]
      if split in splits:
        value = (counter.committed if counter.committed is not None
                 else counter.attempted)
        counts[split] = counts.get(split, 0) + int(value or 0)
  return counts
