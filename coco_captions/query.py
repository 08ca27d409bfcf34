"""Search images by caption, and captions by image, with an exported model.

Uses nothing but the SavedModel's signatures (`embed_captions`,
`embed_images`): no module file, no TensorFlow Transform, no project code
beyond this file and serving_model.py. That is the proof that the export is
self-contained.

  python -m coco_captions.query --model tfx_output/serving/coco_captions \\
      --images_root data/images --caption "a red circle left of a blue box"
  python -m coco_captions.query --model tfx_output/serving/coco_captions \\
      --captions_csv data/captions.csv --image data/images/COCO_synthetic_000000000001.jpg

`--model` is a SavedModel directory or a serving directory of numbered
versions (as Pusher writes for TF Serving), in which case the newest is used.
Images are embedded once per run; `--index FILE` keeps those embeddings for
later runs with the same model.
"""

import argparse
import csv
import json
import os
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from coco_captions.serving_model import (RetrievalModel, read_images,
                                         resolve_model_dir, top_k)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def list_images(images_root: str) -> List[str]:
  return sorted(n for n in tf.io.gfile.listdir(images_root)
                if n.lower().endswith(IMAGE_EXTENSIONS))


def image_index(model: RetrievalModel, images_root: str,
                index_path: Optional[str] = None) -> Tuple[List[str], np.ndarray]:
  """(image names, embeddings) of every image under `images_root`.

  With `index_path`, embeddings saved by an earlier run with the same model
  and images are reused, and fresh ones are saved there.
  """
  names = list_images(images_root)
  key = json.dumps([model.model_dir, images_root, names])
  if index_path and os.path.exists(index_path):
    saved = np.load(index_path, allow_pickle=False)
    if str(saved['key']) == key:
      return names, saved['embeddings']
  embeddings = model.embed_images(read_images(images_root, names))
  if index_path:
    np.savez(index_path, key=np.array(key), embeddings=embeddings)
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
  with tf.io.gfile.GFile(csv_path) as f:
    return [row['caption'] for row in csv.DictReader(f)]


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
  parser.add_argument('--top_k', type=int, default=5)
  parser.add_argument('--json', action='store_true',
                      help='Print results as JSON.')
  args = parser.parse_args(argv)
  if not args.caption and not args.image:
    parser.error('give at least one --caption or --image')
  if args.caption and not args.images_root:
    parser.error('--caption needs --images_root')
  if args.image and not args.captions_csv:
    parser.error('--image needs --captions_csv')

  model = RetrievalModel(args.model)
  results = []
  if args.caption:
    names, embeddings = image_index(model, args.images_root, args.index)
    for caption, hits in zip(args.caption, search_images(
        model, args.caption, names, embeddings, args.top_k)):
      results.append({'caption': caption, 'images': hits})
  if args.image:
    image_bytes = read_images('', args.image)
    for image, hits in zip(args.image, search_captions(
        model, image_bytes, _read_captions(args.captions_csv), args.top_k)):
      results.append({'image': image, 'captions': hits})

  if args.json:
    print(json.dumps({'model': model.model_dir, 'results': results}, indent=2))
    return 0
  print(f'Model: {model.model_dir}')
  for result in results:
    query = result.get('caption') or result.get('image')
    print(f'\n{query}')
    for rank, (match, score) in enumerate(
        result.get('images') or result.get('captions'), start=1):
      print(f'  {rank}. {score:+.3f}  {match}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
