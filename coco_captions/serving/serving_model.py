"""The exported model, through its serving signatures only.

Shared by RetrievalEvaluator (which measures what would be served), the run
report and the query CLI, which read the image files it embeds with
`paths.read_images`. Needs nothing but the SavedModel: no module file, no
TensorFlow Transform.
"""

import base64
import os
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from coco_captions import features, text
from coco_captions.paths import first_line

_SIGNATURES = ('embed_captions', 'embed_images')


class ModelError(Exception):
  """A path that is not a model this pipeline exported, told in one line."""


def resolve_model_dir(path: str) -> str:
  """`path` itself if it is a SavedModel, else its highest numbered version."""
  if tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
    return path
  versions = [v.rstrip('/') for v in tf.io.gfile.listdir(path)
              if v.rstrip('/').isdigit()] if tf.io.gfile.isdir(path) else []
  if not versions:
    raise FileNotFoundError(
        f'{path} is neither a SavedModel nor a directory of numbered versions')
  return os.path.join(path, max(versions, key=int))


def caption_example(caption) -> bytes:
  """A serialized tf.Example with the raw caption, as the signature expects.

  The caption (str or UTF-8 bytes) is NFKC-normalised, as the pipeline's
  captions are before Transform (coco_captions/text.py).
  """
  caption = text.normalize_caption(caption)
  if isinstance(caption, str):
    caption = caption.encode('utf-8')
  return tf.train.Example(features=tf.train.Features(feature={
      features.CAPTION: tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[caption]))
  })).SerializeToString()


def _normalized_example(serialized: bytes) -> bytes:
  """A caption row's serialized example with its caption normalised."""
  example = tf.train.Example.FromString(serialized)
  captions = example.features.feature[features.CAPTION].bytes_list.value
  return caption_example(captions[0] if captions else b'')


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
  for start in range(0, len(items), size):
    yield items[start:start + size]


class RetrievalModel:
  """The exported dual encoder, through its serving signatures only."""

  def __init__(self, model_dir: str):
    self.model_dir = resolve_model_dir(model_dir)
    try:
      loaded = tf.saved_model.load(self.model_dir)
    except (OSError, ValueError, tf.errors.OpError) as e:
      raise ModelError(f'{self.model_dir} is not a SavedModel TensorFlow can '
                       f'load: {first_line(str(e))}') from e
    missing = [s for s in _SIGNATURES if s not in loaded.signatures]
    if missing:
      raise ModelError(f'{self.model_dir} is a SavedModel without the '
                       f'{" and ".join(missing)} signature(s): not a model '
                       'this pipeline exported')
    self._embed_captions = loaded.signatures['embed_captions']
    self._embed_images = loaded.signatures['embed_images']
    # Models exported before it have no such signature.
    self._count_known_words = loaded.signatures.get('count_known_words')
    self._loaded = loaded  # Keeps the signatures' variables alive.

  def embed_examples(self, serialized: Sequence[bytes],
                     batch_size: int = 256) -> np.ndarray:
    """[n, dim] embeddings of serialized tf.Examples holding a `caption`.

    Captions are normalised first (`caption_example`), as in training.
    """
    serialized = [_normalized_example(s) for s in serialized]
    return np.concatenate([
        self._embed_captions(examples=tf.constant(list(batch)))[
            'caption_embedding'].numpy()
        for batch in _batches(serialized, batch_size)])

  def embed_captions(self, captions: Sequence[str]) -> np.ndarray:
    return self.embed_examples([caption_example(c) for c in captions])

  def known_words(self, captions: Sequence[str]) -> Optional[List[int]]:
    """How many words of each caption the model's vocabulary holds; None for
    a model exported without the `count_known_words` signature."""
    if self._count_known_words is None:
      return None
    return self._count_known_words(examples=tf.constant(
        [caption_example(c) for c in captions]))['known_words'].numpy(
        ).tolist()

  def embed_images(self, image_bytes: Sequence[bytes],
                   batch_size: int = 64) -> np.ndarray:
    """[n, dim] embeddings of encoded JPEG/PNG images."""
    return np.concatenate([
        self._embed_images(image_bytes=tf.constant(list(batch)))[
            'image_embedding'].numpy()
        for batch in _batches(list(image_bytes), batch_size)])

  def embed_images_or_skip(
      self, image_bytes: Sequence[bytes], batch_size: int = 64
  ) -> Tuple[List[int], np.ndarray, List[Tuple[int, str]]]:
    """(indices embedded, their [n, dim] embeddings, [(index, why)] skipped).

    A batch the model cannot decode is embedded one image at a time, so one
    bad image costs only itself.
    """
    kept, embeddings, skipped = [], [], []
    for start in range(0, len(image_bytes), batch_size):
      batch = list(image_bytes[start:start + batch_size])
      try:
        embeddings.append(self.embed_images(batch, batch_size))
        kept.extend(range(start, start + len(batch)))
        continue
      except tf.errors.InvalidArgumentError:
        pass
      for offset, data in enumerate(batch):
        try:
          embeddings.append(self.embed_images([data]))
          kept.append(start + offset)
        except tf.errors.InvalidArgumentError as e:
          skipped.append((start + offset,
                          f'not a decodable image: {first_line(e.message)}'))
    dim = embeddings[0].shape[1] if embeddings else 0
    return kept, (np.concatenate(embeddings) if embeddings
                  else np.zeros((0, dim), np.float32)), skipped


def rest_request(signature: str, values: Sequence[bytes]) -> dict:
  """The body of a TF Serving REST predict request
  (`POST /v1/models/NAME:predict`) for one of the model's signatures:

    embed_captions  serialized tf.Examples of the captions (`caption_example`)
    embed_images    encoded JPEG/PNG/GIF/BMP images, as read from their files

  Each signature has one input, so the "instances" row format needs no input
  name; bytes travel base64-encoded as {"b64": ...}. The response is
  {"predictions": [[dim floats], ...]}, one L2-normalised embedding per value.
  """
  if signature not in _SIGNATURES:
    raise ValueError(f'signature {signature!r} is not one of {_SIGNATURES}')
  return {'signature_name': signature,
          'instances': [{'b64': base64.b64encode(value).decode('ascii')}
                        for value in values]}


def top_k(query_embeddings: np.ndarray, candidate_embeddings: np.ndarray,
          k: int) -> List[List[Tuple[int, float]]]:
  """For each query, the k best (candidate index, cosine score), best first."""
  scores = query_embeddings @ candidate_embeddings.T
  order = np.argsort(-scores, axis=1, kind='stable')[:, :k]
  return [[(int(i), float(scores[q, i])) for i in row]
          for q, row in enumerate(order)]
