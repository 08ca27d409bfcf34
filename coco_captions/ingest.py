"""Converts official MS COCO captions annotations into the pipeline's CSV.

  python -m coco_captions.ingest --annotations captions_train2014.json \\
      --images_root /data/coco/train2014 --output_dir /data/coco_csv

Reads the official file (`images`, `annotations`, `licenses`) and writes
`OUTPUT_DIR/captions.csv` with the columns
`image_id,id,caption,image_url,image_name,image_license`. The licence names are
resolved from `licenses`. Every annotation that cannot be used goes to
`OUTPUT_DIR/rejects.csv` with its position in the file and the reason. The
counts per reason are printed, and read = accepted + rejected, always.

Memory stays bounded at COCO scale: annotations are streamed one at a time
(ijson) and only the images table (one small entry per image) and the set of
caption ids seen are kept. Captions keep their text, with line breaks and runs
of whitespace turned into single spaces, so each CSV row is one line.
"""

import argparse
import collections
import csv
import dataclasses
import io
import os
import sys
from typing import Dict, Iterator, Optional, Sequence, Tuple

import ijson
from PIL import Image, UnidentifiedImageError

from coco_captions import configs

CSV_COLUMNS = configs.CSV_COLUMNS
REJECT_COLUMNS = ('annotation_index', 'caption_id', 'image_id', 'reason',
                  'detail', 'caption')
DEFAULT_MAX_CAPTION_CHARS = 500

# Reason -> what it means, in the order checks are made.
REASONS = collections.OrderedDict([
    ('malformed_annotation', 'annotation lacks an integer id, an integer '
     'image_id or a caption string'),
    ('duplicate_caption_id', 'caption id already seen earlier in the file'),
    ('unknown_image_id', 'image_id is not in the file\'s images table'),
    ('empty_caption', 'caption is empty or only whitespace'),
    ('invalid_utf8', 'caption is not valid UTF-8 (lone surrogate escapes)'),
    ('caption_too_long', 'caption is longer than the maximum length'),
    ('image_missing', 'the image file does not exist'),
    ('image_unreadable', 'the image file exists but cannot be read'),
    ('image_not_decodable', 'the image file is not a decodable JPEG or PNG'),
])


class IngestError(Exception):
  """The input as a whole cannot be ingested (not one row's problem)."""


@dataclasses.dataclass
class IngestResult:
  read: int
  accepted: int
  rejected_by_reason: Dict[str, int]
  captions_csv: str
  rejects_csv: str

  @property
  def rejected(self) -> int:
    return sum(self.rejected_by_reason.values())


@dataclasses.dataclass(frozen=True)
class _ImageEntry:
  file_name: str
  url: str
  license_name: str


def _is_uri(path: str) -> bool:
  return '://' in path


def _open_binary(path: str):
  if _is_uri(path):
    import tensorflow as tf  # Only for URIs such as gs://; slow to import.
    return tf.io.gfile.GFile(path, 'rb')
  return open(path, 'rb')


def _exists(path: str) -> bool:
  if _is_uri(path):
    import tensorflow as tf
    return tf.io.gfile.exists(path)
  return os.path.exists(path)


# The C parser is fast but fails a whole file on a caption with a lone
# surrogate escape ("\udc80"), which is one bad row; the Python parser reads
# such a file exactly, more slowly, so it is the fallback.
_FAST_PARSER = ijson
_EXACT_PARSER = ijson.get_backend('python')


def _read_tables(annotations_path: str, parser) -> Dict[int, _ImageEntry]:
  """Pass 1: the images table, with licence names resolved."""
  licenses, images = {}, []
  with _open_binary(annotations_path) as f:
    for prefix, event, value in parser.parse(f):
      if prefix == 'licenses.item' and event == 'start_map':
        current = {}
      elif prefix.startswith('licenses.item.') and event in (
          'string', 'number'):
        current[prefix.rsplit('.', 1)[1]] = value
      elif prefix == 'licenses.item' and event == 'end_map':
        licenses[current.get('id')] = str(current.get('name', ''))
      elif prefix == 'images.item' and event == 'start_map':
        image = {}
      elif prefix.startswith('images.item.') and event in ('string', 'number'):
        image[prefix.rsplit('.', 1)[1]] = value
      elif prefix == 'images.item' and event == 'end_map':
        images.append(image)
  table = {}
  for image in images:
    if 'id' in image and 'file_name' in image:
      table[int(image['id'])] = _ImageEntry(
          file_name=str(image['file_name']),
          url=str(image.get('coco_url') or image.get('flickr_url') or ''),
          license_name=licenses.get(image.get('license'), ''))
  return table


def _annotations(annotations_path: str, parser) -> Iterator[dict]:
  """Pass 2: the annotations, one at a time."""
  with _open_binary(annotations_path) as f:
    yield from parser.items(f, 'annotations.item', use_float=True)


def _image_problem(images_root: str, file_name: str) -> Optional[Tuple[str, str]]:
  """(reason, detail) if the image cannot be used, else None."""
  path = os.path.join(images_root, file_name)
  if not _exists(path):
    return 'image_missing', path
  try:
    with _open_binary(path) as f:
      data = f.read()
  except OSError as e:
    return 'image_unreadable', f'{path}: {e.strerror or e}'
  try:
    with Image.open(io.BytesIO(data)) as image:
      image_format = image.format
      image.load()  # Decodes fully: a truncated file fails here.
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
    return 'image_not_decodable', f'{path}: {e}'
  if image_format not in ('JPEG', 'PNG'):
    return 'image_not_decodable', f'{path}: {image_format}, not JPEG or PNG'
  return None


def _clean(caption: str) -> str:
  return ' '.join(caption.split())


def ingest(annotations_path: str, images_root: str, output_dir: str,
           max_caption_chars: int = DEFAULT_MAX_CAPTION_CHARS,
           check_images: bool = True) -> IngestResult:
  """Converts `annotations_path` into `output_dir/captions.csv` and rejects.

  Raises:
    IngestError: the annotations file is missing or is not the COCO format.
  """
  if not _exists(annotations_path):
    raise IngestError(f'{annotations_path}: no such file')
  try:
    return _convert(annotations_path, images_root, output_dir,
                    max_caption_chars, check_images, _FAST_PARSER)
  except UnicodeDecodeError:
    return _convert(annotations_path, images_root, output_dir,
                    max_caption_chars, check_images, _EXACT_PARSER)


def _convert(annotations_path, images_root, output_dir, max_caption_chars,
             check_images, parser) -> IngestResult:
  """One attempt at `ingest` with one JSON parser."""
  exact = parser is _EXACT_PARSER
  try:
    images = _read_tables(annotations_path, parser)
  except UnicodeDecodeError as e:
    if not exact:
      raise
    raise IngestError(
        f'{annotations_path}: not a valid JSON file (UTF-8): {e}') from e
  except ijson.JSONError as e:
    raise IngestError(
        f'{annotations_path}: not a valid JSON file (UTF-8): {e}') from e
  if not images:
    raise IngestError(f'{annotations_path}: no "images" table with id and '
                      'file_name: is this a COCO captions annotations file?')

  os.makedirs(output_dir, exist_ok=True)
  captions_csv = os.path.join(output_dir, 'captions.csv')
  rejects_csv = os.path.join(output_dir, 'rejects.csv')
  image_problems: Dict[int, Optional[Tuple[str, str]]] = {}
  seen_ids = set()
  read = accepted = 0
  rejected = collections.Counter()
  with open(captions_csv, 'w', newline='', encoding='utf-8') as out, \
      open(rejects_csv, 'w', newline='', encoding='utf-8') as rejects_file:
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(CSV_COLUMNS)
    rejects = csv.writer(rejects_file, lineterminator='\n')
    rejects.writerow(REJECT_COLUMNS)

    def reject(index, annotation, reason, detail=''):
      rejected[reason] += 1
      caption = annotation.get('caption')
      rejects.writerow([
          index, annotation.get('id', ''), annotation.get('image_id', ''),
          reason, detail or REASONS[reason],
          # Escaped, so that invalid text cannot corrupt the rejects file.
          caption.encode('utf-8', 'backslashreplace').decode('utf-8')
          if isinstance(caption, str) else repr(caption)])

    try:
      for index, annotation in enumerate(
          _annotations(annotations_path, parser)):
        read += 1
        caption_id = annotation.get('id')
        image_id = annotation.get('image_id')
        caption = annotation.get('caption')
        if not (isinstance(caption_id, int) and isinstance(image_id, int) and
                isinstance(caption, str)):
          reject(index, annotation, 'malformed_annotation')
          continue
        if caption_id in seen_ids:
          reject(index, annotation, 'duplicate_caption_id',
                 f'caption id {caption_id} already seen')
          continue
        seen_ids.add(caption_id)
        image = images.get(image_id)
        if image is None:
          reject(index, annotation, 'unknown_image_id',
                 f'image_id {image_id} is not in the images table')
          continue
        text = _clean(caption)
        if not text:
          reject(index, annotation, 'empty_caption')
          continue
        try:
          text.encode('utf-8')
        except UnicodeEncodeError:
          reject(index, annotation, 'invalid_utf8')
          continue
        if len(text) > max_caption_chars:
          reject(index, annotation, 'caption_too_long',
                 f'{len(text)} characters, more than {max_caption_chars}')
          continue
        if check_images:
          if image_id not in image_problems:
            image_problems[image_id] = _image_problem(images_root,
                                                      image.file_name)
          problem = image_problems[image_id]
          if problem:
            reject(index, annotation, *problem)
            continue
        writer.writerow([image_id, caption_id, text, image.url,
                         image.file_name, image.license_name])
        accepted += 1
    except UnicodeDecodeError as e:
      if not exact:
        raise
      raise IngestError(f'{annotations_path}: not a valid JSON file (UTF-8) '
                        f'after annotation {read}: {e}') from e
    except ijson.JSONError as e:
      raise IngestError(f'{annotations_path}: not a valid JSON file '
                        f'after annotation {read}: {e}') from e

  result = IngestResult(read, accepted, dict(rejected), captions_csv,
                        rejects_csv)
  assert result.read == result.accepted + result.rejected
  return result


def format_result(result: IngestResult, source: str) -> str:
  lines = [f'Read {result.read} captions from {source}: {result.accepted} '
           f'accepted, {result.rejected} rejected']
  for reason in REASONS:
    if result.rejected_by_reason.get(reason):
      lines.append(f'  {reason:<22} {result.rejected_by_reason[reason]:>8}  '
                   f'{REASONS[reason]}')
  lines.append(f'Accepted rows: {result.captions_csv}')
  lines.append(f'Rejected rows: {result.rejects_csv} (one reason per row)')
  return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--annotations', required=True,
                      help='Official COCO captions JSON, e.g. '
                      'captions_train2014.json (local path or gs://...).')
  parser.add_argument('--images_root', required=True,
                      help='Directory of the images named in the file.')
  parser.add_argument('--output_dir', required=True,
                      help='Where captions.csv and rejects.csv are written.')
  parser.add_argument('--max_caption_chars', type=int,
                      default=DEFAULT_MAX_CAPTION_CHARS)
  parser.add_argument('--skip_image_check', action='store_true',
                      help='Do not open the images (faster; the pipeline '
                      'then fails on the first bad one).')
  args = parser.parse_args(argv)
  try:
    result = ingest(args.annotations, args.images_root, args.output_dir,
                    args.max_caption_chars, not args.skip_image_check)
  except IngestError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(format_result(result, args.annotations))
  return 0


if __name__ == '__main__':
  sys.exit(main())
