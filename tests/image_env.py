"""What the Dockerfile's image holds, built here without Docker.

The image is `python:3.11-slim` with the main lock (requirements.lock, not the
test lock) installed, the project copied to the working directory (less what
.dockerignore leaves out) and the `coco_captions` package installed from it.
Here: a virtualenv of this machine's Python 3.11 synced to the main lock with
uv, the project copied by the same rules, and the package installed the way
the Dockerfile's RUN line does. `dockerfile()` reads the working directory,
the environment and the RUN lines from the Dockerfile itself, and
test_kubeflow.py checks that they are the ones this module reproduces.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from typing import Dict, List, NamedTuple, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The Dockerfile's two installs, as it writes them.
INSTALL_LOCK = ('uv pip install --system --no-cache --compile-bytecode '
                '-r requirements.lock')
INSTALL_PROJECT = ('uv pip install --system --no-cache --no-deps '
                   '--no-build-isolation .')


class Dockerfile(NamedTuple):
  workdir: str
  env: Dict[str, str]
  runs: List[str]


class Image(NamedTuple):
  python: str  # The image's `python`.
  project: str  # What the image holds at `workdir`.
  workdir: str
  env: Dict[str, str]  # A pod's environment.


def dockerfile() -> Dockerfile:
  """The Dockerfile's WORKDIR, ENV and RUN instructions (continuations
  joined)."""
  with open(os.path.join(ROOT, 'Dockerfile')) as f:
    text = re.sub(r'\\\n', ' ', f.read())
  workdir, env, runs = '/', {}, []
  for line in text.splitlines():
    word, _, rest = line.strip().partition(' ')
    if word == 'WORKDIR':
      workdir = rest.strip()
    elif word == 'ENV':
      name, _, value = rest.strip().partition('=')
      env[name] = value
    elif word == 'RUN':
      runs.append(' '.join(rest.split()))
  return Dockerfile(workdir, env, runs)


def _ignored(relative: str, patterns: List[str]) -> bool:
  parts = relative.split('/')
  for pattern in patterns:
    if pattern.startswith('**/'):
      if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
        return True
    elif fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(parts[0],
                                                                pattern):
      return True
  return False


def copy_project(destination: str) -> None:
  """`COPY . .`: the project less what .dockerignore names."""
  with open(os.path.join(ROOT, '.dockerignore')) as f:
    patterns = [line.strip().rstrip('/') for line in f
                if line.strip() and not line.startswith('#')]
  for directory, dirs, files in os.walk(ROOT):
    relative = os.path.relpath(directory, ROOT)
    relative = '' if relative == '.' else relative + '/'
    dirs[:] = [d for d in dirs if not _ignored(relative + d, patterns)]
    os.makedirs(os.path.join(destination, relative), exist_ok=True)
    for name in files:
      if not _ignored(relative + name, patterns):
        shutil.copy2(os.path.join(directory, name),
                     os.path.join(destination, relative, name))


def build(destination: str, with_project: bool = True,
          compiled: Tuple[str, ...] = ()) -> Image:
  """The image's Python and project under `destination`; without the
  project installed, the environment of a Beam worker that gets it from
  what the job stages (--setup_file).

  The image, and Beam's SDK images, hold bytecode compiled as they were
  installed. Here the modules `compiled` names are imported once, bytecode
  written, so that no pod or worker compiles them from source, as each would
  where PYTHONDONTWRITEBYTECODE is set (CI machines)."""
  found = dockerfile()
  project = os.path.join(destination, 'project')
  copy_project(project)
  venv = os.path.join(destination, 'venv')
  uv = os.path.join(os.path.dirname(sys.executable), 'uv')
  python = os.path.join(venv, 'bin', 'python')
  base = getattr(sys, '_base_executable', sys.executable)
  commands = [
      [uv, 'venv', '--quiet', '--python', base, venv],
      # The image compiles bytecode as it installs; here each module is
      # compiled when first imported and kept, which costs less in all.
      [uv, 'pip', 'sync', '--quiet', '--python', python,
       os.path.join(project, 'requirements.lock')]]
  if with_project:
    commands.append([uv, 'pip', 'install', '--quiet', '--python', python,
                     '--no-deps', '--no-build-isolation', project])
  for command in commands:
    subprocess.run(command, check=True, cwd=destination, timeout=900)
  env = {
      **found.env,
      'PATH': f'{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin',
      'HOME': os.path.join(destination, 'home'),
  }
  os.makedirs(env['HOME'], exist_ok=True)
  if compiled:
    result = subprocess.run(
        [python, '-c', 'import ' + ', '.join(compiled)], cwd=destination,
        env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
  return Image(python, project, found.workdir, env)
