"""Input checks every runner makes before TFX starts: one line per problem.

What CsvExampleGen would otherwise stop on deep inside Beam, or after hours of
work (a missing column, a bad byte in row 300,000, a file with no rows), is
found here in a second or so and named by file and line.
"""

import ast
import glob
import os
from typing import List, Optional, Tuple

from coco_captions import configs
from coco_captions.settings import Settings


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
  """Problems with the CSV files under a local `data_root`."""
  if '://' in data_root:
    return []
  if not os.path.isdir(data_root):
    return [f'data root {data_root} is not a directory']
  paths = sorted(glob.glob(os.path.join(data_root, configs.CSV_PATTERN)))
  if not paths:
    return [f'data root {data_root} has no *.csv file']
  found, headers, rows = [], [], 0
  for path in paths:
    problem, header, count = read_csv(path)
    if problem:
      found.append(problem)
      continue
    headers.append((path, header))
    rows += count
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
  return found


def _without_bom(header: List[str]) -> List[str]:
  return [header[0].lstrip('\ufeff')] + header[1:] if header else header


def read_csv(path: str) -> Tuple[Optional[str], List[str], int]:
  """(problem or None, header columns, number of non-blank rows) of a CSV.

  Every byte is checked to be UTF-8 (a bad one is named by line), as
  CsvExampleGen decodes every line; a UTF-8 byte order mark is allowed. The
  header is split on commas, as CsvExampleGen splits it.
  """
  header, rows = None, 0
  try:
    with open(path, 'rb') as f:
      for number, line in enumerate(f, 1):
        try:
          text = line.decode('utf-8')
        except UnicodeDecodeError as e:
          return (f'{path} line {number}: byte 0x{line[e.start]:02x} at '
                  f'column {e.start + 1} is not UTF-8 (the CSV files must be '
                  'UTF-8)'), [], 0
        if header is None:
          header = text.strip().split(',')
        elif text.strip():
          rows += 1
  except OSError as e:
    return f'cannot read {path}: {e.strerror or e}', [], 0
  header = header or []
  missing = [c for c in configs.CSV_COLUMNS if c not in _without_bom(header)]
  if missing:
    return (f'{path} lacks the column(s) {", ".join(missing)} (a COCO '
            f'captions CSV has {",".join(configs.CSV_COLUMNS)})'), header, rows
  return None, header, rows


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
