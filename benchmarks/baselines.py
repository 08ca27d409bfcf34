"""The plain baselines the pipeline's components are measured against.

Each runs in its own process and prints one JSON object on its last line:

  python -m benchmarks.baselines tfdata --data_root DIR --images_root DIR
      The same caption cleaning, tokenizing (vocabulary from a full pass) and
      image read + decode + resize to uint8 pixels as `preprocessing_fn`, each
      distinct image once, as a plain tf.data loop in this one process.
      -> rows, images, seconds, captions/s.
  python -m benchmarks.baselines images --data_root DIR --images_root DIR
      Only the image read + decode + resize, each distinct image once, with
      tf.data on all cores: the least work any pipeline must do. -> images/s.
  python -m benchmarks.baselines keras --transform_graph URI --examples URI \\
      --train_steps N --batch_size B
      The module file's model trained with `model.fit` for the same steps and
      batch size on transformed examples already in memory. -> examples/s.

All use the module file's own functions (`clean_captions`,
`decode_and_resize_images`, `build_model`, `model_inputs`), so the work is the
work the pipeline does.
"""

import argparse
import collections
import glob
import json
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence

from coco_captions import configs


def _module():
  sys.path.insert(0, os.path.dirname(configs.MODULE_FILE))
  import coco_captions_utils  # pylint: disable=import-outside-toplevel
  return coco_captions_utils


def _csv_rows(data_root: str):
  """(image_id, caption, image_name) per row of every CSV under `data_root`."""
  import tensorflow as tf
  files = sorted(glob.glob(os.path.join(data_root, configs.CSV_PATTERN)))
  columns = list(configs.CSV_COLUMNS)
  wanted = [columns.index(c) for c in ('image_id', 'caption', 'image_name')]
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
  preprocessing_fn stores them, with tf.data on all cores; returns how many."""
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
        default_value=module.PAD_ID, shape=[None, length])

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
  first = next(iter(parsed))[module.IMAGE_PIXELS]
  size = int(tf.io.parse_tensor(tf.reshape(first, [-1])[0], tf.uint8).shape[0])
  inputs, image_ids = {}, []
  for batch in parsed:
    for name, tensor in module.model_inputs(batch, length, size, epoch=0,
                                            seed=seed).items():
      inputs.setdefault(name, []).append(tensor.numpy())
    image_ids.append(tf.reshape(batch[module.IMAGE_ID], [-1]).numpy())
  inputs = {name: np.concatenate(parts) for name, parts in inputs.items()}
  image_ids = np.concatenate(image_ids)
  rows = len(image_ids)
  batch_size = min(batch_size, rows)

  import tf_keras as keras
  keras.utils.set_random_seed(seed)
  defaults = module.DEFAULTS
  model = module.build_model(
      vocab_size=module.vocabulary_size(output), length=length,
      size=size, embedding_dim=defaults['embedding_dim'],
      learning_rate=module.learning_rate_schedule(
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


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  sub = parser.add_subparsers(dest='baseline', required=True)
  for name in ('tfdata', 'images'):
    data = sub.add_parser(name)
    data.add_argument('--data_root', required=True)
    data.add_argument('--images_root', required=True)
  keras = sub.add_parser('keras')
  keras.add_argument('--transform_graph', required=True)
  keras.add_argument('--examples', required=True)
  keras.add_argument('--train_steps', type=int, required=True)
  keras.add_argument('--batch_size', type=int, required=True)
  args = parser.parse_args(argv)
  if args.baseline == 'tfdata':
    result = tfdata_baseline(args.data_root, args.images_root)
  elif args.baseline == 'images':
    result = images_baseline(args.data_root, args.images_root)
  else:
    result = keras_baseline(args.transform_graph, args.examples,
                            args.train_steps, args.batch_size)
  print(json.dumps(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
