"""Answers "nothing changed since the last run" before TensorFlow is imported.

A re-run of the pipeline with the same data, code, settings and metadata store
is served entirely from TFX's cache, but only after importing TensorFlow and
TFX and writing the run report. This module lets the CLI know the answer
without them, the way `make` does:

  * At the end of a successful run, `record` writes `PIPELINE_ROOT/last_run.json`:
    a fingerprint of everything the run's results depend on, the state of the
    ML Metadata file it left, the outputs it points to, and what it printed.
  * At the start of the next run, `check` recomputes the fingerprint. If it and
    the metadata file are unchanged and the outputs still exist, the CLI prints
    the recorded results and stops; otherwise it says what changed and runs.

The fingerprint covers what TFX's cache covers, and more:
  * settings: every CLI flag that reaches the pipeline, Beam options included,
    and the orchestrator;
  * data: each CSV file's name, size, modification time and inode change
    time (TFX's CsvExampleGen fingerprints size and modification time only,
    which a rewrite that restores them fools; the change time cannot be set
    back, and `create_pipeline` hands this digest to CsvExampleGen so that
    TFX's cache sees the change too);
  * images: the same of every file under a local images root
    (`directory_fingerprint`, which `create_pipeline` also hands
    GroupCaptionsByImage, so that TFX's cache sees a changed image too);
  * code: the content of the module file and every top-level `.py` beside it
    (what TFX packages into the user-code wheel), the `coco_captions` package
    and the schema file;
  * environment: the Python version and the versions of TFX and its stack.
Images under a remote root (`gs://...`) are not listed: there a changed image
needs a new name or `--no_cache`, as it would with TFX's cache alone.

The metadata file's size and modification time stand for everything recorded
in ML Metadata since: any later run (a killed one too, or one with other
settings) changes it, and then the next run goes through TFX, which decides
from the store itself. A real run deletes the record before it starts, so a
crash never leaves a stale one behind.
"""

import glob
import hashlib
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from coco_captions import paths

RECORD_FILENAME = 'last_run.json'
_FORMAT = 3  # 2: the images part; 3: inode change times.
# The stack whose versions can change what a run computes.
_PACKAGES = ('tfx', 'tensorflow', 'tensorflow-transform', 'tfx-bsl',
             'tensorflow-data-validation', 'apache-beam', 'ml-metadata',
             'tf-keras')
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record_path(pipeline_root: str) -> str:
  return os.path.join(pipeline_root, RECORD_FILENAME)


def _digest(text: str) -> str:
  return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(paths: Sequence[str], root: str) -> str:
  """One digest of the names (relative to `root`) and contents of `paths`."""
  digest = hashlib.sha256()
  for path in sorted(paths):
    digest.update(os.path.relpath(path, root).encode() + b'\0')
    with open(path, 'rb') as f:
      digest.update(hashlib.sha256(f.read()).digest())
  return digest.hexdigest()


def data_fingerprint(data_root: str, csv_pattern: str) -> Optional[str]:
  """One digest of the name, size and times of every CSV file under a local
  `data_root`; None for a remote one."""
  if '://' in data_root:
    return None  # Remote data: only TFX's own check can tell.
  files = []
  for path in sorted(glob.glob(os.path.join(data_root, csv_pattern))):
    stat = os.stat(path)
    files.append([os.path.basename(path), stat.st_size, stat.st_mtime_ns,
                  stat.st_ctime_ns])
  return _digest(json.dumps(files))


def directory_fingerprint(root: str) -> Optional[str]:
  """One digest of every file's relative name, size and modification time
  under `root`; None for a remote root or one that is not a directory.

  For the images root: the CSV names the images, and Transform reads them by
  name, so an image replaced in place changes none of the CSV files. Also for
  artifacts read back (the run report). Stat-based like the data part, so
  cheap enough for COCO-sized image folders.
  """
  if '://' in root or not os.path.isdir(root):
    return None
  entries = []
  pending = [('', root)]
  while pending:
    prefix, directory = pending.pop()
    with os.scandir(directory) as found:
      for entry in found:
        if entry.is_dir(follow_symlinks=False):
          pending.append((prefix + entry.name + '/', entry.path))
        else:
          # A linked directory is not walked (it may lead anywhere, or loop).
          try:
            stat = entry.stat(follow_symlinks=not entry.is_dir())
          except OSError:  # A link to nothing counts as the link.
            stat = entry.stat(follow_symlinks=False)
          entries.append(_stat_entry(prefix + entry.name, stat))
  return _digest('\n'.join(sorted(entries)))


def files_fingerprint(root: str, names: Sequence[str]) -> Optional[str]:
  """`directory_fingerprint` of the files `names` under `root` only.

  None for a remote root, or when one of them is missing or named outside
  `root` (coco_captions/paths.py). For a few files of a large directory: the
  run report's 1,000 eval images of 82,800.
  """
  if '://' in root:
    return None
  entries = []
  for name in names:
    try:
      entries.append(_stat_entry(name, os.stat(paths.image_path(root, name))))
    except (OSError, paths.UnsafeImageNameError):
      return None
  return _digest('\n'.join(sorted(entries)))


def _module_code_files(module_file: str) -> List[str]:
  """The module file and every `.py` file beside it: what TFX packages."""
  return glob.glob(os.path.join(os.path.dirname(os.path.abspath(module_file)),
                                '*.py'))


def _stat_entry(name: str, stat: os.stat_result) -> str:
  # The inode change time too: a file rewritten in place with its size and
  # modification time restored (os.utime) still gets a new one, which no
  # user can set back.
  return (f'{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0'
          f'{stat.st_ctime_ns}')


def _environment_fingerprint() -> str:
  from importlib import metadata  # pylint: disable=import-outside-toplevel
  versions = {'python': sys.version, 'executable': sys.executable}
  for package in _PACKAGES:
    try:
      versions[package] = metadata.version(package)
    except metadata.PackageNotFoundError:
      versions[package] = None
  return _digest(json.dumps(versions, sort_keys=True))


def fingerprint(settings: Dict[str, Any], data_root: str, csv_pattern: str,
                images_root: str, module_file: str,
                schema_file: str) -> Optional[Dict[str, str]]:
  """What a run's results depend on, one digest per part.

  Args:
    settings: every setting that reaches the pipeline (JSON-serialisable).
    data_root, csv_pattern: where the input CSV files are.
    images_root: where the images they name are.
    module_file: the TFX module file; every top-level .py beside it counts.
    schema_file: the curated schema.

  Returns:
    {'settings', 'data', 'images', 'code', 'environment'} -> digest (the
    images' is '' for a remote root), or None when the
    inputs cannot be checked cheaply (remote data, missing files).
  """
  data = data_fingerprint(data_root, csv_pattern)
  if data is None or not os.path.isfile(module_file):
    return None
  module_dir = os.path.dirname(module_file)
  code_files = _module_code_files(module_file)
  code_files += glob.glob(os.path.join(_PACKAGE_DIR, '**', '*.py'),
                          recursive=True)
  code_files.append(schema_file)
  try:
    code = _file_digest(sorted(set(code_files)), module_dir)
  except OSError:
    return None
  return {
      'settings': _digest(json.dumps(settings, sort_keys=True)),
      'data': data,
      'images': directory_fingerprint(images_root) or '',
      'code': code,
      'environment': _environment_fingerprint(),
  }


def _file_state(path: str) -> Optional[List[int]]:
  try:
    stat = os.stat(path)
  except OSError:
    return None
  return [stat.st_size, stat.st_mtime_ns]


def clear(pipeline_root: str) -> None:
  """Forgets the last run: called before a run changes anything."""
  try:
    os.remove(record_path(pipeline_root))
  except FileNotFoundError:
    pass


def record(pipeline_root: str, parts: Optional[Dict[str, str]],
           metadata_path: str, run_id: str, outputs: Sequence[str],
           printed: str) -> None:
  """Records a successful run; call after its last write to the metadata.

  Args:
    parts: `fingerprint(...)` as computed before the run; None records nothing.
    metadata_path: the ML Metadata SQLite file the run wrote.
    run_id: the run's id in ML Metadata.
    outputs: local paths the recorded results point to; if any disappears,
      the next run goes through TFX.
    printed: the results as the CLI printed them, to print again.
  """
  if parts is None:
    return
  state = {
      'format': _FORMAT,
      'fingerprint': parts,
      'metadata': {'path': metadata_path, 'state': _file_state(metadata_path)},
      'run_id': run_id,
      'outputs': sorted({p for p in outputs if p and '://' not in p}),
      'printed': printed,
  }
  path = record_path(pipeline_root)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(state, f, indent=1)
  os.replace(path + '.tmp', path)


class Check:
  """The outcome of `check`: `unchanged`, or the reasons for running."""

  def __init__(self, recorded: Optional[Dict[str, Any]],
               reasons: List[str]):
    self.recorded = recorded
    self.reasons = reasons

  @property
  def unchanged(self) -> bool:
    return self.recorded is not None and not self.reasons


def check(pipeline_root: str, parts: Optional[Dict[str, str]],
          metadata_path: str) -> Check:
  """Whether a run with fingerprint `parts` would change nothing.

  Returns a Check: `unchanged` with the recorded run, or the reasons (empty
  when there is no usable record, e.g. the first run).
  """
  try:
    with open(record_path(pipeline_root), encoding='utf-8') as f:
      recorded = json.load(f)
  except (OSError, ValueError):
    return Check(None, [])
  if parts is None or recorded.get('format') != _FORMAT:
    return Check(None, [])
  before = recorded.get('fingerprint', {})
  reasons = [f'the {part} changed' for part in sorted(parts)
             if before.get(part) != parts[part]]
  metadata = recorded.get('metadata', {})
  if (metadata.get('path') != metadata_path or
      metadata.get('state') != _file_state(metadata_path)):
    reasons.append('ML Metadata changed (another run used it)')
  missing = [p for p in recorded.get('outputs', []) if not os.path.exists(p)]
  if missing:
    reasons.append(f'{len(missing)} output(s) of run {recorded.get("run_id")} '
                   f'are gone, e.g. {missing[0]}')
  return Check(recorded, reasons)
