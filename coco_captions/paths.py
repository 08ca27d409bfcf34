"""Image names are paths relative to an images root, and never leave it.

An `image_name` (CSV) or `file_name` (COCO JSON) comes from the data, so it is
untrusted, and so is what the images root holds. Every reader of an image
(GroupCaptionsByImage, the evaluator, the report, the query command, the
converter) reads it with `read_image`, or many at once with `read_images`,
which:

  * refuses a name that could point outside the root (`image_path`), and a
    name that leads outside it through a symbolic link, once links are
    resolved, without opening anything;
  * opens only a regular file: a directory, a FIFO, a device or a link to
    nothing is named as such, decided by the file's type, never opened;
  * refuses an image whose header claims more than MAX_IMAGE_PIXELS pixels
    before anything decodes it (a decompression bomb, or a tiny file claiming
    65000 x 65000).

An image file the user names (the query command's `--image`) is read by
`read_image_file`, with the last two checks.

Transform and the Trainer open no image file: they read the pixels
GroupCaptionsByImage stored.
"""

import io
import os
import re
import stat
import sys
import warnings
from typing import Callable, List, Optional, Sequence, Tuple, Union

# The most pixels an image may have, read from its header (50 megapixels,
# e.g. 8,660 x 5,773; COCO's images have under 0.4). A decoded image costs 3
# bytes a pixel, and images are decoded 64 at a time.
MAX_IMAGE_PIXELS = 50_000_000
# The most characters of a name or detail an error line shows.
MAX_SHOWN = 200

# One pattern for every unsafe name: a `..` segment, an absolute
# path, a scheme or drive in the first segment (`file:`, `gs:`, `C:`), a
# backslash, or a control character (NUL included).
UNSAFE_NAME_PATTERN = (r'(?s)(^|.*/)\.\.(/.*|$)|/.*|[^/]*:.*|.*\\.*'
                       r'|.*[\x00-\x1f\x7f].*')
_UNSAFE = re.compile(UNSAFE_NAME_PATTERN)


class UnsafeImageNameError(ValueError):
  """An image name that could point outside its images root."""


class ImageFileError(OSError):
  """An image that cannot be used: `reason` (a bad-image reason of
  GroupCaptionsByImage) and a one-line `detail` naming the file."""

  def __init__(self, reason: str, detail: str):
    super().__init__(detail)
    self.reason = reason
    self.detail = detail


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
  """`images_root/name`, or UnsafeImageNameError if `name` may leave the root,
  by its spelling or, under a local root, through a symbolic link.

  `images_root` is a local directory or a URI (`gs://bucket/images`); it is
  trusted, the name is not. Nothing is opened.
  """
  problem = image_name_problem(name)
  if problem:
    raise UnsafeImageNameError(f'image name {shown(name)} {problem}: '
                               'it must be a path under the images root')
  if isinstance(name, bytes):
    name = name.decode('utf-8')
  path = images_root + ('' if images_root.endswith('/') else '/') + name
  if '://' not in images_root:
    real_root = os.path.realpath(images_root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
      raise UnsafeImageNameError(
          f'image name {shown(name)} leads outside the images root through '
          f'a symbolic link (to {shown(real)})')
  return path


def _file_kind(mode: int) -> str:
  for test, kind in ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
                     (stat.S_ISCHR, 'a character device'),
                     (stat.S_ISBLK, 'a block device'),
                     (stat.S_ISSOCK, 'a socket')):
    if test(mode):
      return kind
  return 'not a regular file'


def _check_file(path: str) -> None:
  """ImageFileError unless `path` (local or URI) is a regular file, decided
  by its type before anything opens it."""
  if '://' in path:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if not tf.io.gfile.exists(path):
      raise ImageFileError('missing', f'{shown(path)} does not exist')
    if tf.io.gfile.isdir(path):
      raise ImageFileError('not_a_file', f'{shown(path)} is a directory')
    return
  try:
    mode = os.stat(path).st_mode
  except FileNotFoundError:
    what = ('is a symbolic link to nothing' if os.path.islink(path) else
            'does not exist')
    raise ImageFileError('missing', f'{shown(path)} {what}') from None
  except OSError as e:
    raise ImageFileError('unreadable',
                         f'{shown(path)}: {e.strerror or e}') from None
  if not stat.S_ISREG(mode):
    raise ImageFileError('not_a_file',
                         f'{shown(path)} is {_file_kind(mode)}, not a file')


def _claimed_pixels(data: bytes) -> Optional[Tuple[int, str]]:
  """(pixels, as said) that an image's header claims, read without decoding
  it; None where PIL does not know the format."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=import-outside-toplevel
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore', Image.DecompressionBombWarning)
      with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        return width * height, f'{width} x {height} pixels'
  except Image.DecompressionBombError as e:  # Beyond what PIL opens at all.
    found = re.search(r'\((\d+) pixels\)', str(e))
    pixels = int(found.group(1)) if found else MAX_IMAGE_PIXELS + 1
    return pixels, f'{pixels:,} pixels'
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
    return None


def _check_pixels(data: bytes, path: str) -> None:
  """ImageFileError('too_large') if the header of `data` claims more than
  MAX_IMAGE_PIXELS pixels."""
  claimed = _claimed_pixels(data)
  if claimed and claimed[0] > MAX_IMAGE_PIXELS:
    raise ImageFileError(
        'too_large', f'{shown(path)} claims {claimed[1]}, more than the '
        f'{MAX_IMAGE_PIXELS:,} an image may have')


def read_image(images_root: str, name: Union[str, bytes]) -> bytes:
  """The bytes of image `name` under `images_root`, checked as the module
  docstring says; ImageFileError otherwise (reason `unsafe_name`, `missing`,
  `not_a_file`, `unreadable`, `empty_file` or `too_large`)."""
  problem = image_name_problem(name)
  if problem:
    raise ImageFileError('unsafe_name', f'the name {problem}')
  try:
    path = image_path(images_root, name)
  except UnsafeImageNameError as e:  # Through a link.
    raise ImageFileError('unsafe_name', str(e)) from None
  return read_image_file(path)


def read_image_file(path: str) -> bytes:
  """The bytes of the image file at `path`, a path the user gave (trusted,
  unlike a name from the data): only a regular file is opened, and an image
  whose header claims too many pixels is refused; ImageFileError otherwise
  (reason `missing`, `not_a_file`, `unreadable`, `empty_file` or
  `too_large`)."""
  _check_file(path)
  try:
    data = _read(path)
  except Exception as e:  # pylint: disable=broad-except
    if not _is_read_error(e):
      raise
    raise ImageFileError('unreadable', f'{shown(path)}: ' + first_line(
        getattr(e, 'message', None) or getattr(e, 'strerror', None) or
        str(e))) from None
  if not data:
    raise ImageFileError('empty_file', f'{shown(path)} is empty (0 bytes)')
  _check_pixels(data, path)
  return data


def read_images(
    images_root: str, names: Sequence[Union[str, bytes]],
    map_fn: Callable = map
) -> Tuple[List[int], List[bytes], List[Tuple[int, ImageFileError]]]:
  """(indices of `names` read, their bytes, [(index, ImageFileError)] of the
  rest), each read by `read_image`: a bad image costs only itself.

  `map_fn` reads them (a thread pool's `map` reads them in parallel).
  """
  def read(name):
    try:
      return read_image(images_root, name)
    except ImageFileError as e:
      return e

  kept, images, failed = [], [], []
  for index, result in enumerate(map_fn(read, names)):
    if isinstance(result, ImageFileError):
      failed.append((index, result))
    else:
      kept.append(index)
      images.append(result)
  return kept, images, failed


def _read(path: str) -> bytes:
  if '://' in path:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    with tf.io.gfile.GFile(path, 'rb') as f:
      return f.read()
  with open(path, 'rb') as f:  # No TensorFlow import for local files.
    return f.read()


def _is_read_error(error: Exception) -> bool:
  if isinstance(error, OSError):
    return True
  tf = sys.modules.get('tensorflow')
  return tf is not None and isinstance(error, tf.errors.OpError)


def first_line(message: str) -> str:
  """What an error message says went wrong, in one bounded line: its first
  line, past the frames and node markers TensorFlow wraps around it."""
  for line in message.strip().splitlines():
    line = line.strip()
    if line and not line.startswith(('Graph execution error',
                                     'Detected at node', 'File "', '[[')):
      return bounded(line)
  return 'unknown error'


def bounded(text: str, limit: int = MAX_SHOWN) -> str:
  """`text`, cut to `limit` characters with how many more there were."""
  if len(text) <= limit:
    return text
  return f'{text[:limit]}... ({len(text) - limit:,} more characters)'


def shown(name: Union[str, bytes]) -> str:
  """`name` quoted, control and invalid characters escaped, bounded."""
  if isinstance(name, bytes):
    name = name.decode('utf-8', 'backslashreplace')
  return bounded(ascii(name) if not name.isprintable() else repr(name))
