"""tools/dev.py's setup, checked on the virtualenv these tests run in."""

import glob
import importlib.util
import os
import sys

import pytest

STAMP = os.path.join(sys.prefix, '.coco-captions-lock.sha256')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _dev_module():
  spec = importlib.util.spec_from_file_location(
      'dev', os.path.join(ROOT, 'tools', 'dev.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.skipif(not os.path.exists(STAMP),
                    reason='this virtualenv was not made by tools/dev.py')
@pytest.mark.parametrize('package', ['tfx', 'apache_beam'])
def test_setup_compiled_every_module_to_bytecode(package):
  # Python, left to itself, compiles only what a process imports, and never
  # keeps it where PYTHONDONTWRITEBYTECODE is set. Every module having its
  # bytecode, imported or not, means setup compiled the whole install.
  root = os.path.dirname(importlib.util.find_spec(package).origin)
  sources = glob.glob(os.path.join(root, '**', '*.py'), recursive=True)
  assert len(sources) > 500
  missing = [path for path in sources
             if not os.path.exists(importlib.util.cache_from_source(path))]
  assert missing == []


def test_setup_runs_its_commands_once_and_again_when_they_change(
    tmp_path, monkeypatch):
  dev = _dev_module()
  env = dev.Env('test')
  env.stamp = str(tmp_path / 'stamp')  # Not the real virtualenv's.
  ran = []
  monkeypatch.setattr(dev, '_ensure_uv', lambda env: None)
  monkeypatch.setattr(dev, '_run', lambda command, **kwargs: ran.append(command))
  dev.setup(env)
  assert ran == dev._setup_commands(env)  # pylint: disable=protected-access
  assert any('--compile-bytecode' in command for command in ran)
  ran.clear()
  dev.setup(env)  # The stamp matches: nothing to do.
  assert ran == []
  steps = dev._setup_commands  # pylint: disable=protected-access
  monkeypatch.setattr(dev, '_setup_commands',
                      lambda env: steps(env) + [['true']])
  dev.setup(env)  # A changed command is a changed stamp.
  assert ran == steps(env) + [['true']]
