"""Image names never leave their images root: coco_captions.paths."""

import pytest

from coco_captions import paths

UNSAFE = {
    '../secret.jpg': 'has a ".." segment',
    'a/../../secret.jpg': 'has a ".." segment',
    'a/..': 'has a ".." segment',
    '..': 'has a ".." segment',
    '/etc/passwd': 'is an absolute path',
    '//server/share/x.jpg': 'is an absolute path',
    'file:///etc/passwd': 'starts with a scheme or drive',
    'gs://bucket/x.jpg': 'starts with a scheme or drive',
    'file:x.jpg': 'starts with a scheme or drive',
    'C:/x.jpg': 'starts with a scheme or drive',
    'a\\..\\..\\secret.jpg': 'contains a backslash',
    'good.jpg\x00../../x': 'contains a NUL character',
    'a\nb.jpg': 'contains a control character',
    '': 'is empty',
}
SAFE = ['x.jpg', 'sub/dir/x.jpg', 'COCO_train2014_000000000009.jpg',
        '..x.jpg', 'x..jpg', 'a/...jpg', './x.jpg', 'café/ñ.png',
        'a_b/ok.jpg', 'sub/a:b.jpg']


@pytest.mark.parametrize('name, reason', UNSAFE.items())
def test_unsafe_names_are_refused_with_their_reason(name, reason):
  assert paths.image_name_problem(name).startswith(reason)
  assert paths.image_name_problem(name.encode()).startswith(reason)
  with pytest.raises(paths.UnsafeImageNameError, match='under the images root'):
    paths.image_path('/data/images', name)


@pytest.mark.parametrize('name', SAFE)
def test_names_under_the_root_are_joined_to_it(name):
  assert paths.image_name_problem(name) is None
  assert paths.image_path('/data/images', name) == '/data/images/' + name
  assert paths.image_path('gs://b/images/', name) == 'gs://b/images/' + name


def test_invalid_utf8_is_refused():
  assert paths.image_name_problem(b'x\xff.jpg') == 'is not valid UTF-8'


def test_the_error_shows_control_characters_escaped():
  with pytest.raises(paths.UnsafeImageNameError,
                     match=r"'good\.jpg\\x00\.\./x' contains a NUL"):
    paths.image_path('/r', 'good.jpg\x00../x')


# --- Reading an image: links, file types, claimed sizes ---------------------


def _png_header(width, height):
  """A PNG whose header claims width x height, with no pixel data."""
  import struct
  import zlib

  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

  return (b'\x89PNG\r\n\x1a\n' +
          chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
          + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))


def _jpeg(size=(8, 6)):
  import io
  from PIL import Image
  out = io.BytesIO()
  Image.new('RGB', size, (200, 30, 30)).save(out, format='JPEG')
  return out.getvalue()


def _claiming(jpeg, width, height):
  """`jpeg` with its frame header saying width x height."""
  import struct
  data = bytearray(jpeg)
  at = data.index(b'\xff\xc0')
  data[at + 5:at + 9] = struct.pack('>HH', height, width)
  return bytes(data)


@pytest.fixture
def root(tmp_path):
  """An images root holding every kind of file a reader must not open, and
  links that stay in it or leave it."""
  import os
  images = tmp_path / 'images'
  (images / 'sub').mkdir(parents=True)
  (images / 'good.jpg').write_bytes(_jpeg())
  (tmp_path / 'secret.jpg').write_bytes(_jpeg())
  (tmp_path / 'elsewhere').mkdir()
  (tmp_path / 'elsewhere' / 'x.jpg').write_bytes(_jpeg())
  os.symlink(images / 'good.jpg', images / 'sub' / 'inside.jpg')
  os.symlink(tmp_path / 'secret.jpg', images / 'outside.jpg')
  os.symlink(tmp_path / 'elsewhere', images / 'linked_dir')
  os.symlink(images / 'gone.jpg', images / 'dangling.jpg')
  os.symlink(tmp_path / 'nothing.jpg', images / 'dangling_outside.jpg')
  os.mkfifo(images / 'pipe.jpg')
  (images / 'folder.jpg').mkdir()
  (images / 'bomb.png').write_bytes(_png_header(20000, 20000))
  (images / 'claims.jpg').write_bytes(_claiming(_jpeg(), 65000, 65000))
  (images / 'big.png').write_bytes(_png_header(10000, 6000))
  (images / 'empty.jpg').write_bytes(b'')
  return str(images)


@pytest.mark.parametrize('name, reason, words', [
    ('outside.jpg', 'unsafe_name', 'leads outside the images root through a '
     'symbolic link'),
    ('linked_dir/x.jpg', 'unsafe_name', 'leads outside the images root'),
    ('dangling.jpg', 'missing', 'is a symbolic link to nothing'),
    ('dangling_outside.jpg', 'unsafe_name', 'leads outside the images root'),
    ('absent.jpg', 'missing', 'does not exist'),
    ('pipe.jpg', 'not_a_file', 'is a FIFO, not a file'),
    ('folder.jpg', 'not_a_file', 'is a directory, not a file'),
    ('bomb.png', 'too_large', 'claims 400,000,000 pixels, more than the '
     '50,000,000 an image may have'),
    ('claims.jpg', 'too_large', 'claims 4,225,000,000 pixels'),
    ('big.png', 'too_large', 'claims 10000 x 6000 pixels'),
    ('empty.jpg', 'empty_file', 'is empty (0 bytes)'),
    ('../secret.jpg', 'unsafe_name', 'the name has a ".." segment'),
])
def test_read_image_refuses_what_it_must_not_use(root, name, reason, words):
  # A FIFO would block the reader for ever: its type decides first.
  import signal

  def hung(*_):
    raise AssertionError(f'{name} was opened')

  previous = signal.signal(signal.SIGALRM, hung)
  signal.alarm(20)
  try:
    with pytest.raises(paths.ImageFileError) as error:
      paths.read_image(root, name)
  finally:
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
  assert error.value.reason == reason
  assert words in error.value.detail and '\n' not in error.value.detail


def test_read_images_keeps_the_good_ones_and_says_why_of_the_rest(root):
  import concurrent.futures
  with open(f'{root}/good.jpg', 'rb') as f:
    good = f.read()
  names = ['good.jpg', 'pipe.jpg', 'sub/inside.jpg', 'outside.jpg', 'bomb.png']
  with concurrent.futures.ThreadPoolExecutor(2) as threads:
    for map_fn in (map, threads.map):
      kept, images, failed = paths.read_images(root, names, map_fn)
      assert kept == [0, 2] and images == [good, good]
      assert [(i, e.reason) for i, e in failed] == [
          (1, 'not_a_file'), (3, 'unsafe_name'), (4, 'too_large')]


def test_a_link_that_stays_in_the_root_is_read(root):
  assert paths.read_image(root, 'sub/inside.jpg') == paths.read_image(
      root, 'good.jpg')


def test_a_linked_images_root_is_its_target(root, tmp_path):
  import os
  os.symlink(root, tmp_path / 'root_link')
  assert paths.read_image(str(tmp_path / 'root_link'), 'good.jpg')
  with pytest.raises(paths.ImageFileError, match='leads outside'):
    paths.read_image(str(tmp_path / 'root_link'), 'outside.jpg')


def test_a_huge_name_or_detail_is_bounded():
  with pytest.raises(paths.UnsafeImageNameError) as error:
    paths.image_path('/data', '/' + 'x' * 1_000_000)
  assert len(str(error.value)) < 400
  # 1,000,001 characters and two quotes, 200 of them shown.
  assert '... (999,803 more characters)' in str(error.value)


def test_the_reason_of_a_tensorflow_error_is_its_own_line():
  message = ('Graph execution error:\n\nDetected at node map/DecodeJpeg '
             'defined at (most recent call last):\n  File "x.py", line 7, in '
             '<module>\n\nInvalid JPEG data, size 600\n\t [[{{node '
             'DecodeJpeg}}]] [Op:__inference_encode_142]')
  assert paths.first_line(message) == 'Invalid JPEG data, size 600'
