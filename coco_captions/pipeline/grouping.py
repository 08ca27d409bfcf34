"""GroupCaptionsByImage: one example per image, holding every caption of it.

CsvExampleGen writes one row per caption, and ExampleValidator checks those
rows against the curated schema. After them (AnomaliesGate), this component
groups the rows of each split by `image_id` (a Beam GroupByKey) and reads,
checks and decodes each distinct image file once, so that the Trainer's
batches hold distinct images and neither Transform nor the Trainer reads an
image file. (The RetrievalEvaluator reads the caption rows and the eval
images again, as a client of the served model would.) Output, one example per
image: the per-image features of `coco_captions.features`
(`per_image_feature_spec`):

  image_id      int64, one value
  image_name    bytes, one value
  image_pixels  bytes, one value: the image decoded and resized by the module
                file's `encode_pixels` (a PNG of uint8 [size, size, 3])
  captions      bytes, one per caption, ordered by caption id
  caption_ids   int64, the caption ids in the same order

Captions are NFKC-normalised on the way (coco_captions/text.py); Transform
tokenises them and passes the pixels through.

A name that could leave the images root (coco_captions/paths.py) is refused
without being opened; every other file is read (`paths.read_image`) and
decoded with the module file's `encode_pixels`, the decoding the image
serving signature runs, imported on every worker from the user-code wheel
TFX builds of the module file's directory (coco_captions/pipeline/user_code.py).
What this component calls in the module file is stated in the module file's
docstring. Each bad image is reported with its reason and the rows that use
it, in `bad_images/<execution id>/SPLIT.jsonl` beside the output artifact
(`artifacts.bad_images_dir`), kept when the run fails. With `bad_images='fail'`
(the default) the run stops here naming them (`BadImagesError`); with
`'drop'` their rows are left out and counted in the artifact's
`SPLIT_bad_images` and `SPLIT_dropped_rows` properties. Data without an image
in each of train and eval stops the run here too (`NotEnoughImagesError`).

The component also writes the schema of its output, which Transform reads
(the Trainer is handed it too). Its counts of rows and images go to the
progress logger as it works (`_count`).
"""

import concurrent.futures
import json
import logging
import os
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.util import examples_utils, udf_utils
from tfx.dsl.component.experimental.annotations import (
    BeamComponentParameter, InputArtifact, OutputArtifact, Parameter)
from tfx.dsl.component.experimental.decorators import component
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from coco_captions import features, paths, text
from coco_captions.pipeline import configs, user_code
from coco_captions import artifacts

SCHEMA_FILE = 'schema.pbtxt'
# The name its progress is shown under.
PROGRESS_TASK = 'GroupCaptionsByImage'
# coco_captions.run.progress.COUNTS_LOGGER: in a process that shows progress
# (the local runner's) that module adds up the counts sent here; elsewhere
# they are DEBUG records below the log's level.
_PROGRESS = logging.getLogger('coco_captions.run.progress.counts')
_COUNTER_NAMESPACE = 'GroupCaptionsByImage.'
# Images read side by side and decoded in one call.
_DECODE_BATCH = 64
# The file name CsvExampleGen gives its output shards.
_FILE_PREFIX = 'data_tfrecord'
# The most bad images an error message names; the file lists all.
_NAMED_IN_MESSAGE = 5


def check_bad_images(bad_images: str) -> None:
  """Raises ValueError unless `bad_images` is one of BAD_IMAGES_CHOICES."""
  if bad_images not in configs.BAD_IMAGES_CHOICES:
    raise ValueError(f'bad_images must be one of '
                     f'{configs.BAD_IMAGES_CHOICES}, not {bad_images!r}')


class ConflictingImageNameError(ValueError):
  """Rows of one image_id name different image files."""


class BadImagesError(ValueError):
  """Images that cannot be used; the message names them and their rows."""


class NotEnoughImagesError(ValueError):
  """Too few images for a train and an eval split."""


def _count(unit: str, split: str):
  """Counts one `unit` of work done on `split`, for the progress line."""
  _PROGRESS.debug('%s: %s %s', PROGRESS_TASK, split, unit,
                  extra={'progress_count': (PROGRESS_TASK, unit, split, 1)})


def _end_count():
  """Ends the counts: the progress line shows the totals."""
  _PROGRESS.debug('%s: done', PROGRESS_TASK,
                  extra={'progress_count': (PROGRESS_TASK,)})


def _one(example: tf.train.Example, name: str):
  feature = example.features.feature[name]
  values = (feature.int64_list.value or feature.bytes_list.value)
  return values[0] if values else None


def keyed_caption(serialized: bytes) -> Tuple[int, Tuple[int, bytes, bytes]]:
  """(image_id, (caption_id, caption, image_name)) of one raw caption row."""
  example = tf.train.Example.FromString(serialized)
  return (_one(example, features.IMAGE_ID),
          (_one(example, features.CAPTION_ID), _one(example, features.CAPTION),
           _one(example, features.IMAGE_NAME)))


def image_example(image_id: int,
                  captions: Iterable[Tuple[int, bytes, bytes]],
                  pixels: bytes) -> tf.train.Example:
  """The per-image example of `image_id` from its (id, caption, name) rows
  and its stored `pixels` (`encode_pixels`)."""
  _, name, rows = image_rows((image_id, captions))

  def int64s(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

  def strings(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

  return tf.train.Example(features=tf.train.Features(feature={
      features.IMAGE_ID: int64s([image_id]),
      features.IMAGE_NAME: strings([name]),
      features.IMAGE_PIXELS: strings([pixels]),
      features.CAPTIONS: strings([text.normalize_caption(caption)
                                  for _, caption, _ in rows]),
      features.CAPTION_IDS: int64s([caption_id for caption_id, _, _ in rows]),
  }))


def image_rows(keyed) -> Tuple[int, bytes, List[Tuple[int, bytes, bytes]]]:
  """(image_id, image_name, rows in caption id order) of one grouped image."""
  image_id, captions = keyed
  rows = sorted(captions)
  names = sorted({name for _, _, name in rows})
  if len(names) > 1:
    raise ConflictingImageNameError(
        f'image_id {image_id} names {len(names)} different image files: '
        + ', '.join(n.decode('utf-8', 'replace') for n in names))
  return image_id, names[0], rows


class GroupRows(beam.PTransform):
  """Serialized caption-row tf.Examples -> `image_rows` tuples per image."""

  def __init__(self, split: str = ''):
    super().__init__()
    # Beam counters are read when the pipeline ends; these counts are shown
    # while it runs (`_count`).
    self._split = split

  def _keyed(self, serialized: bytes):
    _count('caption rows', self._split)
    return keyed_caption(serialized)

  def expand(self, serialized_rows):
    return (serialized_rows
            | 'KeyByImage' >> beam.Map(self._keyed)
            | 'GroupByKey' >> beam.GroupByKey()
            | 'ImageRows' >> beam.Map(image_rows))


# --- Reading, checking and decoding the images ----------------------------------


def pixel_encoder(module, image_size: int = 0, image_encoder: str = ''):
  """`encode(list of image bytes)` -> their stored pixels, with the module
  file's `encode_pixels` (`decode_and_resize_images`, the image serving
  signature's decoding, then a PNG).

  `module` is the imported module file (`user_code.load`). At `image_size`
  (0: the module file's default for `image_encoder`). A batch decodes on
  every core in one call; one bad image fails the whole call
  (tf.errors.OpError).
  """
  encode_pixels = module.encode_pixels
  image_size = image_size or default_image_size(module, image_encoder)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def encode(images):
    return encode_pixels(images, int(image_size))

  return lambda images: encode(tf.constant(images, tf.string)).numpy().tolist()


def default_image_size(module, image_encoder: str = '') -> int:
  """The size the module file stores images at when the pipeline sets none."""
  settings_of = getattr(module, 'image_encoder_settings', None)
  if settings_of is None:  # A module file without encoders: its DEFAULTS.
    return int(module.DEFAULTS['image_size'])
  config = {'image_encoder': image_encoder} if image_encoder else {}
  return settings_of(config, for_model=False).image_size


def encoded_images(images_root: str, names: List[bytes], encode, threads
                   ) -> List[Tuple[Optional[bytes], Optional[Tuple[str, str]]]]:
  """(stored pixels, None) or (None, (reason, detail)) for each of `names`.

  Files are read by `threads` (`paths.read_images`: an unsafe name or a link
  out of the root is refused, and anything but a regular file is not opened);
  the readable ones are then decoded in one `encode` call. Only a batch that
  fails is decoded again image by image, to find which images fail.
  """
  readable, images, unread = paths.read_images(images_root, names,
                                               threads.map)
  results = [(None, None)] * len(names)
  for i, error in unread:
    results[i] = (None, (error.reason, error.detail))
  if not readable:
    return results
  try:
    encoded = encode(images)
  except tf.errors.OpError:
    encoded = []
    for i, data in zip(readable, images):
      try:
        encoded.extend(encode([data]))
      except tf.errors.OpError as e:
        encoded.append(None)
        results[i] = (None, (
            'undecodable',
            f'{paths.shown(paths.image_path(images_root, names[i]))}: '
            f'{paths.first_line(e.message)}'))
  for i, pixels in zip(readable, encoded):
    if pixels is not None:
      results[i] = (pixels, None)
  return results


class _ImageExamples(beam.DoFn):
  """A batch of (image_name, [`image_rows` tuple]) -> per-image examples.

  Each file is read and decoded once, however many image_ids name it. An
  image that cannot be used gives a bad-image record on the `BAD` output
  instead of examples. The user code (`user_code.UserCode`) travels with this
  DoFn and is imported from its own copy on every worker (Dataflow, Flink,
  Spark, a multi-process DirectRunner, this process alike).
  """

  BAD = 'bad'

  def __init__(self, images_root: str, code: user_code.UserCode,
               image_size: int, split: str = ''):
    super().__init__()
    self._images_root = images_root
    self._code = code
    self._image_size = image_size
    # Beam counters are read when the pipeline ends; `_count`'s counts are
    # shown while it runs.
    self._split = split
    self._images = beam.metrics.Metrics.counter(_COUNTER_NAMESPACE + split,
                                                'images')
    self._encode = None
    self._threads = None

  def setup(self):
    self._encode = pixel_encoder(user_code.load(self._code), self._image_size)
    self._threads = concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1)

  def teardown(self):
    if self._threads:
      self._threads.shutdown()

  def process(self, batch):
    results = encoded_images(self._images_root, [name for name, _ in batch],
                             self._encode, self._threads)
    for (name, images), (pixels, problem) in zip(batch, results):
      _count('images decoded', self._split)
      images = sorted(images)
      if problem:
        yield beam.pvalue.TaggedOutput(self.BAD, {
            'image_name': name, 'reason': problem[0], 'detail': problem[1],
            'image_ids': [image_id for image_id, _, _ in images],
            'caption_ids': [c for _, _, rows in images for c, _, _ in rows]})
        continue
      for image_id, _, rows in images:
        self._images.inc()
        yield image_example(image_id, rows, pixels).SerializeToString()


class ImageExamples(beam.PTransform):
  """Serialized caption-row tf.Examples -> (serialized per-image tf.Examples,
  bad-image records).

  A record: image_name (bytes), reason (`unsafe_name`, `missing`,
  `not_a_file`, `unreadable`, `empty_file`, `too_large`, `undecodable`),
  detail, and the image_ids and
  caption ids of the rows that use it; those rows get no example. Images are
  decoded by `code`'s `encode_pixels` at `image_size`.
  """

  def __init__(self, images_root: str, code: user_code.UserCode,
               image_size: int, split: str = ''):
    super().__init__()
    self._split = split
    self._examples = _ImageExamples(images_root, code, image_size, split)

  def expand(self, serialized_rows):
    results = (serialized_rows
               | 'GroupRows' >> GroupRows(self._split)
               | 'KeyByName' >> beam.Map(lambda g: (g[1], g))
               | 'GroupByName' >> beam.GroupByKey()
               | 'Batch' >> beam.BatchElements(
                   min_batch_size=1, max_batch_size=_DECODE_BATCH)
               | 'Decode' >> beam.ParDo(self._examples).with_outputs(
                   _ImageExamples.BAD, main='examples'))
    return results.examples, results[_ImageExamples.BAD]


def _bad_image_line(record) -> str:
  return json.dumps(
      {**record,
       'image_name': record['image_name'].decode('utf-8', 'backslashreplace')},
      sort_keys=True, ensure_ascii=False)


def read_bad_images(image_examples_uri: str, split: str) -> List[dict]:
  """The bad-image records of `split` as written by GroupCaptionsByImage."""
  path = os.path.join(artifacts.bad_images_dir(image_examples_uri),
                      f'{split}.jsonl')
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return sorted((json.loads(line) for line in f if line.strip()),
                  key=lambda r: r['image_name'])


def bad_images_message(bad: Dict[str, List[dict]], listing: str) -> str:
  """One line naming the bad images (the first few) and the rows using them."""
  records = sorted((r for rs in bad.values() for r in rs),
                   key=lambda r: r['image_name'])
  rows = sum(len(r['caption_ids']) for r in records)
  named = []
  for r in records[:_NAMED_IN_MESSAGE]:
    ids = ', '.join(map(str, r['caption_ids'][:3])) + (
        ', ...' if len(r['caption_ids']) > 3 else '')
    image_ids = ', '.join(map(str, r['image_ids'][:3])) + (
        ', ...' if len(r['image_ids']) > 3 else '')
    named.append(f"{paths.shown(r['image_name'])} ({r['reason']}: "
                 f"{paths.bounded(r['detail'])}; image_id {image_ids}, "
                 f'caption ids {ids})')
  more = (f' and {len(records) - _NAMED_IN_MESSAGE} more'
          if len(records) > _NAMED_IN_MESSAGE else '')
  return (f'{len(records)} image(s) cannot be used, by {rows} caption '
          f'row(s): ' + '; '.join(named) + more +
          f'. All are listed in {listing}. Fix or remove them, or run with '
          "--bad_images=drop to leave their rows out.")


def split_count_problem(counts: Dict[str, int]) -> Optional[str]:
  """Why the images per split cannot train and evaluate a model, or None."""
  total = sum(counts.values())
  if total < 2:
    return (f'the data has {total} usable image(s); retrieval needs at least '
            'two: one to train on and one to evaluate')
  empty = [split for split, count in sorted(counts.items()) if not count]
  if empty:
    return (f'the {" and ".join(empty)} split has no images, of {total}: '
            'images are split by a hash of image_id, about 1 in 5 to eval, '
            'so add images')
  return None


@component(use_beam=True)
def GroupCaptionsByImage(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    image_examples: OutputArtifact[standard_artifacts.Examples],
    image_schema: OutputArtifact[standard_artifacts.Schema],
    images_root: Parameter[str],
    module_file: Parameter[str] = '',
    module_path: Parameter[str] = '',
    image_size: Parameter[int] = 0,
    image_encoder: Parameter[str] = '',
    bad_images: Parameter[str] = configs.BAD_IMAGES,
    images_fingerprint: Parameter[str] = '',
    features_digest: Parameter[str] = '',
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
):
  """Groups the caption rows of every split of `examples` by image.

  Args:
    examples: caption rows, one tf.Example each (CsvExampleGen's output).
    image_examples: output; one tf.Example per image, same splits, gzipped
      TFRecords; `artifacts.bad_images_dir(uri)/SPLIT.jsonl` lists the bad
      images.
    image_schema: output; the schema of `image_examples` (schema.pbtxt).
      Its own output name: TFX's Airflow runner names artifacts by output
      name and run, and ImportSchemaGen's Schema is `schema`.
    images_root: directory or URI that `image_name` is relative to.
    module_file: the module file whose `encode_pixels` decodes the images;
      TFX replaces it with `module_path` when it packages the user code
      (`add_user_code`).
    module_path: `'<module>@<user-code wheel URI>'`, set by TFX: the module
      file and the `.py` files beside it, as the pipeline was built with
      them. Its wheel's name carries a digest of that code, so editing it
      invalidates TFX's cache of this component.
    image_size: the size images are stored at (0: the module file's default
      for `image_encoder`).
    image_encoder: the model's `image_encoder` ('': the module file's).
    bad_images: 'fail' stops the run on any bad image, naming them; 'drop'
      leaves their rows out and counts them.
    images_fingerprint: not read; changes when an image changes, so that
      TFX's cache checks the images again.
    features_digest: not read; `coco_captions.features.digest()`, so that
      an edit to the feature names, outside the user-code wheel, runs this
      component again.
    beam_pipeline: the pipeline's Beam options apply (TFX supplies it).

  Raises:
    BadImagesError: with bad_images='fail', an image cannot be used.
    NotEnoughImagesError: a split has no images, or there is only one.
  """
  del images_fingerprint, features_digest
  check_bad_images(bad_images)
  splits = artifact_utils.decode_split_names(examples.split_names)
  image_examples.split_names = artifact_utils.encode_split_names(splits)
  examples_utils.set_payload_format(
      image_examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
  code = user_code.read(module_file, module_path)
  image_size = image_size or default_image_size(user_code.load(code),
                                                image_encoder)
  pipeline = beam_pipeline
  bad_dir = artifacts.bad_images_dir(image_examples.uri)
  for split in splits:
    source = artifact_utils.get_split_uri([examples], split)
    target = artifact_utils.get_split_uri([image_examples], split)
    rows = pipeline | f'Read[{split}]' >> beam.io.ReadFromTFRecord(
        os.path.join(source, '*'),
        compression_type=beam.io.filesystem.CompressionTypes.GZIP)
    written, bad = rows | f'Images[{split}]' >> ImageExamples(
        images_root, code, image_size, split)
    _ = written | f'Write[{split}]' >> beam.io.WriteToTFRecord(
        os.path.join(target, _FILE_PREFIX), file_name_suffix='.gz')
    _ = (bad
         | f'BadLines[{split}]' >> beam.Map(_bad_image_line)
         | f'WriteBad[{split}]' >> beam.io.WriteToText(
             os.path.join(bad_dir, split), file_name_suffix='.jsonl',
             num_shards=1, shard_name_template=''))
  try:
    result = pipeline.run()
    result.wait_until_finish()
  finally:
    _end_count()

  bad = {split: read_bad_images(image_examples.uri, split) for split in splits}
  for split, records in bad.items():
    image_examples.set_int_custom_property(f'{split}_bad_images',
                                           len(records))
    image_examples.set_int_custom_property(
        f'{split}_dropped_rows',
        sum(len(r['caption_ids']) for r in records)
        if bad_images == 'drop' else 0)
  if bad_images == 'fail' and any(bad.values()):
    raise BadImagesError(bad_images_message(bad, bad_dir))

  counts = _image_counts(result, splits)
  for split in splits:
    if split not in counts:
      counts[split] = _count_records(
          artifact_utils.get_split_uri([image_examples], split))
    image_examples.set_int_custom_property(f'{split}_images', counts[split])
  # The totals in the log wherever the live progress line is not shown
  # (Kubeflow and Airflow tasks, Beam workers).
  logging.info('%s: %s', PROGRESS_TASK, ', '.join(
      f'{split} {counts[split]:,} images' for split in splits))
  problem = split_count_problem(counts)
  if problem:
    raise NotEnoughImagesError(f'Not enough images to train and evaluate: '
                               f'{problem}.')
  io_utils.write_pbtxt_file(os.path.join(image_schema.uri, SCHEMA_FILE),
                            features.per_image_schema())


def add_user_code(group_by_image) -> None:
  """Has TFX package the module file and the `.py` files beside it into a
  user-code wheel under the pipeline root when the pipeline is compiled or
  run, as it does for Transform and the Trainer, and hand this component
  `module_path` instead of the module file's path."""
  if udf_utils.should_package_user_modules():
    udf_utils.add_user_module_dependency(group_by_image, 'module_file',
                                         'module_path')


def _count_records(split_uri: str) -> int:
  files = tf.io.gfile.glob(os.path.join(split_uri, '*'))
  if not files:
    return 0
  return int(tf.data.TFRecordDataset(files, compression_type='GZIP').reduce(
      tf.constant(0, tf.int64), lambda n, _: n + 1))


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
