"""The ingest command on official-format COCO annotations with planted faults."""

import csv
import json
import os

import pytest
from PIL import Image

from coco_captions import ingest, synthetic_data


def _coco_file(path, images, annotations, licenses, annotations_first=False):
  """Writes the official layout; json escapes lone surrogates as \\udcXX."""
  document = {'info': {'description': 'test', 'year': 2014}}
  tables = [('images', images), ('licenses', licenses),
            ('annotations', annotations)]
  if annotations_first:
    tables.reverse()
  document.update(tables)
  with open(path, 'w', encoding='ascii') as f:
    json.dump(document, f)


def _image(image_id, file_name, license_id=1):
  return {'license': license_id, 'file_name': file_name,
          'coco_url': f'http://example.invalid/{file_name}', 'height': 80,
          'width': 96, 'date_captured': '2013-11-14 16:28:13',
          'flickr_url': '', 'id': image_id}


LICENSES = [{'url': 'u1', 'id': 1, 'name': 'Attribution License'},
            {'url': 'u2', 'id': 2, 'name': 'No known copyright restrictions'}]


@pytest.fixture
def coco(tmp_path):
  """Five images on disk (four good, one missing) and annotations with faults."""
  images_root = tmp_path / 'train2014'
  images_root.mkdir()
  for i in range(1, 5):
    scene = synthetic_data.make_scene(seed=0, index=i)
    name = f'COCO_train2014_{i:012d}.jpg'
    (images_root / name).write_bytes(synthetic_data.render(
        scene) if scene.image_format == 'JPEG' else _as_jpeg(scene))
  (images_root / 'COCO_train2014_000000000006.jpg').write_bytes(b'not an image')
  Image.new('RGB', (8, 8)).save(images_root / 'COCO_train2014_000000000007.jpg',
                                format='GIF')
  (images_root / 'COCO_train2014_000000000008.jpg').mkdir()  # Unreadable.
  good = (images_root / 'COCO_train2014_000000000001.jpg').read_bytes()
  (images_root / 'COCO_train2014_000000000009.jpg').write_bytes(good[:200])
  images = [_image(i, f'COCO_train2014_{i:012d}.jpg', 1 + i % 2)
            for i in (1, 2, 3, 4, 5, 6, 7, 8, 9)]
  annotations = [
      {'image_id': 1, 'id': 101, 'caption': 'A red circle.'},
      {'image_id': 1, 'id': 102, 'caption': 'A  red\ncircle on\tgray. '},
      {'image_id': 2, 'id': 201, 'caption': 'Two shapes, "quoted", here'},
      {'image_id': 3, 'id': 301, 'caption': '   '},                    # empty
      {'image_id': 3, 'id': 302, 'caption': 'bad \udc80 text'},        # utf-8
      {'image_id': 3, 'id': 303, 'caption': 'long ' * 120},            # long
      {'image_id': 4, 'id': 101, 'caption': 'duplicate id'},           # dup
      {'image_id': 99, 'id': 991, 'caption': 'no such image'},         # unknown
      {'image_id': 5, 'id': 501, 'caption': 'file is missing'},        # missing
      {'image_id': 5, 'id': 502, 'caption': 'still missing'},          # missing
      {'image_id': 6, 'id': 601, 'caption': 'garbage bytes'},          # decode
      {'image_id': 7, 'id': 701, 'caption': 'a gif'},                  # decode
      {'image_id': 8, 'id': 801, 'caption': 'a directory'},            # unreadable
      {'image_id': 9, 'id': 901, 'caption': 'truncated jpeg'},         # decode
      {'image_id': 4, 'id': 401, 'caption': None},                     # malformed
      {'image_id': 4, 'id': 402, 'caption': 'A purple triangle.'},
  ]
  path = tmp_path / 'captions_train2014.json'
  _coco_file(path, images, annotations, LICENSES, annotations_first=True)
  return str(path), str(images_root), str(tmp_path / 'out')


def _as_jpeg(scene):
  return synthetic_data.render(
      synthetic_data.Scene(scene.image_id, scene.width, scene.height,
                           scene.background, scene.objects, 'JPEG'))


def _read_csv(path):
  with open(path, newline='', encoding='utf-8') as f:
    return list(csv.DictReader(f))


def test_counts_per_reason_reconcile_exactly(coco):
  result = ingest.ingest(*coco)
  assert result.read == 16
  assert result.accepted == 4
  assert result.rejected_by_reason == {
      'empty_caption': 1, 'invalid_utf8': 1, 'caption_too_long': 1,
      'duplicate_caption_id': 1, 'unknown_image_id': 1, 'image_missing': 2,
      'image_not_decodable': 3, 'image_unreadable': 1,
      'malformed_annotation': 1}
  assert result.read == result.accepted + result.rejected


def test_accepted_rows_are_in_the_pipeline_csv_format(coco):
  result = ingest.ingest(*coco)
  rows = _read_csv(result.captions_csv)
  assert list(rows[0]) == list(ingest.CSV_COLUMNS)
  assert [(r['image_id'], r['id'], r['caption']) for r in rows] == [
      ('1', '101', 'A red circle.'),
      ('1', '102', 'A red circle on gray.'),  # One line, spaces collapsed.
      ('2', '201', 'Two shapes, "quoted", here'),
      ('4', '402', 'A purple triangle.'),
  ]
  assert rows[0]['image_name'] == 'COCO_train2014_000000000001.jpg'
  assert rows[0]['image_url'].endswith('COCO_train2014_000000000001.jpg')
  # Licence names resolved from the licenses table (image 1 -> id 2).
  assert rows[0]['image_license'] == 'No known copyright restrictions'
  assert rows[2]['image_license'] == 'Attribution License'
  with open(result.captions_csv, encoding='utf-8') as f:
    assert len(f.read().splitlines()) == 5  # Header + one line per row.


def test_each_rejected_row_is_kept_with_its_position_and_reason(coco):
  result = ingest.ingest(*coco)
  rejects = _read_csv(result.rejects_csv)
  assert len(rejects) == result.rejected
  by_id = {r['caption_id']: r for r in rejects}
  assert by_id['301']['reason'] == 'empty_caption'
  assert by_id['302']['reason'] == 'invalid_utf8'
  assert by_id['302']['caption'] == 'bad \\udc80 text'
  # 'long ' * 120 is 600 characters; 599 once its trailing space is cleaned.
  assert by_id['303']['detail'] == '599 characters, more than 500'
  assert by_id['991']['reason'] == 'unknown_image_id'
  assert by_id['501']['reason'] == 'image_missing'
  assert by_id['501']['detail'].endswith('COCO_train2014_000000000005.jpg')
  assert by_id['601']['reason'] == 'image_not_decodable'
  assert 'GIF, not JPEG or PNG' in by_id['701']['detail']
  assert by_id['801']['reason'] == 'image_unreadable'
  assert by_id['901']['reason'] == 'image_not_decodable'
  assert by_id['401']['reason'] == 'malformed_annotation'
  duplicate = [r for r in rejects if r['reason'] == 'duplicate_caption_id']
  assert duplicate[0]['annotation_index'] == '6'
  assert duplicate[0]['image_id'] == '4'


def test_max_caption_length_is_configurable(coco):
  result = ingest.ingest(*coco, max_caption_chars=1000)
  assert 'caption_too_long' not in result.rejected_by_reason
  assert result.accepted == 5


def test_whole_file_problems_are_one_clear_error(tmp_path):
  with pytest.raises(ingest.IngestError, match='no such file'):
    ingest.ingest(str(tmp_path / 'absent.json'), str(tmp_path), str(tmp_path))
  broken = tmp_path / 'broken.json'
  broken.write_text('{"images": [{"id": 1, ')
  with pytest.raises(ingest.IngestError, match='not a valid JSON file'):
    ingest.ingest(str(broken), str(tmp_path), str(tmp_path / 'o'))
  raw = tmp_path / 'raw.json'
  raw.write_bytes(b'{"images": [{"id": 1, "file_name": "\xff.jpg"}]}')
  with pytest.raises(ingest.IngestError, match='not a valid JSON file .UTF-8.'):
    ingest.ingest(str(raw), str(tmp_path), str(tmp_path / 'o'))
  other = tmp_path / 'other.json'
  other.write_text('{"categories": []}')
  with pytest.raises(ingest.IngestError, match='COCO captions annotations'):
    ingest.ingest(str(other), str(tmp_path), str(tmp_path / 'o'))


def test_command_prints_counts_and_exits_2_on_bad_files(coco, tmp_path, capsys):
  annotations, images_root, output_dir = coco
  assert ingest.main(['--annotations', annotations, '--images_root',
                      images_root, '--output_dir', output_dir]) == 0
  out = capsys.readouterr().out
  assert 'Read 16 captions' in out and '4 accepted, 12 rejected' in out
  assert 'image_not_decodable' in out and 'rejects.csv' in out
  assert ingest.main(['--annotations', str(tmp_path / 'nope.json'),
                      '--images_root', images_root,
                      '--output_dir', output_dir]) == 2
  assert capsys.readouterr().err.startswith('error: ')
