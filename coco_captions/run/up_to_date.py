"""Answers "nothing changed since the last run" before TensorFlow is imported.

A re-run with the same data, code, settings and ML Metadata would be served
entirely from TFX's cache, but only after seconds of importing TensorFlow and
TFX. The session asks here first, the way `make` does:

  parts = fingerprint(settings)           # one digest per part, see below
  check(pipeline_root, parts, metadata)   # unchanged? else the reasons
  clear(pipeline_root)                    # a real run starts: forget the last
  record(pipeline_root, parts, ...)       # it ran: PIPELINE_ROOT/last_run.json

The parts, each a digest:
  * settings: every setting that reaches the pipeline, Beam options and the
    orchestrator included (`Settings.fingerprint`);
  * data: each CSV file's name, size, modification time and inode change time
    (`data_fingerprint`);
  * images: the same of every file under a local images root
    (`directory_fingerprint`);
  * code: the content of the module file and every top-level `.py` beside it
    (what TFX packages into its user-code wheel), the `coco_captions` package
    and the schema file;
  * environment: the versions of Python and of the TFX stack.
The record adds ML Metadata: its file's size and modification time stand for
everything recorded since, so any later run (a killed one, one with other
settings) sends the next one through TFX, which decides from the store itself.
It also keeps the outputs the run points to; if one is gone, the pipeline runs.

Why the inode change time: a file rewritten with its size and modification
time put back (os.utime) still gets a new one, which no user can set back.
TFX's CsvExampleGen fingerprints sizes and modification times only, so
`create_pipeline` hands it the data digest, and GroupCaptionsByImage the
images digest, for TFX's cache to notice the same changes. Remote data or
images (`gs://...`) are not listed: a run on remote data always goes through
TFX, and a changed remote image needs a new name or `--no_cache`.
"""

import glob
import hashlib
import json
import os
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

from coco_captions import paths
from coco_captions.pipeline import configs
from coco_captions.run.settings import Settings

RECORD_FILENAME = 'last_run.json'
_FORMAT = 3  # 2: the images part; 3: inode change times.
# The stack whose versions can change what a run computes.
_PACKAGES = ('tfx', 'tensorflow', 'tensorflow-transform', 'tfx-bsl',
             'tensorflow-data-validation', 'apache-beam', 'ml-metadata',
             'tf-keras')
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fingerprint(settings: Settings) -> Dict[str, Optional[str]]:
  """What a run with `settings` computes from, one digest per part.

  Returns:
    {'settings', 'data', 'images', 'code', 'environment'} -> a digest; 'data'
    is None for remote data and 'code' None for a module file that cannot be
    read (such parts cannot be checked here: `check` never answers
    "unchanged" and `record` keeps nothing); 'images' is '' for a remote
    images root.
  """
  try:
    code = _code_digest(settings.module_file, settings.schema_file)
  except OSError:
    code = None
  return {
      'settings': _digest(json.dumps(settings.fingerprint(), sort_keys=True)),
      'data': data_fingerprint(settings.data_root, configs.CSV_PATTERN),
      'images': directory_fingerprint(settings.images_root) or '',
      'code': code,
      'environment': _environment_digest(),
  }


class Check(NamedTuple):
  """The outcome of `check`: the last run's record (None if there is no
  usable one) and what changed since (empty if nothing did)."""
  recorded: Optional[Dict[str, Any]]
  reasons: List[str]

  @property
  def unchanged(self) -> bool:
    return self.recorded is not None and not self.reasons


def check(pipeline_root: str, parts: Dict[str, Optional[str]],
          metadata_path: str) -> Check:
  """Whether a run with fingerprint `parts` (`fingerprint`) would change
  nothing since the run recorded under `pipeline_root`.

  Returns:
    `Check`: unchanged, with the record; or the record and one reason per
    change (`the data changed`, `ML Metadata changed ...`, an output gone);
    or no record and no reasons (the first run, remote data, a record of an
    older format).
  """
  try:
    with open(record_path(pipeline_root), encoding='utf-8') as f:
      recorded = json.load(f)
  except (OSError, ValueError):
    return Check(None, [])
  if None in parts.values() or recorded.get('format') != _FORMAT:
    return Check(None, [])
  before = recorded.get('fingerprint', {})
  reasons = [f'the {part} changed' for part in sorted(parts)
             if before.get(part) != parts[part]]
  metadata = recorded.get('metadata', {})
  if (metadata.get('path') != metadata_path or
      metadata.get('state') != _metadata_state(metadata_path)):
    reasons.append('ML Metadata changed (another run used it)')
  missing = [p for p in recorded.get('outputs', []) if not os.path.exists(p)]
  if missing:
    reasons.append(f'{len(missing)} output(s) of run {recorded.get("run_id")} '
                   f'are gone, e.g. {missing[0]}')
  return Check(recorded, reasons)


def clear(pipeline_root: str) -> None:
  """Forgets the last run: called before a run changes anything, so that a
  crash never leaves a stale record behind."""
  try:
    os.remove(record_path(pipeline_root))
  except FileNotFoundError:
    pass


def record(pipeline_root: str, parts: Dict[str, Optional[str]],
           metadata_path: str, run_id: str, outputs: Sequence[str],
           printed: str) -> None:
  """Writes PIPELINE_ROOT/last_run.json for a successful run; call after its
  last write to ML Metadata.

  Args:
    parts: `fingerprint(...)` as taken before the run; with a part None,
      nothing is recorded.
    metadata_path: the ML Metadata SQLite file the run wrote.
    run_id: the run's id in ML Metadata.
    outputs: local paths the recorded results point to; if any disappears,
      the next run goes through TFX.
    printed: the results as the CLI printed them, to print again.
  """
  if None in parts.values():
    return
  state = {
      'format': _FORMAT,
      'fingerprint': parts,
      'metadata': {'path': metadata_path,
                   'state': _metadata_state(metadata_path)},
      'run_id': run_id,
      'outputs': sorted({p for p in outputs if p and '://' not in p}),
      'printed': printed,
  }
  path = record_path(pipeline_root)
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    json.dump(state, f, indent=1)
  os.replace(path + '.tmp', path)


def record_path(pipeline_root: str) -> str:
  return os.path.join(pipeline_root, RECORD_FILENAME)


def data_fingerprint(data_root: str, csv_pattern: str) -> Optional[str]:
  """One digest of the name, size and times of every CSV file under a local
  `data_root`; None for a remote one (only TFX's own check can tell)."""
  if '://' in data_root:
    return None
  files = []
  for path in sorted(glob.glob(os.path.join(data_root, csv_pattern))):
    stat = os.stat(path)
    files.append([os.path.basename(path), stat.st_size, stat.st_mtime_ns,
                  stat.st_ctime_ns])
  return _digest(json.dumps(files))


def directory_fingerprint(root: str) -> Optional[str]:
  """One digest of every file's relative name, size and times under `root`;
  None for a remote root or one that is not a directory.

  For the images root (an image replaced in place changes no CSV file) and
  artifacts read back (the run report). Stat-based, so cheap enough for
  COCO-sized image folders. A linked directory is not walked: it may lead
  anywhere, or loop.
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
          continue
        try:
          stat = entry.stat(follow_symlinks=not entry.is_dir())
        except OSError:  # A link to nothing counts as the link.
          stat = entry.stat(follow_symlinks=False)
        entries.append(_stat_entry(prefix + entry.name, stat))
  return _digest('\n'.join(sorted(entries)))


def files_fingerprint(root: str, names: Sequence[str]) -> Optional[str]:
  """`directory_fingerprint` of the files `names` under `root` only: for a
  few files of a large directory (the run report's 1,000 eval images).

  None for a remote root, or when one of them is missing or named outside
  `root` (coco_captions/paths.py).
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


def _stat_entry(name: str, stat: os.stat_result) -> str:
  return (f'{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0'
          f'{stat.st_ctime_ns}')


def _code_digest(module_file: str, schema_file: str) -> str:
  """One digest of the names (relative to the module file's folder) and
  contents of the code a run runs: every top-level .py beside the module
  file (what TFX packages), the coco_captions package and the schema.
  Raises OSError if one cannot be read."""
  if not os.path.isfile(module_file):
    raise FileNotFoundError(module_file)
  module_dir = os.path.dirname(module_file)
  files = set(glob.glob(os.path.join(os.path.abspath(module_dir), '*.py')))
  files.update(glob.glob(os.path.join(_PACKAGE_DIR, '**', '*.py'),
                         recursive=True))
  files.add(schema_file)
  digest = hashlib.sha256()
  for path in sorted(files):
    digest.update(os.path.relpath(path, module_dir).encode() + b'\0')
    with open(path, 'rb') as f:
      digest.update(hashlib.sha256(f.read()).digest())
  return digest.hexdigest()


def _environment_digest() -> str:
  from importlib import metadata  # pylint: disable=import-outside-toplevel
  versions = {'python': sys.version, 'executable': sys.executable}
  for package in _PACKAGES:
    try:
      versions[package] = metadata.version(package)
    except metadata.PackageNotFoundError:
      versions[package] = None
  return _digest(json.dumps(versions, sort_keys=True))


def _metadata_state(metadata_path: str) -> Optional[List[int]]:
  """The ML Metadata file's size and modification time; None if absent."""
  try:
    stat = os.stat(metadata_path)
  except OSError:
    return None
  return [stat.st_size, stat.st_mtime_ns]


def _digest(text: str) -> str:
  return hashlib.sha256(text.encode()).hexdigest()
