"""Input checks every runner makes before TFX starts: one line per problem.

What CsvExampleGen would otherwise stop on deep inside Beam, or after hours of
work (a missing column, a bad byte in row 300,000, a file with no rows), is
found here in a second or so and named by file and line.
"""

import ast
import csv
import glob
import os
import re
import sqlite3
import tempfile
from typing import Dict, List, NamedTuple, Optional

from coco_captions import features, paths
from coco_captions.pipeline import configs
from coco_captions.run.settings import Settings


class PreflightError(ValueError):
  """The inputs cannot run; the message has one line per problem (raised
  where the data is first read, when no runner checked it before)."""


def errors(settings: Settings) -> List[str]:
  """One line per problem with the inputs `settings` name.

  Remote data (`gs://...`) is not checked here. Kubeflow's paths are in the
  cluster, so only its module file (compiled here) is.
  """
  found = []
  if settings.orchestrator != 'kubeflow':
    found += data_errors(settings.data_root)
    if ('://' not in settings.images_root and
        not os.path.isdir(settings.images_root)):
      found.append(f'images root {settings.images_root} is not a directory')
  if not os.path.isfile(settings.module_file):
    found.append(f'module file {settings.module_file} does not exist')
  else:
    found += _module_file_errors(settings.module_file)
  if (settings.orchestrator != 'kubeflow' and
      not os.path.isfile(settings.schema_file)):
    found.append(f'schema file {settings.schema_file} does not exist')
  return found


def data_errors(data_root: str) -> List[str]:
  """Problems with the CSV files under a local `data_root`: one line each,
  naming the file and line."""
  if '://' in data_root:
    return []
  if not os.path.isdir(data_root):
    return [f'data root {data_root} is not a directory']
  paths = sorted(glob.glob(os.path.join(data_root, configs.CSV_PATTERN)))
  if not paths:
    return [f'data root {data_root} has no *.csv file']
  found, headers, rows, words = [], [], 0, False
  caption_ids: Dict[int, str] = {}
  for path in paths:
    checked = read_csv(path, caption_ids)
    if checked.problem:
      found.append(checked.problem)
      continue
    headers.append((path, checked.header))
    rows += checked.rows
    words = words or checked.words
  # CsvExampleGen reads the column names from the first file and insists on
  # the same header line in every other one.
  first_path, first = headers[0] if headers else (None, None)
  for path, header in headers[1:]:
    if header != first:
      bom = ' (one starts with a UTF-8 byte order mark)' if (
          _without_bom(header) == _without_bom(first)) else ''
      found.append(f'{path} has another header line than {first_path}{bom}; '
                   'every CSV file in the data root needs the same one')
  if not found and rows == 0:
    found.append(f'{paths[0]} has a header but no caption rows' if len(paths)
                 == 1 else f'the CSV files in {data_root} have a header but '
                 'no caption rows')
  elif not found and not words:
    found.append(f'no caption in {data_root} has a word (letters or digits): '
                 'the model would have nothing to learn from')
  return found


def _without_bom(header: List[str]) -> List[str]:
  return [header[0].lstrip('\ufeff')] + header[1:] if header else header


class CsvCheck(NamedTuple):
  problem: Optional[str]  # The first, naming the file and line.
  header: List[str]  # As CsvExampleGen splits it: on commas.
  rows: int  # Caption rows.
  words: bool  # Whether a caption has a letter or digit.


_WORD = re.compile(r'[^\W_]')
_MAX_ID = 2**63 - 1


def read_csv(path: str, caption_ids: Optional[Dict[int, str]] = None
             ) -> CsvCheck:
  """The checks of one CSV file.

  Every byte must be UTF-8 (a bad one is named by line), as CsvExampleGen
  decodes every line; a UTF-8 byte order mark is allowed. The header may
  quote its names. Each row's image_id and caption id must be whole numbers
  from 0 to 2**63 - 1, the converter's rule (coco_captions/data/ingest.py), and a
  caption id may appear once in all the files (`caption_ids`: id -> where,
  shared across files).
  """
  caption_ids = {} if caption_ids is None else caption_ids
  lines = []
  try:
    with open(path, 'rb') as f:
      for number, line in enumerate(f, 1):
        try:
          lines.append(line.decode('utf-8'))
        except UnicodeDecodeError as e:
          return CsvCheck(
              f'{path} line {number}: byte 0x{line[e.start]:02x} at column '
              f'{e.start + 1} is not UTF-8 (the CSV files must be UTF-8)',
              [], 0, False)
  except OSError as e:
    return CsvCheck(f'cannot read {path}: {e.strerror or e}', [], 0, False)
  if not lines:
    lines = ['']
  split = lines[0].strip().split(',')
  reader = csv.reader(lines)
  try:
    names = [n.strip() for n in _without_bom(next(reader, []))]
  except csv.Error as e:
    return CsvCheck(f'{path} line 1: {e}', split, 0, False)
  missing = [c for c in features.CSV_COLUMNS if c not in names]
  if missing:
    return CsvCheck(f'{path} lacks the column(s) {", ".join(missing)} (a '
                    f'COCO captions CSV has {",".join(features.CSV_COLUMNS)})',
                    split, 0, False)
  if len(names) != len(split):
    return CsvCheck(f'{path} line 1: a quoted column name holds a comma, '
                    'which CsvExampleGen cannot read', split, 0, False)
  image_id, caption_id, caption = (
      names.index(c)
      for c in (features.IMAGE_ID, features.CAPTION_ID, features.CAPTION))
  rows, words = 0, False
  try:
    for row in reader:
      if not any(field.strip() for field in row):
        continue
      rows += 1
      where = f'{path} line {reader.line_num}'
      for column, index in ((features.IMAGE_ID, image_id),
                            (features.CAPTION_ID, caption_id)):
        value = row[index] if index < len(row) else ''
        problem = id_text_problem(value)
        if problem:
          return CsvCheck(f'{where}: {column} {problem}', split, rows, words)
      number = int(row[caption_id].strip())
      if number in caption_ids:
        return CsvCheck(f'{where}: caption id {number} is also on '
                        f'{caption_ids[number]}', split, rows, words)
      caption_ids[number] = where
      words = words or bool(
          caption < len(row) and _WORD.search(row[caption]))
  except csv.Error as e:
    problem = (f'a field is longer than {csv.field_size_limit():,} '
               'characters, more than CsvExampleGen reads'
               if 'field larger than field limit' in str(e) else str(e))
    return CsvCheck(f'{path} line {reader.line_num}: {problem}', split,
                    rows, words)
  return CsvCheck(None, split, rows, words)


def id_text_problem(text: str) -> Optional[str]:
  """Why `text` is not a usable id, a whole number from 0 to 2**63 - 1 (the
  converter's rule), or None."""
  digits = text.strip()
  if not re.fullmatch(r'[0-9]+', digits):
    return f'{paths.shown(digits)} is not a whole number of 0 or more'
  # 2**63 - 1 has 19 digits; a longer number is not even converted.
  if len(digits.lstrip('0')) > 19 or int(digits) > _MAX_ID:
    return f'{paths.shown(digits)} is beyond the 64-bit integer range'
  return None


# What the pipeline calls in the module file, and who, where it is not TFX.
_MODULE_FUNCTIONS = (
    ('preprocessing_fn', ''), ('run_fn', ''),
    ('encode_pixels', ': GroupCaptionsByImage decodes the images with it'))


def _module_file_errors(path: str) -> List[str]:
  try:
    with open(path, encoding='utf-8') as f:
      tree = ast.parse(f.read(), filename=path)
  except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as e:
    return [f'module file {path} cannot be read as Python: {e}']
  defined = {node.name for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
  defined |= {target.id for node in tree.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)}
  return [f'module file {path} defines no {name}()' + why
          for name, why in _MODULE_FUNCTIONS if name not in defined]


def storage_errors(pipeline_root: str, metadata_path: str) -> List[str]:
  """Problems with where a local run writes: a pipeline root (or the ML
  Metadata file's folder) that cannot be written, an ML Metadata file that
  is not a sound SQLite database. Found before anything runs, so that the
  run does not fail half way with a traceback."""
  found = []
  for folder, what in ((pipeline_root, 'pipeline root'),
                       (os.path.dirname(metadata_path), 'ML Metadata folder')):
    if '://' in folder:
      continue
    try:
      os.makedirs(folder, exist_ok=True)
      with tempfile.TemporaryFile(dir=folder):
        pass
    except OSError as e:
      found.append(f'{what} {folder} cannot be written ({e.strerror or e}): '
                   'give a writable one')
      return found
  if os.path.exists(metadata_path):
    db = None
    try:
      db = sqlite3.connect(f'file:{metadata_path}?mode=ro', uri=True)
      verdict = db.execute('PRAGMA quick_check').fetchone()[0]
    except sqlite3.DatabaseError as e:
      verdict = str(e)
    finally:
      if db is not None:
        db.close()
    if verdict != 'ok':
      found.append(
          f'ML Metadata {metadata_path} is not a sound SQLite database '
          f'({verdict}): restore it from a backup, or move it aside to start '
          'a new run history (the runs it recorded are then forgotten)')
  return found
