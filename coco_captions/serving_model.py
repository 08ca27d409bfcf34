"""The exported model, through its serving signatures only.

Shared by RetrievalEvaluator (which measures what would be served), the run
report and the query CLI. Needs nothing but the SavedModel: no module file,
no TensorFlow Transform.
"""

import os
from typing import Iterable, List, Sequence, Tuple

import numpy as np
import tensorflow as tf


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


def caption_example(caption: str) -> bytes:
  """A serialized tf.Example with the raw caption, as the signature expects."""
  return tf.train.Example(features=tf.train.Features(feature={
      'caption': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[caption.encode('utf-8')]))
  })).SerializeToString()


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
  for start in range(0, len(items), size):
    yield items[start:start + size]


class RetrievalModel:
  """The exported dual encoder, through its serving signatures only."""

  def __init__(self, model_dir: str):
    self.model_dir = resolve_model_dir(model_dir)
    loaded = tf.saved_model.load(self.model_dir)
    self._embed_captions = loaded.signatures['embed_captions']
    self._embed_images = loaded.signatures['embed_images']
    self._loaded = loaded  # Keeps the signatures' variables alive.

  def embed_examples(self, serialized: Sequence[bytes],
                     batch_size: int = 256) -> np.ndarray:
    """[n, dim] embeddings of serialized tf.Examples holding a `caption`."""
    return np.concatenate([
        self._embed_captions(examples=tf.constant(list(batch)))[
            'caption_embedding'].numpy()
        for batch in _batches(list(serialized), batch_size)])

  def embed_captions(self, captions: Sequence[str]) -> np.ndarray:
    return self.embed_examples([caption_example(c) for c in captions])

  def embed_images(self, image_bytes: Sequence[bytes],
                   batch_size: int = 64) -> np.ndarray:
    """[n, dim] embeddings of encoded JPEG/PNG images."""
    return np.concatenate([
        self._embed_images(image_bytes=tf.constant(list(batch)))[
            'image_embedding'].numpy()
        for batch in _batches(list(image_bytes), batch_size)])


def read_images(images_root: str, names: Sequence[str]) -> List[bytes]:
  images = []
  for name in names:
    with tf.io.gfile.GFile(os.path.join(images_root, name), 'rb') as f:
      images.append(f.read())
  return images


def top_k(query_embeddings: np.ndarray, candidate_embeddings: np.ndarray,
          k: int) -> List[List[Tuple[int, float]]]:
  """For each query, the k best (candidate index, cosine score), best first."""
  scores = query_embeddings @ candidate_embeddings.T
  order = np.argsort(-scores, axis=1, kind='stable')[:, :k]
  return [[(int(i), float(scores[q, i])) for i in row]
          for q, row in enumerate(order)]
