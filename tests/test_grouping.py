"""GroupCaptionsByImage's Beam transform: caption rows -> one example per image."""

import apache_beam as beam
from apache_beam.testing import test_pipeline, util
import pytest
import tensorflow as tf

from coco_captions import grouping


def _row(image_id, caption_id, caption, image_name):
  """A raw caption row as CsvExampleGen writes it (other columns omitted)."""
  return tf.train.Example(features=tf.train.Features(feature={
      'image_id': tf.train.Feature(int64_list=tf.train.Int64List(
          value=[image_id])),
      'id': tf.train.Feature(int64_list=tf.train.Int64List(value=[caption_id])),
      'caption': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[caption.encode()])),
      'image_name': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[image_name.encode()])),
      'image_license': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'CC0'])),
  })).SerializeToString()


def _parsed(serialized):
  """(image_id, image_name, captions, caption_ids) of a per-image example."""
  parsed = tf.io.parse_single_example(serialized, grouping.feature_spec())
  return (int(parsed['image_id'][0]), parsed['image_name'][0].numpy().decode(),
          [c.decode() for c in tf.sparse.to_dense(parsed['captions']).numpy()],
          tf.sparse.to_dense(parsed['caption_ids']).numpy().tolist())


ROWS = [
    _row(7, 72, 'a blue box', 'b.jpg'),
    _row(3, 31, 'a red disc', 'a.png'),
    _row(7, 70, 'a box, blue', 'b.jpg'),
    _row(3, 30, 'red circle', 'a.png'),
    _row(7, 71, 'one blue square', 'b.jpg'),
    _row(9, 90, 'alone', 'c.jpg'),
]


def test_groups_every_caption_of_an_image_in_caption_id_order():
  with test_pipeline.TestPipeline() as pipeline:
    grouped = (pipeline | beam.Create(ROWS) | grouping.GroupByImage()
               | beam.Map(_parsed))
    util.assert_that(grouped, util.equal_to([
        (3, 'a.png', ['red circle', 'a red disc'], [30, 31]),
        (7, 'b.jpg', ['a box, blue', 'one blue square', 'a blue box'],
         [70, 71, 72]),
        (9, 'c.jpg', ['alone'], [90]),
    ]))


def test_rows_of_one_image_id_naming_two_files_are_an_error():
  with pytest.raises(grouping.ConflictingImageNameError,
                     match=r'image_id 7 names 2 different image files: '
                     r'b\.jpg, other\.jpg'):
    grouping.image_example(7, [(70, b'x', b'b.jpg'), (71, b'y', b'other.jpg')])


def test_the_schema_describes_the_examples_it_goes_with():
  from tensorflow_transform.tf_metadata import schema_utils
  spec = schema_utils.schema_as_feature_spec(
      grouping.per_image_schema()).feature_spec
  assert spec == grouping.feature_spec()
  example = grouping.image_example(3, [(30, b'red circle', b'a.png')])
  assert _parsed(example.SerializeToString()) == (
      3, 'a.png', ['red circle'], [30])


class _Counter:
  def __init__(self, namespace, committed, attempted=None):
    self.key = type('Key', (), {'metric': type('Metric', (), {
        'namespace': namespace})()})()
    self.committed, self.attempted = committed, attempted


def test_image_counts_are_read_per_split_from_the_runners_counters():
  counters = [_Counter('GroupCaptionsByImage.train', 240),
              _Counter('GroupCaptionsByImage.eval', None, attempted=60),
              # Another split's or another transform's counter is not counted.
              _Counter('GroupCaptionsByImage.test', 7),
              _Counter('SomethingElse', 99)]
  result = type('Result', (), {'metrics': lambda self: type('M', (), {
      'query': lambda self, _: {'counters': counters}})()})()
  assert grouping._image_counts(result, ['train', 'eval']) == {  # pylint: disable=protected-access
      'train': 240, 'eval': 60}
