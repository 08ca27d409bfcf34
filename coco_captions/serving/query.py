"""Search images by caption, and captions by image, with an exported model.

Uses nothing but the SavedModel's signatures (`embed_captions`,
`embed_images`): no module file, no TensorFlow Transform, no project code
beyond this file. That is the proof that the export is self-contained.

  python -m coco_captions.serving.query --model tfx_output/serving/coco_captions \\
      --images_root data/images --caption "a red circle left of a blue box"
  python -m coco_captions.serving.query --model tfx_output/serving/coco_captions \\
      --captions_csv data/captions.csv --image data/images/COCO_synthetic_000000000001.jpg

`--model` is a SavedModel directory or a serving directory of numbered
versions (as Pusher writes for TF Serving), in which case the newest is used.
Images are embedded once per run; `--index FILE` keeps those embeddings for
later runs with the same model and the same image files (names, sizes and
modification times). An image of `--images_root` that cannot be read or
decoded is skipped with a warning naming it; every other problem (no images,
a model that is not one, a missing `--image`, an empty caption, `--top_k`
below 1) is one `error:` line and exit status 2.
"""

import argparse
import csv
import json
import os
import re
import sys
from typing import List, Optional, Sequence, Tuple

if __name__ == '__main__':
  # TensorFlow's C++ start-up notices would bury the command's own lines.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

# pylint: disable=wrong-import-position
import numpy as np
import tensorflow as tf

from coco_captions import paths
from coco_captions.run import up_to_date
# Also this module's API: resolve_model_dir, RetrievalModel.
from coco_captions.serving.serving_model import (ModelError, RetrievalModel,
                                                 resolve_model_dir, top_k)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


class QueryError(Exception):
  """A problem with the command's input, told in one line."""


def read_query_images(files: Sequence[str]) -> List[bytes]:
  """The bytes of each `--image` file (`paths.read_image_file`); QueryError
  naming one that is not a regular file (checked before it is opened), cannot
  be read, is empty, or claims more pixels than an image may have."""
  images = []
  for path in files:
    try:
      images.append(paths.read_image_file(path))
    except paths.ImageFileError as e:
      raise QueryError(f'--image {paths.shown(path)}: {e.detail}') from e
  return images


def list_images(images_root: str) -> List[str]:
  """The image files directly under `images_root`, by name."""
  if not tf.io.gfile.isdir(images_root):
    raise QueryError(f'--images_root {images_root}: no such directory')
  return sorted(n for n in tf.io.gfile.listdir(images_root)
                if n.lower().endswith(IMAGE_EXTENSIONS))


def image_index(model: RetrievalModel, images_root: str,
                index_path: Optional[str] = None,
                skipped: Optional[List[Tuple[str, str]]] = None
                ) -> Tuple[List[str], np.ndarray]:
  """(image names, embeddings) of every usable image under `images_root`.

  Images that cannot be read or decoded are left out and appended to
  `skipped` as (name, reason). With `index_path`, embeddings saved by an
  earlier run with the same model and the same files (names, sizes,
  modification times) are reused, and fresh ones are saved there.

  Raises:
    QueryError: the directory is missing or holds no usable image.
  """
  skipped = [] if skipped is None else skipped
  listed = names = list_images(images_root)
  if not names:
    raise QueryError(f'--images_root {images_root}: no {"/".join(IMAGE_EXTENSIONS)} '
                     'images to search')
  key = json.dumps([model.model_dir, images_root, names,
                    up_to_date.files_fingerprint(images_root, names)])
  if index_path and os.path.exists(index_path):
    try:
      saved = np.load(index_path, allow_pickle=False)
      if str(saved['key']) == key:
        skipped.extend(json.loads(str(saved['skipped'])))
        return [str(n) for n in saved['names']], saved['embeddings']
    except (OSError, ValueError, KeyError):
      pass  # Unreadable or of an older format: rebuilt below.
  readable, image_bytes, unread = paths.read_images(images_root, names)
  skipped.extend((names[i], f'cannot be read: {e.detail}') for i, e in unread)
  kept, embeddings, failed = model.embed_images_or_skip(image_bytes)
  skipped.extend((names[readable[i]], why) for i, why in failed)
  names = [names[readable[i]] for i in kept]
  if not names:
    raise QueryError(f'--images_root {images_root}: none of its '
                     f'{len(listed)} images could be read and decoded')
  if index_path:
    # Through a file object: np.savez would add .npz to a name without it,
    # and the next run would read the name given and find nothing.
    with open(index_path, 'wb') as f:
      np.savez(f, key=np.array(key), names=np.array(names),
               skipped=np.array(json.dumps(skipped)), embeddings=embeddings)
  return names, embeddings


def search_images(model: RetrievalModel, captions: Sequence[str],
                  names: Sequence[str], image_embeddings: np.ndarray,
                  k: int) -> List[List[Tuple[str, float]]]:
  """Top-k image names for each caption."""
  hits = top_k(model.embed_captions(captions), image_embeddings, k)
  return [[(names[i], score) for i, score in row] for row in hits]


def search_captions(model: RetrievalModel, image_bytes: Sequence[bytes],
                    captions: Sequence[str],
                    k: int) -> List[List[Tuple[str, float]]]:
  """Top-k captions (distinct texts) for each image."""
  unique = list(dict.fromkeys(captions))
  hits = top_k(model.embed_images(image_bytes), model.embed_captions(unique), k)
  return [[(unique[i], score) for i, score in row] for row in hits]


def _read_captions(csv_path: str) -> List[str]:
  try:
    with tf.io.gfile.GFile(csv_path) as f:
      captions = [row.get('caption') or '' for row in csv.DictReader(f)]
  except (UnicodeDecodeError, csv.Error) as e:
    raise QueryError(f'--captions_csv {csv_path}: not a UTF-8 CSV: {e}') from e
  captions = [c for c in captions if c.strip()]
  if not captions:
    raise QueryError(f'--captions_csv {csv_path}: no captions (a "caption" '
                     'column with text) to search')
  return captions


def _caption_problem(caption: str) -> Optional[str]:
  if not caption.strip():
    return 'is empty'
  try:
    caption.encode('utf-8')
  except UnicodeEncodeError:
    return 'is not valid text (undecodable bytes)'
  return None


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model', required=True,
                      help='SavedModel directory, or serving directory of '
                      'numbered versions (the newest is used).')
  parser.add_argument('--caption', action='append', default=[],
                      help='Find images for this caption (repeatable).')
  parser.add_argument('--images_root', help='Images to search (with --caption).')
  parser.add_argument('--index', help='File to keep image embeddings in.')
  parser.add_argument('--image', action='append', default=[],
                      help='Find captions for this image file (repeatable).')
  parser.add_argument('--captions_csv',
                      help='COCO captions CSV whose captions to search '
                      '(with --image).')
  parser.add_argument('--top_k', type=int, default=5,
                      help='How many results per query (at least 1).')
  parser.add_argument('--json', action='store_true',
                      help='Print results as JSON.')
  args = parser.parse_args(argv)
  if not args.caption and not args.image:
    parser.error('give at least one --caption or --image')
  if args.caption and not args.images_root:
    parser.error('--caption needs --images_root')
  if args.image and not args.captions_csv:
    parser.error('--image needs --captions_csv')
  try:
    results, model_dir = _search(args)
  except (QueryError, ModelError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2

  if args.json:
    print(json.dumps({'model': model_dir, 'results': results}, indent=2))
    return 0
  print(f'Model: {model_dir}')
  for result in results:
    query = result.get('caption') or result.get('image')
    print(f'\n{printable(query)}')
    for rank, (match, score) in enumerate(
        result.get('images') or result.get('captions'), start=1):
      print(f'  {rank}. {score:+.3f}  {printable(match)}')
  return 0


def printable(text: str) -> str:
  """`text` with its control characters (escape sequences a terminal would
  obey, NUL, line breaks) written as \\xNN."""
  return re.sub(r'[\x00-\x1f\x7f-\x9f]',
                lambda m: f'\\x{ord(m.group()):02x}', text)


def _search(args) -> Tuple[List[dict], str]:
  """(results, model directory) of the command's queries."""
  if args.top_k < 1:
    raise QueryError(f'--top_k must be at least 1, not {args.top_k}')
  for caption in args.caption:
    problem = _caption_problem(caption)
    if problem:
      raise QueryError(f'--caption {printable(repr(caption))} {problem}')
  for image in args.image:
    if not tf.io.gfile.exists(image) or tf.io.gfile.isdir(image):
      raise QueryError(f'--image {image}: no such file')
  if args.captions_csv and not tf.io.gfile.exists(args.captions_csv):
    raise QueryError(f'--captions_csv {args.captions_csv}: no such file')
  model = RetrievalModel(args.model)
  results = []
  if args.caption:
    skipped = []
    names, embeddings = image_index(model, args.images_root, args.index,
                                    skipped)
    known = model.known_words(args.caption)
    for caption, count in zip(args.caption, known or []):
      if not count:
        raise QueryError(
            f'--caption {printable(repr(caption))}: none of its words is in '
            "the model's vocabulary, so any ranking would be arbitrary")
    for name, why in skipped:
      print(f'warning: skipped {name!r} in {args.images_root}: {why}',
            file=sys.stderr)
    for caption, hits in zip(args.caption, search_images(
        model, args.caption, names, embeddings, args.top_k)):
      results.append({'caption': caption, 'images': hits})
  if args.image:
    image_bytes = read_query_images(args.image)
    _, _, failed = model.embed_images_or_skip(image_bytes, batch_size=1)
    if failed:
      index, why = failed[0]
      raise QueryError(f'--image {args.image[index]}: {why}')
    captions = _read_captions(args.captions_csv)
    for image, hits in zip(args.image, search_captions(
        model, image_bytes, captions, args.top_k)):
      results.append({'image': image, 'captions': hits})
  return results, model.model_dir


if __name__ == '__main__':
  sys.exit(main())
