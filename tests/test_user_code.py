"""The user code is read from what TFX ships and never shadowed by a copy."""

import sys

import pytest
from tfx.components.util import udf_utils
from tfx.utils import import_utils

from coco_captions.pipeline import user_code


def _code(directory, value):
  """A module file `model.py` whose sibling `helper.py` holds `value`."""
  directory.mkdir()
  (directory / 'model.py').write_text(
      'import helper\nVALUE = helper.VALUE\n')
  (directory / 'helper.py').write_text(f'VALUE = {value!r}\n')
  (directory / 'notes.txt').write_text('not code\n')
  return directory / 'model.py'


@pytest.fixture
def decoy(tmp_path, monkeypatch):
  """A directory first on sys.path with modules of the same names, as the
  working directory or a runner's checkout would be."""
  directory = tmp_path / 'decoy'
  _code(directory, 'decoy')
  monkeypatch.syspath_prepend(str(directory))
  for name in ('model', 'helper'):
    monkeypatch.delitem(sys.modules, name, raising=False)
  return directory


def test_read_takes_the_module_file_and_the_python_files_beside_it(tmp_path):
  code = user_code.read(str(_code(tmp_path / 'code', 'given')))
  assert code.module == 'model'
  assert code.sources == {'model.py': b'import helper\nVALUE = helper.VALUE\n',
                          'helper.py': b"VALUE = 'given'\n"}


def test_read_takes_the_code_from_the_wheel_tfx_built(tmp_path):
  module_file = _code(tmp_path / 'code', 'packaged')
  _, module_path = udf_utils.package_user_module_file(
      'Component', str(module_file), str(tmp_path / 'root'))
  assert module_path.startswith(f'model@{tmp_path / "root" / "_wheels"}/')
  (tmp_path / 'code' / 'helper.py').write_text("VALUE = 'edited later'\n")
  code = user_code.read(module_file='', module_path=module_path)
  assert code == user_code.UserCode('model', {
      'model.py': b'import helper\nVALUE = helper.VALUE\n',
      'helper.py': b"VALUE = 'packaged'\n"})


def test_read_names_what_is_missing(tmp_path):
  with pytest.raises(ImportError, match=f'module file {tmp_path}/absent.py '
                     'does not exist'):
    user_code.read(str(tmp_path / 'absent.py'))
  with pytest.raises(ValueError, match='Neither a module file nor'):
    user_code.read()


def test_load_imports_the_sources_not_a_copy_on_sys_path(tmp_path, decoy):
  import helper  # The decoy's, as the launcher may already hold it.
  path_before, decoy_helper = list(sys.path), sys.modules['helper']
  code = user_code.read(str(_code(tmp_path / 'code', 'given')))
  module = user_code.load(code)
  assert module.VALUE == 'given'
  # The caller's imports and path are as they were.
  assert sys.path == path_before
  assert sys.modules['helper'] is decoy_helper and helper.VALUE == 'decoy'
  assert 'model' not in sys.modules
  # Once per process for the same sources; new sources load anew.
  assert user_code.load(code) is module
  edited = user_code.UserCode('model', {**code.sources,
                                        'helper.py': b"VALUE = 'edited'\n"})
  assert user_code.load(edited).VALUE == 'edited'


def test_hide_copies_lets_tfx_import_the_wheel_not_a_copy(tmp_path, decoy):
  # TFX imports Transform's and the Trainer's functions by module name with
  # the wheel appended to sys.path: a copy earlier on it wins unless hidden.
  module_file = _code(tmp_path / 'code', 'packaged')
  _, module_path = udf_utils.package_user_module_file(
      'Trainer', str(module_file), str(tmp_path / 'root'))
  (tmp_path / 'code' / 'model.py').write_text('VALUE = "the file"\n')
  assert import_utils.import_func_from_module(module_path, 'VALUE') == 'decoy'
  user_code.hide_copies(str(decoy / 'model.py'))
  assert str(decoy) not in sys.path and 'model' not in sys.modules
  assert import_utils.import_func_from_module(
      module_path, 'VALUE') == 'packaged'
