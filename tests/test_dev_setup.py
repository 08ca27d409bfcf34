"""tools/dev.py's setup, checked on the virtualenv these tests run in."""

import glob
import importlib.util
import os
import sys

import pytest

STAMP = os.path.join(sys.prefix, '.coco-captions-lock.sha256')


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
