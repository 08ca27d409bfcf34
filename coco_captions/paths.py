"""Image names are paths relative to an images root, and never leave it.

An `image_name` (CSV) or `file_name` (COCO JSON) comes from the data, so it is
untrusted: every reader of images joins it to its root with `image_path`,
which refuses a name that could point outside the root. Transform and the
Trainer open no image file: they read the pixels GroupCaptionsByImage stored.
"""

import re
from typing import Optional, Union

# One pattern for every unsafe name: a `..` segment, an absolute
# path, a scheme or drive in the first segment (`file:`, `gs:`, `C:`), a
# backslash, or a control character (NUL included).
UNSAFE_NAME_PATTERN = (r'(?s)(^|.*/)\.\.(/.*|$)|/.*|[^/]*:.*|.*\\.*'
                       r'|.*[\x00-\x1f\x7f].*')
_UNSAFE = re.compile(UNSAFE_NAME_PATTERN)


class UnsafeImageNameError(ValueError):
  """An image name that could point outside its images root."""


def image_name_problem(name: Union[str, bytes]) -> Optional[str]:
  """Why `name` cannot be read under an images root, or None if it can."""
  if isinstance(name, bytes):
    try:
      name = name.decode('utf-8')
    except UnicodeDecodeError:
      return 'is not valid UTF-8'
  if not name:
    return 'is empty'
  if '\x00' in name:
    return 'contains a NUL character'
  if re.search(r'[\x01-\x1f\x7f]', name):
    return 'contains a control character'
  if '\\' in name:
    return 'contains a backslash'
  if name.startswith('/'):
    return 'is an absolute path'
  if ':' in name.split('/', 1)[0]:
    return 'starts with a scheme or drive (such as file:, gs:, C:)'
  if '..' in name.split('/'):
    return 'has a ".." segment'
  if _UNSAFE.fullmatch(name):  # Keeps the two spellings of the rule in step.
    raise AssertionError(f'unclassified unsafe image name {name!r}')
  return None


def image_path(images_root: str, name: Union[str, bytes]) -> str:
  """`images_root/name`, or UnsafeImageNameError if `name` may leave the root.

  `images_root` is a local directory or a URI (`gs://bucket/images`); it is
  trusted, the name is not.
  """
  problem = image_name_problem(name)
  if problem:
    raise UnsafeImageNameError(f'image name {_shown(name)} {problem}: '
                               'it must be a path under the images root')
  if isinstance(name, bytes):
    name = name.decode('utf-8')
  return images_root + ('' if images_root.endswith('/') else '/') + name


def _shown(name: Union[str, bytes]) -> str:
  """`name` quoted, with control and invalid characters escaped."""
  if isinstance(name, bytes):
    name = name.decode('utf-8', 'backslashreplace')
  return ascii(name) if not name.isprintable() else repr(name)
