"""Image names never leave their images root: coco_captions.paths and the
same rule in the Transform graph (coco_captions_utils.UNSAFE_IMAGE_NAME)."""

import pytest
import tensorflow as tf
from PIL import Image

import coco_captions_utils as module
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


def test_the_transform_graph_applies_the_same_rule():
  assert module.UNSAFE_IMAGE_NAME == paths.UNSAFE_NAME_PATTERN
  names = list(UNSAFE) + SAFE
  flagged = tf.strings.regex_full_match(
      tf.constant([n.encode() for n in names]), module.UNSAFE_IMAGE_NAME)
  # The empty name is the caption signature's "no image" (a black image).
  assert [bool(f) for f in flagged.numpy()] == [
      n in UNSAFE and n != '' for n in names]


def test_transform_refuses_to_read_outside_the_root(tmp_path):
  root = tmp_path / 'images'
  root.mkdir()
  Image.new('RGB', (4, 4), (255, 0, 0)).save(root / 'in.png')
  Image.new('RGB', (4, 4), (0, 255, 0)).save(tmp_path / 'outside.png')
  assert module._load_images(str(root), tf.constant([b'in.png']), 4).shape == [1]
  for name in (b'../outside.png', str(tmp_path / 'outside.png').encode(),
               b'file:' + str(tmp_path / 'outside.png').encode()):
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match='image_name must be a path under the images root'):
      module._load_images(str(root), tf.constant([name]), 4)
