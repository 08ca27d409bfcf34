#!/usr/bin/env python3
"""Sets up the project's virtualenvs from the lock files, then runs a command.

  python3.11 tools/dev.py pipeline [flags]    run the pipeline on the bundled data
  python3.11 tools/dev.py test [pytest args]  run the test suite
  python3.11 tools/dev.py setup [test]        only create or update a virtualenv
  python3.11 tools/dev.py lock                re-pin both lock files

`pipeline` uses `.venv`, synced to requirements.lock: the lean install. `test`
uses `.venv-test`, synced to requirements-test.lock: the same pins plus the
optional extras the tests exercise (kfp, airflow). Each is created if missing and synced
only when its lock or setup.py changed since the last sync, so a second run
starts at once.

This file lives outside the project root on purpose: TFX packages every
top-level .py file beside the module file into the user-code wheel.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS_IN = os.path.join('tools', 'requirements-tools.in')
# Environment -> (virtualenv, lock file, setup.py extras pinned in the lock).
ENVIRONMENTS = {
    'pipeline': ('.venv', 'requirements.lock', ('test',)),
    'test': ('.venv-test', 'requirements-test.lock', ('test', 'kfp', 'airflow')),
}


class Env:
  """One virtualenv and the lock file it is synced to."""

  def __init__(self, name: str):
    venv, lock, self.extras = ENVIRONMENTS[name]
    self.venv = os.path.join(ROOT, venv)
    self.lock = os.path.join(ROOT, lock)
    self.python = os.path.join(self.venv, 'bin', 'python')
    self.uv = os.path.join(self.venv, 'bin', 'uv')
    self.stamp = os.path.join(self.venv, '.coco-captions-lock.sha256')


def _run(command, **kwargs):
  print('+', ' '.join(command), flush=True)
  subprocess.run(command, check=True, **kwargs)


def _setup_commands(env: Env):
  """What `setup` runs once the virtualenv has uv.

  Hashed into the stamp with the lock and setup.py, so a change to these
  commands re-runs setup on existing virtualenvs.
  """
  return [
      # Bytecode is compiled here, once (~1 min on 2 cores). Otherwise Python
      # compiles each module from source when it first imports it, and where
      # PYTHONDONTWRITEBYTECODE is set (this project's CI machines, many
      # containers) it never keeps the result: then every process spends ~20 s
      # of its ~30 s import of TensorFlow, TFX and Beam compiling them again.
      [env.uv, 'pip', 'sync', '--compile-bytecode', '--python', env.python,
       env.lock],
      # The project itself, editable, so the checkout is what runs.
      [env.uv, 'pip', 'install', '--python', env.python, '--no-deps',
       '--no-build-isolation', '--editable', ROOT],
  ]


def _digest(env: Env) -> str:
  h = hashlib.sha256(json.dumps(_setup_commands(env)).encode())
  for path in (env.lock, os.path.join(ROOT, 'setup.py')):
    with open(path, 'rb') as f:
      h.update(f.read())
  return h.hexdigest()


def _locked_version(lock: str, package: str) -> str:
  with open(lock) as f:
    match = re.search(rf'^{package}==(\S+)', f.read(), re.MULTILINE)
  if not match:
    sys.exit(f'{package} is not pinned in {lock}; run: tools/dev.py lock')
  return match.group(1)


def _ensure_uv(env: Env):
  if not os.path.exists(env.python):
    _run([sys.executable, '-m', 'venv', env.venv])
  if not os.path.exists(env.uv):
    _run([env.python, '-m', 'pip', 'install', '--quiet',
          f'uv=={_locked_version(env.lock, "uv")}'])


def setup(env: Env) -> None:
  """Creates the virtualenv if needed and syncs it to its lock file."""
  if sys.version_info[:2] != (3, 11):
    sys.exit(f'The lock files are pinned for Python 3.11; this is '
             f'{sys.version.split()[0]}. Run: python3.11 tools/dev.py ...')
  digest = _digest(env)
  if os.path.exists(env.stamp) and open(env.stamp).read().strip() == digest:
    return
  _ensure_uv(env)
  for command in _setup_commands(env):
    _run(command)
  with open(env.stamp, 'w') as f:
    f.write(digest + '\n')


def lock() -> None:
  """Re-resolves setup.py and the tools into both lock files.

  The test lock (every extra) is resolved first and the main lock is
  constrained by it, so every package the two share has the same version in
  both: the tests run exactly what the pipeline installs.
  """
  main_env, test_env = Env('pipeline'), Env('test')
  _ensure_uv(main_env)
  for env, constraints in ((test_env, []), (main_env, ['-c', test_env.lock])):
    extras = [a for extra in env.extras for a in ('--extra', extra)]
    _run([main_env.uv, 'pip', 'compile', '--python-version', '3.11', *extras,
          *constraints, '--custom-compile-command',
          'python3.11 tools/dev.py lock', '--output-file',
          os.path.relpath(env.lock, ROOT), 'setup.py', TOOLS_IN], cwd=ROOT)


def main(argv) -> int:
  if not argv or argv[0] not in ('pipeline', 'test', 'setup', 'lock'):
    print(__doc__)
    return 2
  command, rest = argv[0], argv[1:]
  if command == 'lock':
    lock()
    return 0
  if command == 'setup':
    setup(Env(rest[0] if rest else 'pipeline'))
    return 0
  env = Env(command)
  setup(env)
  if command == 'pipeline':
    args = [env.python, os.path.join(ROOT, 'coco_captions_local.py')] + rest
  else:
    args = [env.python, '-m', 'pytest'] + rest
  os.chdir(ROOT)
  os.execv(env.python, args)
  return 1  # Not reached.


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
