"""The synthetic COCO-shaped dataset: format, determinism, truthful captions."""

import csv
import filecmp
import io
import os

import pytest
from PIL import Image

from coco_captions.data import synthetic_data as sd


def _rows(output_dir):
  with open(os.path.join(output_dir, 'captions.csv'), newline='') as f:
    reader = csv.DictReader(f)
    return reader.fieldnames, list(reader)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp('synthetic'))
  assert sd.generate(output_dir, 12, seed=5) == (12, 60)
  return output_dir


def test_csv_has_exactly_the_coco_columns_and_five_captions_per_image(dataset):
  columns, rows = _rows(dataset)
  assert columns == ['image_id', 'id', 'caption', 'image_url', 'image_name',
                     'image_license']
  assert len(rows) == 60
  assert len({r['id'] for r in rows}) == 60
  by_image = {}
  for r in rows:
    by_image.setdefault(r['image_id'], []).append(r['caption'])
  assert sorted(by_image, key=int) == [str(i) for i in range(1, 13)]
  assert all(len(set(c)) == 5 for c in by_image.values())
  assert all('synthetic' in r['image_license'] for r in rows)


def test_every_referenced_image_exists_and_decodes_as_jpeg_or_png(dataset):
  _, rows = _rows(dataset)
  formats = set()
  for name in {r['image_name'] for r in rows}:
    with Image.open(os.path.join(dataset, 'images', name)) as image:
      formats.add(image.format)
      assert image.mode == 'RGB'
      assert name.endswith({'JPEG': '.jpg', 'PNG': '.png'}[image.format])
  assert formats == {'JPEG', 'PNG'}


def test_same_seed_same_bytes_and_a_smaller_set_is_a_prefix(tmp_path, dataset):
  again, small, other = (str(tmp_path / n) for n in ('again', 'small', 'other'))
  sd.generate(again, 12, seed=5)
  sd.generate(small, 4, seed=5)
  sd.generate(other, 12, seed=6)
  names = sorted(os.listdir(os.path.join(dataset, 'images')))
  assert filecmp.cmp(os.path.join(dataset, 'captions.csv'),
                     os.path.join(again, 'captions.csv'), shallow=False)
  _, mismatch, _ = filecmp.cmpfiles(os.path.join(dataset, 'images'),
                                    os.path.join(again, 'images'), names,
                                    shallow=False)
  assert not mismatch
  assert _rows(small)[1] == _rows(dataset)[1][:20]
  assert _rows(other)[1] != _rows(dataset)[1]


@pytest.mark.parametrize('index', range(40))
def test_captions_describe_what_is_drawn(index):
  scene = sd.make_scene(seed=1, index=index)
  pixels = Image.open(io.BytesIO(sd.render(scene))).convert('RGB')
  captions = [r['caption'] for r in sd.caption_rows(scene, seed=1)]
  cell_w, cell_h = scene.width / 3, scene.height / 3
  for obj in scene.objects:
    # The object's colour is at its centre (JPEG: within a tolerance).
    centre = pixels.getpixel((int((obj.column + 0.5) * cell_w),
                              int((obj.row + 0.5) * cell_h)))
    assert max(abs(a - b) for a, b in zip(centre, sd.COLORS[obj.color])) < 40
    for caption in captions:
      assert obj.color in caption
      assert any(word in caption for word in sd.SHAPE_WORDS[obj.shape])
    assert f'in the {obj.position}' in captions[2]
  assert f'{scene.background} background' in captions[0]
  assert captions[4].lower().startswith(scene.background)


def test_relations_are_true():
  a = sd.SceneObject('circle', 'red', 'small', row=0, column=0)
  b = sd.SceneObject('square', 'blue', 'large', row=2, column=0)
  c = sd.SceneObject('square', 'green', 'large', row=0, column=2)
  assert sd._relation(a, b) == 'above'
  assert sd._relation(b, a) == 'below'
  assert sd._relation(a, c) == 'to the left of'
  assert sd._relation(b, c) == 'below and to the left of'


def test_coco_sized_images_are_coco_sized_jpegs_with_the_same_captions(
    tmp_path, dataset):
  coco, again = str(tmp_path / 'coco'), str(tmp_path / 'again')
  assert sd.generate(coco, 12, seed=5, coco_sized_images=True) == (12, 60)
  sd.generate(again, 12, seed=5, coco_sized_images=True)
  _, small_rows = _rows(dataset)
  _, rows = _rows(coco)
  assert [r['caption'] for r in rows] == [r['caption'] for r in small_rows]
  small_sizes = {}
  for r in small_rows:
    with Image.open(os.path.join(dataset, 'images', r['image_name'])) as image:
      small_sizes[r['image_id']] = image.size
  file_bytes = []
  for r in rows:
    path = os.path.join(coco, 'images', r['image_name'])
    with Image.open(path) as image:
      assert image.format == 'JPEG' and r['image_name'].endswith('.jpg')
      width, height = image.size
    # COCO's longest side, the small image's shape.
    assert max(width, height) == sd.COCO_LONGEST_SIDE
    small_w, small_h = small_sizes[r['image_id']]
    assert abs(width / height - small_w / small_h) < 0.01
    file_bytes.append(os.path.getsize(path))
  # COCO train2014 averages about 160 KB a file: the grain makes them that costly.
  assert 100_000 < sum(file_bytes) / len(file_bytes) < 250_000
  names = sorted(os.listdir(os.path.join(coco, 'images')))
  _, mismatch, errors = filecmp.cmpfiles(os.path.join(coco, 'images'),
                                         os.path.join(again, 'images'), names,
                                         shallow=False)
  assert not mismatch and not errors


def test_command_line_writes_the_dataset(tmp_path, capsys):
  assert sd.main(['--output_dir', str(tmp_path), '--num_images', '3',
                  '--quiet']) == 0
  assert 'Wrote 3 images and 15 captions' in capsys.readouterr().out
  assert len(os.listdir(tmp_path / 'images')) == 3
  assert sd.main(['--output_dir', str(tmp_path / 'coco'), '--num_images', '2',
                  '--coco_sized', '--quiet']) == 0
  with Image.open(tmp_path / 'coco' / 'images' /
                  'COCO_synthetic_000000000001.jpg') as image:
    assert max(image.size) == sd.COCO_LONGEST_SIDE


def test_rejects_an_empty_dataset(tmp_path):
  with pytest.raises(ValueError, match='at least 1'):
    sd.generate(str(tmp_path), 0)
