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
