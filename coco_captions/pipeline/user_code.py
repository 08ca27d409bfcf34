"""The user code (the module file and the `.py` files beside it), as TFX ships it.

TFX packages the module file's directory into a user-code wheel under
`PIPELINE_ROOT/_wheels` and hands components `module_path`,
`'<module name>@<wheel URI>'`, instead of the path. Transform and the Trainer
import their functions through TFX; GroupCaptionsByImage's workers import
theirs through `load`. Both read the code from what TFX ships, never from the
working directory or the launcher's `sys.path`, so the same code runs in a
Kubeflow pod, an Airflow task, a Beam worker or the launching process.
"""

import hashlib
import importlib
import io
import os
import sys
import tempfile
import threading
import zipfile
from types import ModuleType
from typing import Dict, NamedTuple, Tuple

_lock = threading.Lock()
# Modules loaded in this process, by name and digest of their sources.
_loaded: Dict[Tuple[str, str], ModuleType] = {}


class UserCode(NamedTuple):
  """A module to import and every source file it may import, by file name."""
  module: str
  sources: Dict[str, bytes]


def read(module_file: str = '', module_path: str = '') -> UserCode:
  """The user code a component was given: the wheel `module_path` names
  (`'name@wheel URI'`, as TFX sets it) or, where TFX packaged nothing,
  `module_file` and the `.py` files beside it. Paths may be URIs."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if module_path and '@' in module_path:
    module, wheel = module_path.split('@', 1)
    with tf.io.gfile.GFile(wheel, 'rb') as f:
      with zipfile.ZipFile(io.BytesIO(f.read())) as archive:
        # TFX's wheels hold the modules at the top level (`py_modules`).
        sources = {name: archive.read(name) for name in archive.namelist()
                   if name.endswith('.py') and '/' not in name}
    return UserCode(module, sources)
  if not module_file:
    raise ValueError('Neither a module file nor a user-code wheel was given.')
  sources = {}
  for path in tf.io.gfile.glob(os.path.join(os.path.dirname(module_file),
                                            '*.py')):
    with tf.io.gfile.GFile(path, 'rb') as f:
      sources[os.path.basename(path)] = f.read()
  name = os.path.basename(module_file)
  if name not in sources:
    raise ImportError(f'module file {module_file} does not exist')
  return UserCode(name[:-len('.py')], sources)


def load(code: UserCode):
  """Imports `code.module` from `code.sources` and returns it.

  The sources are written to a new directory, imported from there with it
  first on `sys.path`, and nothing else: a module of the same name anywhere
  else (the working directory, the launcher's checkout) cannot shadow them.
  Afterwards `sys.path` and `sys.modules` are as they were, so the caller's
  own imports are untouched; the module keeps the siblings it imported. The
  same sources load once per process.
  """
  digest = hashlib.sha256()
  for name in sorted(code.sources):
    digest.update(name.encode() + b'\0' + code.sources[name] + b'\0')
  key = (code.module, digest.hexdigest())
  with _lock:
    if key in _loaded:
      return _loaded[key]
    directory = tempfile.mkdtemp(prefix='coco_captions_code_')
    for name, source in code.sources.items():
      with open(os.path.join(directory, name), 'wb') as f:
        f.write(source)
    names = [name[:-len('.py')] for name in code.sources]
    before = {name: sys.modules.pop(name) for name in names
              if name in sys.modules}
    sys.path.insert(0, directory)
    importlib.invalidate_caches()
    try:
      module = importlib.import_module(code.module)
    finally:
      sys.path.remove(directory)
      for name in names:
        sys.modules.pop(name, None)
      sys.modules.update(before)
    _loaded[key] = module
    return module


def hide_copies(module_file: str) -> None:
  """Takes off `sys.path` every directory holding a file named as
  `module_file` is, and forgets the modules imported from those directories.

  TFX imports Transform's and the Trainer's functions by the module's name
  from the user-code wheel it appends to `sys.path`: a runner's own directory
  (first on it when run as a script) or the working directory would
  otherwise shadow the module file that was given, or its siblings.
  """
  file_name = os.path.basename(module_file)
  hidden = {os.path.abspath(entry or os.getcwd()) for entry in sys.path
            if os.path.isfile(os.path.join(entry or os.getcwd(), file_name))}
  sys.path[:] = [entry for entry in sys.path
                 if os.path.abspath(entry or os.getcwd()) not in hidden]
  for name, module in list(sys.modules.items()):
    where = getattr(module, '__file__', None)
    if (name != '__main__' and where and
        os.path.dirname(os.path.abspath(where)) in hidden):
      del sys.modules[name]
