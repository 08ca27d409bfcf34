"""The ingest command on official-format COCO annotations with planted faults."""

import csv
import json
import os

import pytest
from PIL import Image

from coco_captions import features
from coco_captions.data import ingest, synthetic_data


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
  assert list(rows[0]) == list(features.CSV_COLUMNS)
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
  assert by_id['501']['detail'].endswith(
      "COCO_train2014_000000000005.jpg' does not exist")
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


# --- Hostile input: every accepted row passes the pipeline's schema -----------


def _hostile(tmp_path, licenses=LICENSES, extra_images=(), annotations=None):
  """Four good images on disk, an images table with planted faults."""
  images_root = tmp_path / 'train2014'
  images_root.mkdir(parents=True)
  names = [f'COCO_train2014_{i:012d}.jpg' for i in range(1, 5)]
  for i, name in enumerate(names, start=1):
    (images_root / name).write_bytes(_as_jpeg(synthetic_data.make_scene(0, i)))
  (tmp_path / 'outside.jpg').write_bytes((images_root / names[0]).read_bytes())
  images = [_image(1, names[0]), _image(2, names[1], license_id=None),
            {**_image(3, names[2]), 'coco_url': None, 'flickr_url': None},
            _image(4, names[3], license_id=7)]
  images += list(extra_images)
  path = tmp_path / 'hostile.json'
  _coco_file(path, images, annotations if annotations is not None else [
      {'image_id': i, 'id': 10 * i + k, 'caption': f'shape {i} view {k}'}
      for i in range(1, 5) for k in range(2)], licenses)
  return str(path), str(images_root), str(tmp_path / 'out')


def test_missing_licence_or_url_is_filled_with_the_documented_value(tmp_path):
  result = ingest.ingest(*_hostile(tmp_path))
  rows = {r['image_id']: r for r in _read_csv(result.captions_csv)}
  assert rows['2']['image_license'] == ingest.FILL_VALUE == 'unknown'
  assert rows['4']['image_license'] == 'unknown'  # Licence id 7 not listed.
  assert rows['3']['image_url'] == 'unknown'
  assert rows['1']['image_license'] == 'Attribution License'
  assert result.filled == {'image_license': 4, 'image_url': 2}
  result = ingest.ingest(*_hostile(tmp_path / 'nolicences', licenses=[]))
  assert {r['image_license'] for r in _read_csv(result.captions_csv)} == {
      'unknown'}


BAD_ANNOTATIONS = [
    (42, 'malformed_annotation', 'annotation is a JSON int, not an object'),
    ('text', 'malformed_annotation', 'JSON str, not an object'),
    ([1, 2], 'malformed_annotation', 'JSON list, not an object'),
    ({'image_id': True, 'id': 1, 'caption': 'x'}, 'malformed_annotation',
     'image_id True is not a JSON integer'),
    ({'image_id': 1, 'id': False, 'caption': 'x'}, 'malformed_annotation',
     'id False is not a JSON integer'),
    ({'image_id': 1, 'id': 2**63, 'caption': 'x'}, 'malformed_annotation',
     'id 9223372036854775808 is beyond the 64-bit integer range'),
    ({'image_id': -1, 'id': 3, 'caption': 'x'},
     'malformed_annotation', 'image_id -1 is negative'),
    ({'image_id': 1.5, 'id': 4, 'caption': 'x'}, 'malformed_annotation',
     'image_id 1.5 is not a JSON integer'),
    ({'image_id': 1, 'id': 5.0, 'caption': 'x'}, 'malformed_annotation',
     'id 5.0 is not a JSON integer'),
    ({'image_id': 1, 'caption': 'x'}, 'malformed_annotation', 'no id'),
    ({'image_id': 1, 'id': 6, 'caption': 7}, 'malformed_annotation',
     'caption 7 is not a string'),
]


def test_malformed_annotations_are_rejected_with_what_is_wrong(tmp_path):
  good = {'image_id': 1, 'id': 100, 'caption': 'a good one'}
  result = ingest.ingest(*_hostile(
      tmp_path, annotations=[a for a, _, _ in BAD_ANNOTATIONS] + [good]))
  assert (result.read, result.accepted) == (len(BAD_ANNOTATIONS) + 1, 1)
  rejects = _read_csv(result.rejects_csv)
  assert [(r['reason'], r['annotation_index']) for r in rejects] == [
      (reason, str(i)) for i, (_, reason, _) in enumerate(BAD_ANNOTATIONS)]
  for row, (_, _, detail) in zip(rejects, BAD_ANNOTATIONS):
    assert detail in row['detail'], (row, detail)


def test_bad_image_entries_reject_their_rows_with_their_own_reason(tmp_path):
  names = {5: '../outside.jpg', 6: '/etc/hostname', 7: 'file:x.jpg',
           8: 'sub\\x.jpg', 9: '', 10: 'bad\udc80name.jpg'}
  extra = [_image(i, n) for i, n in names.items()]
  extra += [{**_image(11, 'COCO_train2014_000000000001.jpg'),
             'coco_url': 'http://x/\udc81'},
            _image(12, 'COCO_train2014_000000000002.jpg'),
            _image(12, 'COCO_train2014_000000000003.jpg'),
            {**_image(True, 'COCO_train2014_000000000001.jpg')},
            {**_image(13.5, 'COCO_train2014_000000000001.jpg')},
            'not an object']
  annotations = [{'image_id': i, 'id': 100 + i, 'caption': f'image {i}'}
                 for i in list(names) + [11, 12, 1]]
  for check_images in (True, False):
    result = ingest.ingest(*_hostile(tmp_path / str(check_images),
                                     extra_images=extra,
                                     annotations=annotations),
                           check_images=check_images)
    reasons = {r['image_id']: (r['reason'], r['detail'])
               for r in _read_csv(result.rejects_csv)}
    for i in (5, 6, 7, 8, 9):
      assert reasons[str(i)][0] == 'unsafe_image_name', reasons[str(i)]
    assert reasons['5'][1] == "file_name '../outside.jpg' has a \"..\" segment"
    assert reasons['10'][0] == 'invalid_utf8' and 'file_name' in reasons['10'][1]
    assert reasons['11'][0] == 'invalid_utf8' and 'coco_url' in reasons['11'][1]
    assert reasons['12'][0] == 'duplicate_image_id'
    assert result.accepted == 1 and result.ignored_images == 3


def test_a_licence_name_with_a_lone_surrogate_rejects_its_rows(tmp_path):
  licences = [{'id': 1, 'name': 'CC \udc80 BY'}] + LICENSES[1:]
  result = ingest.ingest(*_hostile(tmp_path, licenses=licences))
  rejects = _read_csv(result.rejects_csv)
  assert {r['image_id'] for r in rejects} == {'1', '3'}  # Licence 1.
  assert all(r['reason'] == 'invalid_utf8' and 'licence name' in r['detail']
             for r in rejects)
  assert result.accepted == 4


def test_one_file_under_two_image_ids_is_reported(tmp_path, capsys):
  shared = _image(5, 'COCO_train2014_000000000001.jpg')
  annotations = [{'image_id': i, 'id': i, 'caption': 'x'} for i in (1, 2, 5)]
  args = _hostile(tmp_path, extra_images=[shared], annotations=annotations)
  result = ingest.ingest(*args)
  assert result.shared_files == {'COCO_train2014_000000000001.jpg': [1, 5]}
  assert ingest.main(['--annotations', args[0], '--images_root', args[1],
                      '--output_dir', args[2]]) == 0
  out = capsys.readouterr().out
  assert ("warning: 1 image file(s) are listed under more than one image_id, "
          "e.g. 'COCO_train2014_000000000001.jpg' under 1, 5") in out


@pytest.mark.parametrize('document, message', [
    ({'images': [_image(1, 'a.jpg')], 'annotations': {'id': 1}},
     '"annotations" is not a list'),
    ({'images': {'id': 1}, 'annotations': []}, '"images" is not a list'),
    ({'images': [_image(1, 'a.jpg')], 'annotations': [],
      'licenses': 'CC'}, '"licenses" is not a list'),
    ({'images': [_image(1, 'a.jpg')]}, 'no "annotations" list'),
    ([1, 2, 3], 'no "annotations" list'),
    ({'images': [{'id': 'one', 'file_name': 'a.jpg'}], 'annotations': []},
     'no "images" table with integer ids'),
    ({'images': [_image(1, 'a.jpg')],
      'annotations': [{'image_id': 1, 'id': 1, 'caption': ' '}]},
     'none of its 1 annotations can be used'),
])
def test_whole_file_shapes_are_one_error_and_no_output(tmp_path, document,
                                                       message):
  path = tmp_path / 'a.json'
  path.write_text(json.dumps(document))
  out = tmp_path / 'out'
  with pytest.raises(ingest.IngestError, match=message):
    ingest.ingest(str(path), str(tmp_path), str(out))
  found = sorted(os.listdir(out)) if out.exists() else []
  assert 'captions.csv' not in found
  assert not [f for f in found if f.endswith('.tmp')]


def test_a_failure_half_way_leaves_no_output(coco, monkeypatch):
  annotations, images_root, output_dir = coco
  calls = []
  real_clean = ingest._clean

  def interrupted(text):
    calls.append(text)
    if len(calls) == 3:
      raise KeyboardInterrupt  # Ctrl-C while rows are being written.
    return real_clean(text)

  monkeypatch.setattr(ingest, '_clean', interrupted)
  with pytest.raises(KeyboardInterrupt):
    ingest.ingest(annotations, images_root, output_dir)
  left = [os.path.join(d, f) for d, _, fs in os.walk(output_dir) for f in fs]
  assert left == []


def test_rejects_are_not_among_the_csv_files_the_pipeline_reads(coco):
  import glob
  from coco_captions.pipeline import configs
  result = ingest.ingest(*coco)
  _, _, output_dir = coco
  assert glob.glob(os.path.join(output_dir, configs.CSV_PATTERN)) == [
      result.captions_csv]
  assert result.rejects_csv == os.path.join(output_dir, 'rejects',
                                            'rejects.csv')


def test_a_rejects_file_where_older_versions_wrote_it_is_removed(coco):
  _, _, output_dir = coco
  os.makedirs(output_dir)
  old = os.path.join(output_dir, 'rejects.csv')
  with open(old, 'w') as f:
    f.write(','.join(ingest.REJECT_COLUMNS) + '\n0,1,1,empty_caption,x,\n')
  mine = os.path.join(output_dir, 'other.csv')
  with open(mine, 'w') as f:
    f.write('image_id,id\n')
  ingest.ingest(*coco)
  assert not os.path.exists(old) and os.path.exists(mine)


def test_every_accepted_row_passes_the_pipelines_schema(tmp_path):
  import tensorflow_data_validation as tfdv
  from coco_captions.pipeline import configs
  extra = [_image(5, '../outside.jpg'), _image(6, 'x\udc80.jpg'),
           {**_image(7, 'COCO_train2014_000000000004.jpg'),
            'coco_url': '', 'license': None}]
  annotations = [a for a, _, _ in BAD_ANNOTATIONS] + [
      {'image_id': i, 'id': 100 + i, 'caption': f'a\x00b "{i}",\nnew line'}
      for i in range(1, 8)]
  result = ingest.ingest(*_hostile(tmp_path, extra_images=extra,
                                   annotations=annotations))
  assert result.accepted == 5
  stats = tfdv.generate_statistics_from_csv(result.captions_csv)
  schema = tfdv.load_schema_text(configs.SCHEMA_FILE)
  anomalies = tfdv.validate_statistics(stats, schema)
  assert not anomalies.anomaly_info, anomalies
  assert {r['caption'] for r in _read_csv(result.captions_csv)} == {
      f'a b "{i}", new line' for i in range(1, 8) if i not in (5, 6)}


def test_the_command_refuses_a_caption_limit_below_one(coco, capsys):
  annotations, images_root, output_dir = coco
  assert ingest.main(['--annotations', annotations, '--images_root',
                      images_root, '--output_dir', output_dir,
                      '--max_caption_chars', '0']) == 2
  assert capsys.readouterr().err == (
      'error: --max_caption_chars must be at least 1, not 0\n')
  assert not os.path.exists(output_dir)


def test_a_bomb_or_a_link_out_of_the_root_is_a_rejected_row(tmp_path):
  # Read as the pipeline reads images (coco_captions.paths): a header
  # claiming 400 megapixels is never decoded, a link is never followed out.
  import os
  import struct
  import zlib

  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))

  images_root = tmp_path / 'train2014'
  images_root.mkdir()
  scene = synthetic_data.make_scene(seed=0, index=1)
  (images_root / 'good.jpg').write_bytes(_as_jpeg(scene))
  (images_root / 'bomb.png').write_bytes(
      b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack(
          '>IIBBBBB', 20000, 20000, 8, 2, 0, 0, 0)) +
      chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
  (tmp_path / 'secret.jpg').write_bytes(_as_jpeg(scene))
  os.symlink(tmp_path / 'secret.jpg', images_root / 'link.jpg')
  images = [_image(1, 'good.jpg', 1), _image(2, 'bomb.png', 1),
            _image(3, 'link.jpg', 1)]
  annotations = [{'image_id': i, 'id': 10 * i, 'caption': 'a red circle'}
                 for i in (1, 2, 3)]
  path = tmp_path / 'captions.json'
  _coco_file(path, images, annotations, LICENSES, annotations_first=False)
  result = ingest.ingest(str(path), str(images_root), str(tmp_path / 'out'))
  assert result.accepted == 1
  reasons = {r['caption_id']: (r['reason'], r['detail'])
             for r in _read_csv(result.rejects_csv)}
  assert reasons['20'][0] == 'image_too_large'
  assert 'claims 400,000,000 pixels' in reasons['20'][1]
  assert reasons['30'][0] == 'unsafe_image_name'
  assert 'leads outside the images root' in reasons['30'][1]


def test_a_failed_rerun_leaves_no_earlier_captions_beside_its_rejects(coco):
  annotations, images_root, out = coco
  first = ingest.ingest(annotations, images_root, out)
  assert os.path.exists(first.captions_csv)
  with open(annotations, encoding='utf-8') as f:
    document = json.load(f)
  for annotation in document['annotations']:
    annotation['image_id'] = 12345  # No such image: every row rejected.
  bad = os.path.join(os.path.dirname(annotations), 'bad.json')
  with open(bad, 'w', encoding='utf-8') as f:
    json.dump(document, f)
  with pytest.raises(ingest.IngestError, match='the captions.csv of an '
                     'earlier conversion was removed'):
    ingest.ingest(bad, images_root, out)
  assert not os.path.exists(first.captions_csv)
  assert 'unknown_image_id' in {
      r['reason'] for r in _read_csv(first.rejects_csv)}


def test_outputs_are_readable_as_any_file_and_rejects_print_safely(tmp_path):
  images_root = tmp_path / 'train2014'
  images_root.mkdir()
  scene = synthetic_data.make_scene(seed=0, index=1)
  (images_root / 'a.jpg').write_bytes(_as_jpeg(scene))
  path = tmp_path / 'captions.json'
  _coco_file(path, [_image(1, 'a.jpg')], [
      {'image_id': 1, 'id': 1, 'caption': 'a red circle'},
      {'image_id': 2, 'id': 2, 'caption': 'nul\x00 and \x1b[31mred\x1b[0m'}],
      LICENSES)
  umask = os.umask(0o022)
  try:
    result = ingest.ingest(str(path), str(images_root), str(tmp_path / 'out'))
  finally:
    os.umask(umask)
  for written in (result.captions_csv, result.rejects_csv):
    assert os.stat(written).st_mode & 0o777 == 0o644, written
  raw = open(result.rejects_csv, encoding='utf-8').read()
  assert '\x00' not in raw and '\x1b' not in raw
  (row,) = _read_csv(result.rejects_csv)
  assert row['caption'] == 'nul\\x00 and \\x1b[31mred\\x1b[0m'


def test_ctrl_c_is_one_line_and_changes_nothing(tmp_path):
  import signal
  import subprocess
  import sys
  import time
  (tmp_path / 'out').mkdir()
  (tmp_path / 'out' / 'captions.csv').write_text('kept\n')
  os.mkfifo(tmp_path / 'annotations.json')  # Blocks until interrupted.
  command = subprocess.Popen(
      [sys.executable, '-m', 'coco_captions.data.ingest', '--annotations',
       str(tmp_path / 'annotations.json'), '--images_root', str(tmp_path),
       '--output_dir', str(tmp_path / 'out')],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  time.sleep(3)
  command.send_signal(signal.SIGINT)
  _, err = command.communicate(timeout=60)
  assert command.returncode == 130
  assert err == (f'\nInterrupted: nothing in {tmp_path / "out"} was '
                 'changed.\n')
  assert sorted(os.listdir(tmp_path / 'out')) == ['captions.csv']
  assert (tmp_path / 'out' / 'captions.csv').read_text() == 'kept\n'
