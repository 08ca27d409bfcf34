"""The plain baselines the pipeline's components are measured against.

Each runs in its own process and prints one JSON object on its last line:

  python -m benchmarks.baselines tfdata --data_root DIR --images_root DIR
      The same caption cleaning, tokenizing (vocabulary from a full pass) and
      image read + decode + resize to uint8 pixels as GroupCaptionsByImage
      and `preprocessing_fn` together, each distinct image once, as a plain
      tf.data loop in this one process.
      -> rows, images, seconds, captions/s.
  python -m benchmarks.baselines images --data_root DIR --images_root DIR
      Only the image read + decode + resize, each distinct image once, with
      tf.data on all cores: the least work any pipeline must do. -> images/s.
  python -m benchmarks.baselines keras --transform_graph URI --examples URI \\
      --train_steps N --batch_size B
      The module file's model trained with `model.fit` for the same steps and
      batch size on transformed examples already in memory. -> examples/s.

  python -m benchmarks.baselines encoder --data_root DIR --images_root DIR \
      --image_encoder NAME [--image_size N] --train_steps N --batch_size B \
      [--fine_tune_layers N]
      One image encoder's costs at its image size: every image decoded with
      `encode_pixels`, then `preprocessing_fn` run by tf.Transform on Beam
      (analyse and transform, write the transformed examples), then `model.fit` on those examples in memory,
      frozen encoder (the heads phase) and with its top layers unfrozen;
      each the fastest of two runs. -> images/s of Transform, examples/s of
      each phase.

  python -m benchmarks.baselines fingerprint --data_root DIR --images_root DIR
      How the pipeline notices changed files (`up_to_date`: every file's
      name, size, modification and inode change times) against hashing
      every byte of them (SHA-256), each the fastest of three passes, with
      the files in the page cache. -> files, bytes, seconds of each.

All but `fingerprint` use the module file's own functions (`clean_captions`,
`decode_and_resize_images`, `model_inputs`) and its model's (`build_model`,
coco_captions_model.py), so the work is the work the pipeline does.
"""

import argparse
import collections
import glob
import json
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence

from coco_captions import features
from coco_captions.pipeline import configs


def _module():
  sys.path.insert(0, os.path.dirname(configs.MODULE_FILE))
  import coco_captions_utils  # pylint: disable=import-outside-toplevel
  return coco_captions_utils


def _model_code():
  """The model beside the module file (coco_captions_model.py)."""
  _module()
  import coco_captions_model  # pylint: disable=import-outside-toplevel
  return coco_captions_model


def _csv_rows(data_root: str):
  """(image_id, caption, image_name) per row of every CSV under `data_root`."""
  import tensorflow as tf
  files = sorted(glob.glob(os.path.join(data_root, configs.CSV_PATTERN)))
  columns = list(features.CSV_COLUMNS)
  wanted = [columns.index(c)
            for c in (features.IMAGE_ID, features.CAPTION, features.IMAGE_NAME)]
  # One default (and type) per selected column, in file order.
  defaults = [tf.constant([], tf.int64), tf.constant([], tf.string),
              tf.constant([], tf.string)]
  return tf.data.experimental.CsvDataset(
      files, defaults, header=True, select_cols=wanted)


def _distinct_image_names(data_root: str):
  """The image names of every CSV under `data_root`, each once, in order."""
  import tensorflow as tf
  names = {}
  for batch in _csv_rows(data_root).batch(4096):
    names.update(dict.fromkeys(batch[2].numpy().tolist()))
  return tf.data.Dataset.from_tensor_slices(
      tf.constant(list(names), tf.string))


def _decode_distinct_images(data_root: str, images_root: str,
                            image_size: int, batch_size: int) -> int:
  """Reads, decodes and serializes each distinct image once, as
  GroupCaptionsByImage stores them (uncompressed), with tf.data on all cores;
  returns how many."""
  import tensorflow as tf
  module = _module()
  root = images_root.rstrip('/')
  batches = (_distinct_image_names(data_root)
             .map(lambda name: tf.io.read_file(
                 tf.strings.join([root, name], separator='/')),
                  num_parallel_calls=tf.data.AUTOTUNE)
             .batch(batch_size)
             .map(lambda image_bytes: tf.map_fn(
                 tf.io.serialize_tensor,
                 module.decode_and_resize_images(image_bytes, image_size),
                 fn_output_signature=tf.TensorSpec([], tf.string)),
                  num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
  return sum(int(batch.shape[0]) for batch in batches)


def images_baseline(data_root: str, images_root: str,
                    image_size: Optional[int] = None,
                    batch_size: int = 256) -> Dict[str, Any]:
  """Times reading, decoding and resizing each distinct image once."""
  image_size = image_size or _module().image_encoder_settings({}).image_size
  start = time.perf_counter()
  images = _decode_distinct_images(data_root, images_root, image_size,
                                   batch_size)
  seconds = time.perf_counter() - start
  return {'images': images, 'seconds': seconds, 'images_per_s': images / seconds}


def tfdata_baseline(data_root: str, images_root: str,
                    image_size: Optional[int] = None,
                    max_tokens: Optional[int] = None,
                    batch_size: int = 256) -> Dict[str, Any]:
  """Times preprocessing_fn's work as a plain tf.data loop; returns figures."""
  import tensorflow as tf
  module = _module()
  image_size = image_size or module.image_encoder_settings({}).image_size
  max_tokens = max_tokens or module.DEFAULTS['max_caption_tokens']
  start = time.perf_counter()

  # Pass 1, the analyzers: token frequencies and the longest caption.
  counts = collections.Counter()
  longest = 0
  tokens = _csv_rows(data_root).batch(batch_size).map(
      lambda _, caption, __: tf.strings.split(module.clean_captions(caption)),
      num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
  for batch in tokens:
    counts.update(batch.flat_values.numpy().tolist())
    lengths = batch.row_lengths().numpy()
    longest = max(longest, int(lengths.max()) if len(lengths) else 0)
  length = min(longest, max_tokens)
  # Most frequent first, ties by token, as tft.compute_and_apply_vocabulary.
  vocabulary = sorted(counts, key=lambda t: (-counts[t], t))
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(vocabulary, tf.string),
          tf.range(1, len(vocabulary) + 1, dtype=tf.int64)),
      default_value=len(vocabulary) + 1)

  # Pass 2, the transform: token ids padded to L, and each distinct image
  # decoded once.
  def token_ids(image_id, caption, _):
    words = tf.strings.split(module.clean_captions(caption))[:, :length]
    return image_id, table.lookup(words).to_tensor(
        default_value=features.PAD_ID, shape=[None, length])

  rows = 0
  for image_ids, _ in (_csv_rows(data_root).batch(batch_size)
                       .map(token_ids, num_parallel_calls=tf.data.AUTOTUNE)
                       .prefetch(tf.data.AUTOTUNE)):
    rows += int(image_ids.shape[0])
  images = _decode_distinct_images(data_root, images_root, image_size,
                                   batch_size)
  seconds = time.perf_counter() - start
  return {'rows': rows, 'images': images, 'seconds': seconds,
          'captions_per_s': rows / seconds,
          'vocabulary_size': len(vocabulary), 'caption_length': length}


def keras_baseline(transform_graph: str, examples: str, train_steps: int,
                   batch_size: int, seed: int = 0) -> Dict[str, Any]:
  """Times `model.fit` of the module's model on in-memory transformed data."""
  import numpy as np
  import tensorflow as tf
  import tensorflow_transform as tft
  module = _module()
  output = tft.TFTransformOutput(transform_graph)
  length = module.caption_length(output)
  spec = output.transformed_feature_spec()
  files = sorted(glob.glob(os.path.join(examples, 'Split-train', '*')))
  parsed = (tf.data.TFRecordDataset(files, compression_type='GZIP')
            .take(train_steps * batch_size).batch(1024)
            .map(lambda r: tf.io.parse_example(r, spec)))
  # The size Transform stored the images at, from the first stored image.
  first = next(iter(parsed))[features.IMAGE_PIXELS]
  size = int(tf.io.decode_png(tf.reshape(first, [-1])[0]).shape[0])
  inputs, image_ids = {}, []
  for batch in parsed:
    for name, tensor in module.model_inputs(batch, length, size, epoch=0,
                                            seed=seed).items():
      inputs.setdefault(name, []).append(tensor.numpy())
    image_ids.append(tf.reshape(batch[features.IMAGE_ID], [-1]).numpy())
  inputs = {name: np.concatenate(parts) for name, parts in inputs.items()}
  image_ids = np.concatenate(image_ids)
  rows = len(image_ids)
  batch_size = min(batch_size, rows)

  import tf_keras as keras
  keras.utils.set_random_seed(seed)
  defaults = module.DEFAULTS
  model_code = _model_code()
  model = model_code.build_model(
      vocab_size=module.vocabulary_size(output), length=length,
      size=size, embedding_dim=defaults['embedding_dim'],
      learning_rate=model_code.learning_rate_schedule(
          defaults['learning_rate'], train_steps, defaults['warmup_fraction']),
      temperature=defaults['temperature'])
  # Already in memory: slicing tensors, no parsing, no files; batches of
  # distinct images, as the Trainer's.
  dataset = (tf.data.Dataset.from_tensor_slices((inputs, image_ids))
             .shuffle(rows, seed=seed).repeat()
             .batch(batch_size, drop_remainder=True)
             .prefetch(tf.data.AUTOTUNE))
  start = time.perf_counter()
  model.fit(dataset, epochs=1, steps_per_epoch=train_steps, verbose=0)
  seconds = time.perf_counter() - start
  return {'rows_in_memory': rows, 'steps': train_steps,
          'batch_size': batch_size, 'seconds': seconds,
          'examples_per_s': train_steps * batch_size / seconds}


def per_image_rows(data_root: str, images_root: str, image_size: int = 0):
  """The per-image examples GroupCaptionsByImage makes of the CSVs under
  `data_root`, as instance dicts ordered by image id, their images decoded
  at `image_size` (0: no `image_pixels`)."""
  import tensorflow as tf
  import csv
  images = {}
  for path in sorted(glob.glob(os.path.join(data_root, configs.CSV_PATTERN))):
    with open(path, newline='', encoding='utf-8') as f:
      for row in csv.DictReader(f):
        image_id = int(row[features.IMAGE_ID])
        image = images.setdefault(image_id, {
            features.IMAGE_ID: [image_id],
            features.IMAGE_NAME: [row[features.IMAGE_NAME].encode()],
            features.CAPTIONS: [], features.CAPTION_IDS: []})
        image[features.CAPTIONS].append(row[features.CAPTION].encode())
        image[features.CAPTION_IDS].append(int(row[features.CAPTION_ID]))
  rows = [images[i] for i in sorted(images)]
  if not image_size:
    return rows
  encode = tf.function(lambda images: _module().encode_pixels(images,
                                                               image_size))
  for start in range(0, len(rows), 256):
    batch = rows[start:start + 256]
    pixels = encode(tf.stack([tf.io.read_file(os.path.join(
        images_root, row[features.IMAGE_NAME][0].decode())) for row in batch]))
    for row, stored in zip(batch, pixels.numpy()):
      row[features.IMAGE_PIXELS] = [stored]
  return rows


def _transform(rows, config: Dict[str, Any], output_dir: str) -> str:
  """Runs preprocessing_fn over `rows` with tf.Transform on Beam, as the
  Transform component does, and writes the transformed examples; returns
  their file pattern."""
  import functools
  import apache_beam as beam
  import tensorflow_transform.beam as tft_beam
  from tensorflow_transform.tf_metadata import dataset_metadata
  from tfx_bsl.coders import example_coder
  module = _module()
  metadata = dataset_metadata.DatasetMetadata(features.per_image_schema())
  prefix = os.path.join(output_dir, 'transformed')
  with beam.Pipeline() as pipeline:
    with tft_beam.Context(temp_dir=os.path.join(output_dir, 'tmp')):
      raw = (pipeline | beam.Create(rows), metadata)
      (batches, transformed_metadata), _ = (
          raw | tft_beam.AnalyzeAndTransformDataset(
              functools.partial(module.preprocessing_fn, custom_config=config),
              output_record_batches=True))
      encoder = example_coder.RecordBatchToExamplesEncoder(
          transformed_metadata.schema)
      _ = (batches
           | beam.FlatMapTuple(lambda batch, _: encoder.encode(batch))
           | beam.io.WriteToTFRecord(prefix, file_name_suffix='.gz'))
  return prefix + '*.gz'


# Timed runs of each measurement; the fastest counts, the one least slowed by
# the other work of a shared machine.
REPEATS = 2


def _timed_fit(model, dataset, steps: int) -> float:
  """Seconds of `steps` training steps (the fastest of REPEATS runs), after
  as many untimed ones (the first traces the train function)."""
  model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
  runs = []
  for _ in range(REPEATS):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    runs.append(time.perf_counter() - start)
  return min(runs)


def encoder_baseline(data_root: str, images_root: str, image_encoder: str,
                     image_size: Optional[int], train_steps: int,
                     batch_size: int, fine_tune_layers: int,
                     seed: int = 0) -> Dict[str, Any]:
  """Times Transform and training steps with one image encoder."""
  import tempfile
  import numpy as np
  import tensorflow as tf
  import tf_keras as keras
  module = _module()
  # Random weights: a step costs what it costs with ImageNet's.
  settings = module.image_encoder_settings({
      'image_encoder': image_encoder, 'image_size': image_size,
      'image_encoder_weights': 'none' if module.encoders.is_pretrained(
          image_encoder) else None})
  size = settings.image_size
  with tempfile.TemporaryDirectory() as work:
    transform_runs = []
    for run in range(REPEATS):
      # Decoding (GroupCaptionsByImage's part) and Transform, as one.
      start = time.perf_counter()
      rows = per_image_rows(data_root, images_root, size)
      pattern = _transform(rows, {}, os.path.join(work, str(run)))
      transform_runs.append(time.perf_counter() - start)
    transform_seconds = min(transform_runs)
    stored = sum(os.path.getsize(f) for f in glob.glob(pattern))
    records = tf.data.TFRecordDataset(glob.glob(pattern),
                                      compression_type='GZIP')
    pixels = np.stack([
        module.parse_pixels(tf.io.parse_single_example(r, {
            features.IMAGE_PIXELS: tf.io.FixedLenFeature([], tf.string)})[
                features.IMAGE_PIXELS], size)[0].numpy()
        for r in records.take(batch_size * 4)])

  length = 16
  keras.utils.set_random_seed(seed)
  # Token ids do not change the cost of a step.
  token_ids = np.random.randint(1, 100, (len(pixels), length))
  batch_size = min(batch_size, len(pixels))
  dataset = (tf.data.Dataset.from_tensor_slices(
      ({features.IMAGE_PIXELS: pixels, features.CAPTION_TOKEN_IDS: token_ids},
       np.arange(len(pixels))))
             .repeat().batch(batch_size, drop_remainder=True)
             .prefetch(tf.data.AUTOTUNE))
  steps_per_execution = min(module.STEPS_PER_EXECUTION, train_steps)
  model_code = _model_code()
  model = model_code.build_model(
      vocab_size=101, length=length, size=size,
      embedding_dim=module.DEFAULTS['embedding_dim'],
      learning_rate=module.DEFAULTS['learning_rate'],
      steps_per_execution=steps_per_execution, image_encoder=settings)
  phases = {'train' if not module.encoders.is_pretrained(image_encoder)
            else 'heads': _timed_fit(model, dataset, train_steps)}
  encoder = model_code.image_encoder_of(model)
  if encoder is not None and fine_tune_layers:
    model_code.unfreeze_top_layers(encoder, fine_tune_layers)
    model_code.compile_model(model, module.DEFAULTS['learning_rate'],
                         steps_per_execution)
    phases['fine_tune'] = _timed_fit(model, dataset, train_steps)
  return {
      'image_encoder': image_encoder,
      'image_size': size,
      'images': len(rows),
      'transform_seconds': transform_seconds,
      'transform_seconds_runs': transform_runs,
      'transform_images_per_s': len(rows) / transform_seconds,
      'transformed_kib_per_image': stored / 1024 / len(rows),
      'batch_size': batch_size,
      'steps': train_steps,
      'fine_tune_layers': fine_tune_layers if 'fine_tune' in phases else 0,
      'parameters': model.count_params(),
      'train_seconds': phases,
      'train_examples_per_s': {
          phase: train_steps * batch_size / seconds
          for phase, seconds in phases.items()},
  }


def _fastest(fn, runs: int = 3) -> float:
  best = float('inf')
  for _ in range(runs):
    start = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - start)
  return best


def fingerprint_baseline(data_root: str, images_root: str) -> Dict[str, Any]:
  """Seconds of the stat-based fingerprints and of hashing every byte."""
  import hashlib  # pylint: disable=import-outside-toplevel
  from coco_captions.run import up_to_date  # pylint: disable=import-outside-toplevel
  files = sorted(
      [p for p in glob.glob(os.path.join(data_root, configs.CSV_PATTERN))] +
      [os.path.join(d, n) for d, _, names in os.walk(images_root)
       for n in names])

  def hash_all():
    digest = hashlib.sha256()
    for path in files:
      with open(path, 'rb') as f:
        digest.update(hashlib.file_digest(f, 'sha256').digest())
    return digest.hexdigest()

  hash_all()  # Into the page cache.
  stat = _fastest(lambda: (
      up_to_date.data_fingerprint(data_root, configs.CSV_PATTERN),
      up_to_date.directory_fingerprint(images_root)))
  hashed = _fastest(hash_all)
  return {'files': len(files),
          'bytes': sum(os.path.getsize(p) for p in files),
          'stat_seconds': stat, 'hash_seconds': hashed,
          'hash_over_stat': hashed / stat}


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  sub = parser.add_subparsers(dest='baseline', required=True)
  for name in ('tfdata', 'images', 'fingerprint'):
    data = sub.add_parser(name)
    data.add_argument('--data_root', required=True)
    data.add_argument('--images_root', required=True)
  keras = sub.add_parser('keras')
  keras.add_argument('--transform_graph', required=True)
  keras.add_argument('--examples', required=True)
  keras.add_argument('--train_steps', type=int, required=True)
  keras.add_argument('--batch_size', type=int, required=True)
  encoder = sub.add_parser('encoder')
  encoder.add_argument('--data_root', required=True)
  encoder.add_argument('--images_root', required=True)
  encoder.add_argument('--image_encoder', required=True)
  encoder.add_argument('--image_size', type=int, default=None)
  encoder.add_argument('--train_steps', type=int, required=True)
  encoder.add_argument('--batch_size', type=int, required=True)
  encoder.add_argument('--fine_tune_layers', type=int, default=0)
  args = parser.parse_args(argv)
  if args.baseline == 'encoder':
    result = encoder_baseline(args.data_root, args.images_root,
                              args.image_encoder, args.image_size,
                              args.train_steps, args.batch_size,
                              args.fine_tune_layers)
  elif args.baseline == 'tfdata':
    result = tfdata_baseline(args.data_root, args.images_root)
  elif args.baseline == 'images':
    result = images_baseline(args.data_root, args.images_root)
  elif args.baseline == 'fingerprint':
    result = fingerprint_baseline(args.data_root, args.images_root)
  else:
    result = keras_baseline(args.transform_graph, args.examples,
                            args.train_steps, args.batch_size)
  print(json.dumps(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
