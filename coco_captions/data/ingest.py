"""Converts official MS COCO captions annotations into the pipeline's CSV.

  python -m coco_captions.data.ingest --annotations captions_train2014.json \\
      --images_root /data/coco/train2014 --output_dir /data/coco_csv

Reads the official file (`images`, `annotations`, `licenses`) and writes
`OUTPUT_DIR/captions.csv` with the columns
`image_id,id,caption,image_url,image_name,image_license`, which the pipeline
reads with `--data_root OUTPUT_DIR`. Every annotation that cannot be used goes
to `OUTPUT_DIR/rejects/rejects.csv` (a subdirectory: the pipeline reads every
`*.csv` directly under its data root) with its position in the file and the
reason. The counts per reason are printed, and read = accepted + rejected,
always. Both files are written under temporary names and renamed at the end,
so a failed run leaves no output behind.

Every accepted row passes the pipeline's schema (schema/schema.pbtxt): ids are
JSON integers from 0 to 2**63 - 1 (the pipeline's own rule for a CSV's ids),
and an image without a licence or a URL gets
`unknown` (`FILL_VALUE`) in that column, counted in the output. One image file
listed under two image ids is reported (it could put one picture in both
train and eval).

Memory stays bounded at COCO scale: annotations are streamed one at a time
(ijson) and only the images table (one small entry per image) and the set of
caption ids seen are kept. Captions keep their text, with line breaks, control
characters and runs of whitespace turned into single spaces, so each CSV row
is one line.
"""

import argparse
import collections
import csv
import dataclasses
import io
import os
import re
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import ijson
from PIL import Image, UnidentifiedImageError

from coco_captions import features, paths

REJECT_COLUMNS = ('annotation_index', 'caption_id', 'image_id', 'reason',
                  'detail', 'caption')
DEFAULT_MAX_CAPTION_CHARS = 500
CAPTIONS_FILE = 'captions.csv'
# Not directly under the output directory, where the pipeline reads *.csv.
REJECTS_FILE = os.path.join('rejects', 'rejects.csv')
# What an image without a licence name or a URL gets in that column.
FILL_VALUE = 'unknown'
_INT64 = (-2**63, 2**63 - 1)

# Reason -> what it means, in the order checks are made.
REASONS = collections.OrderedDict([
    ('malformed_annotation', 'annotation is not an object with an integer id, '
     'an integer image_id (JSON integers from 0 to 2**63 - 1) and a caption '
     'string'),
    ('duplicate_caption_id', 'caption id already seen earlier in the file'),
    ('unknown_image_id', 'image_id is not in the file\'s images table'),
    ('duplicate_image_id', 'image_id is listed twice in the images table: '
     'which picture is meant cannot be told'),
    ('empty_caption', 'caption is empty or only whitespace'),
    ('invalid_utf8', 'caption or a field of its image is not valid UTF-8 '
     '(lone surrogate escapes)'),
    ('caption_too_long', 'caption is longer than the maximum length'),
    ('unsafe_image_name', 'the image\'s file_name is empty or could point '
     'outside the images root (.., absolute path, scheme, backslash)'),
    ('image_missing', 'the image file does not exist'),
    ('image_unreadable', 'the image file exists but cannot be read, or is '
     'not a regular file (a directory, a FIFO, a device)'),
    ('image_too_large', 'the image\'s header claims more pixels than an '
     'image may have (coco_captions.paths.MAX_IMAGE_PIXELS)'),
    ('image_not_decodable', 'the image file is not a decodable JPEG or PNG'),
])


class IngestError(Exception):
  """The input as a whole cannot be ingested (not one row's problem)."""


class _FastParserError(Exception):
  """The C parser failed; the exact one decides (it reads ids beyond 64 bits
  and lone surrogate escapes)."""


@dataclasses.dataclass
class IngestResult:
  read: int
  accepted: int
  rejected_by_reason: Dict[str, int]
  captions_csv: str
  rejects_csv: str
  # Column -> accepted rows that got FILL_VALUE there.
  filled: Dict[str, int] = dataclasses.field(default_factory=dict)
  # file_name -> the image ids (of accepted rows) that list it, when several.
  shared_files: Dict[str, List[int]] = dataclasses.field(default_factory=dict)
  # Entries of the images table without a usable integer id.
  ignored_images: int = 0

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
_TABLES = ('images', 'annotations', 'licenses')
_SCALARS = ('string', 'number', 'boolean', 'null')


def id_problem(value: Any) -> Optional[str]:
  """Why `value` is not a usable id (a JSON integer from 0 to 2**63 - 1, the
  pipeline's rule for CSV ids too: preflight.id_text_problem), or None."""
  if isinstance(value, bool) or not isinstance(value, int):
    return f'{_shown(value)} is not a JSON integer'
  if value < 0:
    return f'{value} is negative'
  if value > _INT64[1]:
    return f'{value} is beyond the 64-bit integer range'
  return None


def _shown(value: Any) -> str:
  return ascii(value) if isinstance(value, str) else repr(value)


def _read_tables(annotations_path: str, parser):
  """Pass 1: (images table, ids listed twice, entries ignored).

  Licence names are resolved; the tables' shapes are checked (IngestError).
  """
  licenses, images, shapes = {}, [], {}
  licence = image = None  # The object being read, if any.
  with _open_binary(annotations_path) as f:
    for prefix, event, value in parser.parse(f):
      if prefix in _TABLES and prefix not in shapes:
        shapes[prefix] = event
      if prefix == 'licenses.item':
        if event == 'start_map':
          licence = {}
        elif event == 'end_map':
          licenses.setdefault(_hashable(licence.get('id')),
                              licence.get('name'))
          licence = None
      elif prefix == 'images.item':
        if event == 'start_map':
          image = {}
        elif event == 'end_map':
          images.append(image)
          image = None
        elif event in _SCALARS or event == 'start_array':
          images.append(None)  # Not an object.
      elif event in _SCALARS and prefix.count('.') == 2:
        table, _, key = prefix.split('.')
        if table == 'licenses' and licence is not None:
          licence[key] = value
        elif table == 'images' and image is not None:
          image[key] = value
  for table in _TABLES:
    if table in shapes and shapes[table] != 'start_array':
      raise IngestError(f'{annotations_path}: "{table}" is not a list')
  if 'annotations' not in shapes:
    raise IngestError(f'{annotations_path}: no "annotations" list: is this a '
                      'COCO captions annotations file?')
  table, counts, ignored = {}, collections.Counter(), 0
  for image in images:
    if not isinstance(image, dict) or id_problem(image.get('id')):
      ignored += 1
      continue
    counts[image['id']] += 1
    table[image['id']] = _ImageEntry(
        file_name=image.get('file_name'),
        url=_text(image.get('coco_url')) or _text(image.get('flickr_url')),
        license_name=_text(licenses.get(_hashable(image.get('license')))))
  if not table:
    raise IngestError(f'{annotations_path}: no "images" table with integer '
                      'ids: is this a COCO captions annotations file?')
  return table, {i for i, n in counts.items() if n > 1}, ignored


def _hashable(value: Any) -> Any:
  return value if isinstance(value, (str, int, float, type(None))) else repr(
      value)


def _text(value: Any) -> str:
  """A URL or licence name on one line; '' when absent or not a string."""
  return _clean(value) if isinstance(value, str) else ''


def _annotations(annotations_path: str, parser) -> Iterator[Any]:
  """Pass 2: the annotations, one at a time."""
  with _open_binary(annotations_path) as f:
    yield from parser.items(f, 'annotations.item', use_float=True)


# The pipeline's bad-image reasons (paths.read_image) as the converter's.
_IMAGE_REASONS = {'unsafe_name': 'unsafe_image_name', 'missing': 'image_missing',
                  'not_a_file': 'image_unreadable',
                  'unreadable': 'image_unreadable',
                  'empty_file': 'image_unreadable',
                  'too_large': 'image_too_large'}


def _image_problem(images_root: str, file_name: str) -> Optional[Tuple[str, str]]:
  """(reason, detail) if the image cannot be used, else None: read as the
  pipeline reads it (paths.read_image), then decoded whole."""
  try:
    data = paths.read_image(images_root, file_name)
  except paths.ImageFileError as e:
    return _IMAGE_REASONS[e.reason], e.detail
  path = paths.shown(paths.image_path(images_root, file_name))
  try:
    with Image.open(io.BytesIO(data)) as image:
      image_format = image.format
      image.load()  # Decodes fully: a truncated file fails here.
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
          Image.DecompressionBombError) as e:
    return 'image_not_decodable', f'{path}: {paths.first_line(str(e))}'
  if image_format not in ('JPEG', 'PNG'):
    return 'image_not_decodable', f'{path}: {image_format}, not JPEG or PNG'
  return None


_CONTROL = re.compile(r'[\x00-\x1f\x7f-\x9f]')


def _clean(text: str) -> str:
  return ' '.join(_CONTROL.sub(' ', text).split())


def _invalid_utf8(text: str) -> bool:
  try:
    text.encode('utf-8')
  except UnicodeEncodeError:
    return True
  return False


def _entry_problem(image: _ImageEntry) -> Optional[Tuple[str, str]]:
  """(reason, detail) if an images-table entry's fields cannot be written."""
  if not isinstance(image.file_name, str):
    return 'unsafe_image_name', f'file_name {_shown(image.file_name)} is not a string'
  for field, value in (('file_name', image.file_name), ('coco_url', image.url),
                       ('licence name', image.license_name)):
    if _invalid_utf8(value):
      return 'invalid_utf8', f'the image\'s {field} {ascii(value)}'
  problem = paths.image_name_problem(image.file_name)
  if problem:
    return 'unsafe_image_name', f'file_name {ascii(image.file_name)} {problem}'
  return None


def ingest(annotations_path: str, images_root: str, output_dir: str,
           max_caption_chars: int = DEFAULT_MAX_CAPTION_CHARS,
           check_images: bool = True) -> IngestResult:
  """Converts `annotations_path` into `output_dir/captions.csv` and rejects.

  Raises:
    IngestError: the annotations file is missing or is not the COCO format,
      the output directory cannot be written, or no annotation is usable
      (then only the rejects file is written).
  """
  if not _exists(annotations_path):
    raise IngestError(f'{annotations_path}: no such file')
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise IngestError(f'--output_dir {output_dir} is a file, not a directory')
  try:
    return _convert(annotations_path, images_root, output_dir,
                    max_caption_chars, check_images, _FAST_PARSER)
  except (UnicodeDecodeError, _FastParserError):
    return _convert(annotations_path, images_root, output_dir,
                    max_caption_chars, check_images, _EXACT_PARSER)


def _temporary(output_dir: str, name: str):
  """A hidden temporary file beside `output_dir/name` (not a *.csv)."""
  directory = os.path.dirname(os.path.join(output_dir, name))
  os.makedirs(directory, exist_ok=True)
  handle, path = tempfile.mkstemp(prefix=f'.{os.path.basename(name)}.',
                                  suffix='.tmp', dir=directory)
  return os.fdopen(handle, 'w', newline='', encoding='utf-8'), path


def _readable_like_any_output(path: str) -> None:
  """The mode a file written with open() gets (mkstemp makes them 0600)."""
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(path, 0o666 & ~umask)


def _convert(annotations_path, images_root, output_dir, max_caption_chars,
             check_images, parser) -> IngestResult:
  """One attempt at `ingest` with one JSON parser."""
  exact = parser is _EXACT_PARSER
  try:
    images, duplicate_ids, ignored = _read_tables(annotations_path, parser)
  except UnicodeDecodeError as e:
    if not exact:
      raise
    raise IngestError(
        f'{annotations_path}: not a valid JSON file (UTF-8): {e}') from e
  except ijson.JSONError as e:
    if not exact:
      raise _FastParserError() from e
    raise IngestError(
        f'{annotations_path}: not a valid JSON file (UTF-8): {e}') from e

  captions_csv = os.path.join(output_dir, CAPTIONS_FILE)
  rejects_csv = os.path.join(output_dir, REJECTS_FILE)
  temporary = []
  try:
    out, out_path = _temporary(output_dir, CAPTIONS_FILE)
    temporary.append(out_path)
    rejects_file, rejects_path = _temporary(output_dir, REJECTS_FILE)
    temporary.append(rejects_path)
    with out, rejects_file:
      counts = _write_rows(annotations_path, parser, images, duplicate_ids,
                           images_root, max_caption_chars, check_images,
                           csv.writer(out, lineterminator='\n'),
                           csv.writer(rejects_file, lineterminator='\n'))
    read, accepted, rejected, filled, users = counts
    for path in (out_path, rejects_path):
      _readable_like_any_output(path)
    if not accepted:
      # All-new, as after a success: no captions.csv of an earlier run may
      # stay beside these rejects, or the pipeline would train on it.
      had_captions = os.path.exists(captions_csv)
      if had_captions:
        os.remove(captions_csv)
      os.replace(rejects_path, rejects_csv)
      temporary.remove(rejects_path)
      raise IngestError(
          f'{annotations_path}: none of its {read} annotations can be used; '
          f'the reason for each is in {rejects_csv}' +
          ('; the captions.csv of an earlier conversion was removed' if
           had_captions else ''))
    _remove_old_rejects(output_dir)
    os.replace(out_path, captions_csv)
    temporary.remove(out_path)
    os.replace(rejects_path, rejects_csv)
    temporary.remove(rejects_path)
  except OSError as e:
    raise IngestError(f'--output_dir {output_dir}: cannot write: {e}') from e
  finally:
    for path in temporary:
      os.remove(path)

  result = IngestResult(
      read, accepted, dict(rejected), captions_csv, rejects_csv, filled,
      {name: sorted(ids) for name, ids in sorted(users.items())
       if len(ids) > 1}, ignored)
  assert result.read == result.accepted + result.rejected
  return result


def _remove_old_rejects(output_dir: str) -> None:
  """Removes a rejects file where earlier versions wrote it, among the CSVs
  the pipeline reads; only if it is one (its header says so)."""
  old = os.path.join(output_dir, 'rejects.csv')
  try:
    with open(old, encoding='utf-8', errors='replace') as f:
      header = f.readline().strip()
  except OSError:
    return
  if header == ','.join(REJECT_COLUMNS):
    os.remove(old)


def _write_rows(annotations_path, parser, images, duplicate_ids, images_root,
                max_caption_chars, check_images, writer, rejects):
  """Pass 2: writes accepted rows and rejects; returns the counts."""
  writer.writerow(features.CSV_COLUMNS)
  rejects.writerow(REJECT_COLUMNS)
  image_problems: Dict[int, Optional[Tuple[str, str]]] = {}
  seen_ids = set()
  read = accepted = 0
  rejected, filled = collections.Counter(), collections.Counter()
  users = collections.defaultdict(set)

  def reject(index, annotation, reason, detail=''):
    rejected[reason] += 1
    fields = annotation if isinstance(annotation, dict) else {}
    caption = (annotation.get('caption') if isinstance(annotation, dict)
               else annotation)
    rejects.writerow([
        index, _escaped(fields.get('id', '')),
        _escaped(fields.get('image_id', '')), reason,
        _escaped(detail or REASONS[reason]),
        # Escaped, so that invalid text cannot corrupt the rejects file.
        _escaped(caption) if isinstance(caption, str) else repr(caption)])

  exact = parser is _EXACT_PARSER
  try:
    for index, annotation in enumerate(_annotations(annotations_path, parser)):
      read += 1
      problem = _annotation_problem(annotation)
      if problem:
        reject(index, annotation, 'malformed_annotation', problem)
        continue
      caption_id = annotation['id']
      image_id = annotation['image_id']
      caption = annotation['caption']
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
      if image_id in duplicate_ids:
        reject(index, annotation, 'duplicate_image_id',
               f'image_id {image_id} is listed more than once in images')
        continue
      text = _clean(caption)
      if not text:
        reject(index, annotation, 'empty_caption')
        continue
      if _invalid_utf8(text):
        reject(index, annotation, 'invalid_utf8')
        continue
      if len(text) > max_caption_chars:
        reject(index, annotation, 'caption_too_long',
               f'{len(text)} characters, more than {max_caption_chars}')
        continue
      if image_id not in image_problems:
        image_problems[image_id] = _entry_problem(image) or (
            _image_problem(images_root, image.file_name) if check_images
            else None)
      problem = image_problems[image_id]
      if problem:
        reject(index, annotation, *problem)
        continue
      for column, value in ((features.IMAGE_URL, image.url),
                            (features.IMAGE_LICENSE, image.license_name)):
        if not value:
          filled[column] += 1
      writer.writerow([image_id, caption_id, text, image.url or FILL_VALUE,
                       image.file_name, image.license_name or FILL_VALUE])
      users[image.file_name].add(image_id)
      accepted += 1
  except UnicodeDecodeError as e:
    if not exact:
      raise
    raise IngestError(f'{annotations_path}: not a valid JSON file (UTF-8) '
                      f'after annotation {read}: {e}') from e
  except ijson.JSONError as e:
    if not exact:
      raise _FastParserError() from e
    raise IngestError(f'{annotations_path}: not a valid JSON file '
                      f'after annotation {read}: {e}') from e
  return read, accepted, rejected, dict(filled), users


def _annotation_problem(annotation: Any) -> Optional[str]:
  """Why an annotation is malformed, or None."""
  if not isinstance(annotation, dict):
    return f'annotation is a JSON {type(annotation).__name__}, not an object'
  for field in ('id', 'image_id'):
    if field not in annotation:
      return f'no {field}'
    problem = id_problem(annotation[field])
    if problem:
      return f'{field} {problem}'
  if not isinstance(annotation.get('caption'), str):
    return f'caption {_shown(annotation.get("caption"))} is not a string'
  return None


def _escaped(value: Any) -> str:
  """`value` as text that is valid UTF-8 (lone surrogates escaped) and
  holds no control character (NUL, escape sequences...): each is written
  as \\xNN, so that a rejects file prints safely and reads back as CSV."""
  text = value if isinstance(value, str) else str(value)
  text = text.encode('utf-8', 'backslashreplace').decode('utf-8')
  return _CONTROL.sub(lambda m: f'\\x{ord(m.group()):02x}', text)


def format_result(result: IngestResult, source: str) -> str:
  lines = [f'Read {result.read} captions from {source}: {result.accepted} '
           f'accepted, {result.rejected} rejected']
  for reason in REASONS:
    if result.rejected_by_reason.get(reason):
      lines.append(f'  {reason:<22} {result.rejected_by_reason[reason]:>8}  '
                   f'{REASONS[reason]}')
  for column, count in sorted(result.filled.items()):
    lines.append(f'{count} accepted row(s) have {column} {FILL_VALUE!r}: '
                 'their image has none in the file')
  if result.ignored_images:
    lines.append(f'{result.ignored_images} entr(ies) of the images table '
                 'ignored: not an object with an integer id')
  if result.shared_files:
    name, ids = next(iter(result.shared_files.items()))
    lines.append(
        f'warning: {len(result.shared_files)} image file(s) are listed under '
        f'more than one image_id, e.g. {ascii(name)} under '
        f'{", ".join(map(str, ids))}: one picture can then be in both train '
        'and eval')
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
                      help='Where captions.csv (and rejects/rejects.csv) '
                      'are written: the pipeline\'s --data_root.')
  parser.add_argument('--max_caption_chars', type=int,
                      default=DEFAULT_MAX_CAPTION_CHARS)
  parser.add_argument('--skip_image_check', action='store_true',
                      help='Do not open the images (faster; the pipeline '
                      'then stops before Transform, naming the bad ones).')
  args = parser.parse_args(argv)
  if args.max_caption_chars < 1:
    print(f'error: --max_caption_chars must be at least 1, not '
          f'{args.max_caption_chars}', file=sys.stderr)
    return 2
  try:
    result = ingest(args.annotations, args.images_root, args.output_dir,
                    args.max_caption_chars, not args.skip_image_check)
  except IngestError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f'\nInterrupted: nothing in {args.output_dir} was changed.',
          file=sys.stderr)
    return 130
  print(format_result(result, args.annotations))
  return 0


if __name__ == '__main__':
  sys.exit(main())
