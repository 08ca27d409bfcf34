#!/usr/bin/env python3
"""Sets up the project's virtualenv from the lock file, then runs a command in it.

  python3.11 tools/dev.py pipeline [flags]    run the pipeline on the bundled data
  python3.11 tools/dev.py test [pytest args]  run the test suite
  python3.11 tools/dev.py setup               only create or update the virtualenv
  python3.11 tools/dev.py lock                re-pin requirements.lock

The virtualenv is `.venv` beside this project (or $COCO_CAPTIONS_VENV). It is
created if missing and synced to requirements.lock only when the lock or
setup.py changed since the last sync, so a second run starts at once.

This file lives outside the project root on purpose: TFX packages every
top-level .py file beside the module file into the user-code wheel.
"""

import hashlib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get('COCO_CAPTIONS_VENV', os.path.join(ROOT, '.venv'))
LOCK = os.path.join(ROOT, 'requirements.lock')
TOOLS_IN = os.path.join(ROOT, 'tools', 'requirements-tools.in')
STAMP = os.path.join(VENV, '.coco-captions-lock.sha256')
PYTHON = os.path.join(VENV, 'bin', 'python')
UV = os.path.join(VENV, 'bin', 'uv')


def _run(command, **kwargs):
  print('+', ' '.join(command), flush=True)
  subprocess.run(command, check=True, **kwargs)


def _digest() -> str:
  h = hashlib.sha256()
  for path in (LOCK, os.path.join(ROOT, 'setup.py')):
    with open(path, 'rb') as f:
      h.update(f.read())
  return h.hexdigest()


def _locked_version(package: str) -> str:
  with open(LOCK) as f:
    match = re.search(rf'^{package}==(\S+)', f.read(), re.MULTILINE)
  if not match:
    sys.exit(f'{package} is not pinned in {LOCK}; run: tools/dev.py lock')
  return match.group(1)


def _ensure_uv():
  if not os.path.exists(PYTHON):
    _run([sys.executable, '-m', 'venv', VENV])
  if not os.path.exists(UV):
    _run([PYTHON, '-m', 'pip', 'install', '--quiet',
          f'uv=={_locked_version("uv")}'])


def setup() -> None:
  """Creates the virtualenv if needed and syncs it to the lock file."""
  if sys.version_info[:2] != (3, 11):
    sys.exit(f'requirements.lock is pinned for Python 3.11; this is '
             f'{sys.version.split()[0]}. Run: python3.11 tools/dev.py ...')
  digest = _digest()
  if os.path.exists(STAMP) and open(STAMP).read().strip() == digest:
    return
  _ensure_uv()
  _run([UV, 'pip', 'sync', '--python', PYTHON, LOCK])
  # The project itself, editable, so the checkout is what runs.
  _run([UV, 'pip', 'install', '--python', PYTHON, '--no-deps',
        '--no-build-isolation', '--editable', ROOT])
  with open(STAMP, 'w') as f:
    f.write(digest + '\n')


def lock() -> None:
  """Re-resolves setup.py's dependencies and the tools into requirements.lock."""
  _ensure_uv()
  _run([UV, 'pip', 'compile', '--python-version', '3.11', '--extra', 'test',
        '--custom-compile-command', 'python3.11 tools/dev.py lock',
        '--output-file', 'requirements.lock', 'setup.py',
        os.path.relpath(TOOLS_IN, ROOT)],
       cwd=ROOT)


def main(argv) -> int:
  if not argv or argv[0] not in ('pipeline', 'test', 'setup', 'lock'):
    print(__doc__)
    return 2
  command, rest = argv[0], argv[1:]
  if command == 'lock':
    lock()
    return 0
  setup()
  if command == 'setup':
    return 0
  if command == 'pipeline':
    args = [PYTHON, os.path.join(ROOT, 'coco_captions_local.py')] + rest
  else:
    args = [PYTHON, '-m', 'pytest'] + rest
  os.chdir(ROOT)
  os.execv(PYTHON, args)
  return 1  # Not reached.


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
