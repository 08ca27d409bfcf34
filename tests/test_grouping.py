"""GroupCaptionsByImage's Beam transform: caption rows -> one example per image."""

import os

import apache_beam as beam
from apache_beam.testing import test_pipeline, util
import pytest
import tensorflow as tf

from coco_captions import features
from coco_captions.pipeline import configs, grouping, user_code
from coco_captions.run import progress

# The project's module file and the .py files beside it, as workers get them.
CODE = user_code.read(configs.MODULE_FILE)


def _row(image_id, caption_id, caption, image_name):
  """A raw caption row as CsvExampleGen writes it (other columns omitted)."""
  return tf.train.Example(features=tf.train.Features(feature={
      'image_id': tf.train.Feature(int64_list=tf.train.Int64List(
          value=[image_id])),
      'id': tf.train.Feature(int64_list=tf.train.Int64List(value=[caption_id])),
      'caption': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[caption.encode()])),
      'image_name': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[image_name.encode()])),
      'image_license': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'CC0'])),
  })).SerializeToString()


def _parsed(serialized):
  """(image_id, image_name, captions, caption_ids) of a per-image example."""
  parsed = tf.io.parse_single_example(serialized,
                                      features.per_image_feature_spec())
  return (int(parsed['image_id'][0]), parsed['image_name'][0].numpy().decode(),
          [c.decode() for c in tf.sparse.to_dense(parsed['captions']).numpy()],
          tf.sparse.to_dense(parsed['caption_ids']).numpy().tolist())


def _pixels(serialized):
  """The stored pixels of a per-image example, decoded."""
  parsed = tf.io.parse_single_example(serialized,
                                      features.per_image_feature_spec())
  return tf.io.decode_png(parsed['image_pixels'][0]).numpy()


# Image 9 names the file image 7 does.
ROWS = [
    _row(7, 72, 'a blue box', 'good.jpg'),
    _row(3, 31, 'a red disc', 'sub/good.png'),
    _row(7, 70, 'a box, blue', 'good.jpg'),
    _row(3, 30, 'red circle', 'sub/good.png'),
    _row(7, 71, 'one blue square', 'good.jpg'),
    _row(9, 90, 'alone', 'good.jpg'),
]


def test_groups_every_caption_of_an_image_with_its_pixels(images_root):
  with test_pipeline.TestPipeline() as pipeline:
    examples, bad = (pipeline | beam.Create(ROWS) | grouping.ImageExamples(
        images_root, CODE, 16))
    util.assert_that(examples | beam.Map(_parsed), util.equal_to([
        (3, 'sub/good.png', ['red circle', 'a red disc'], [30, 31]),
        (7, 'good.jpg', ['a box, blue', 'one blue square', 'a blue box'],
         [70, 71, 72]),
        (9, 'good.jpg', ['alone'], [90]),
    ]), label='captions')
    # One colour each: the PNG's exactly, the JPEG's within its rounding.
    util.assert_that(
        examples | beam.Map(lambda e: (
            _parsed(e)[0], _pixels(e).shape,
            tuple(int(v) // 8 for v in _pixels(e)[8, 8]))),
        util.equal_to([(3, (16, 16, 3), (0, 11, 25)),
                       (7, (16, 16, 3), (25, 3, 3)),
                       (9, (16, 16, 3), (25, 3, 3))]), label='pixels')
    util.assert_that(bad, util.equal_to([]), label='bad')


def test_counts_reach_the_progress_line_through_the_logger(images_root,
                                                          collected):
  grouping._end_count()  # pylint: disable=protected-access
  collected.clear()  # Counts earlier tests in this process left.
  with test_pipeline.TestPipeline() as pipeline:
    _ = pipeline | beam.Create(ROWS) | grouping.ImageExamples(
        images_root, CODE, 16, 'train')
  grouping._end_count()  # pylint: disable=protected-access
  # Six rows of two image files; under 100 of each, so only the totals.
  assert collected == [
      progress.event(progress.UPDATE, 'GroupCaptionsByImage',
                     fields={'train': '6 caption rows and 2 images decoded'}),
      progress.event(progress.CLOSE, 'GroupCaptionsByImage')]


def test_the_component_imports_no_console_code():
  import subprocess
  import sys
  result = subprocess.run(
      [sys.executable, '-c', 'import sys, coco_captions.pipeline.grouping; '
       'print(sorted(m for m in sys.modules '
       'if m.startswith("coco_captions.run")))'],
      capture_output=True, text=True, check=True)
  assert result.stdout.strip().splitlines()[-1] == '[]'


def test_rows_of_one_image_id_naming_two_files_are_an_error():
  with pytest.raises(grouping.ConflictingImageNameError,
                     match=r'image_id 7 names 2 different image files: '
                     r'b\.jpg, other\.jpg'):
    grouping.image_example(
        7, [(70, b'x', b'b.jpg'), (71, b'y', b'other.jpg')], b'')


def test_the_schema_describes_the_examples_it_goes_with():
  from tensorflow_transform.tf_metadata import schema_utils
  spec = schema_utils.schema_as_feature_spec(
      features.per_image_schema()).feature_spec
  assert spec == features.per_image_feature_spec()
  example = grouping.image_example(3, [(30, b'red circle', b'a.png')], b'px')
  assert _parsed(example.SerializeToString()) == (
      3, 'a.png', ['red circle'], [30])
  assert example.features.feature['image_pixels'].bytes_list.value == [b'px']


class _Counter:
  def __init__(self, namespace, committed, attempted=None):
    self.key = type('Key', (), {'metric': type('Metric', (), {
        'namespace': namespace})()})()
    self.committed, self.attempted = committed, attempted


def test_image_counts_are_read_per_split_from_the_runners_counters():
  counters = [_Counter('GroupCaptionsByImage.train', 240),
              _Counter('GroupCaptionsByImage.eval', None, attempted=60),
              # Another split's or another transform's counter is not counted.
              _Counter('GroupCaptionsByImage.test', 7),
              _Counter('SomethingElse', 99)]
  result = type('Result', (), {'metrics': lambda self: type('M', (), {
      'query': lambda self, _: {'counters': counters}})()})()
  assert grouping._image_counts(result, ['train', 'eval']) == {  # pylint: disable=protected-access
      'train': 240, 'eval': 60}


# --- The image check -------------------------------------------------------------

from tfx.types import artifact_utils, standard_artifacts  # noqa: E402



def _jpeg(size=(40, 30), color=(200, 30, 30)):
  import io
  from PIL import Image
  out = io.BytesIO()
  Image.new('RGB', size, color).save(out, 'JPEG')
  return out.getvalue()


def _encoded(image_format):
  import io
  from PIL import Image
  out = io.BytesIO()
  Image.new('RGB', (20, 20), (0, 90, 200)).save(out, image_format)
  return out.getvalue()


@pytest.fixture
def images_root(tmp_path):
  """Good and bad images, and a good image just outside the root."""
  root = tmp_path / 'images'
  root.mkdir()
  (root / 'sub').mkdir()
  (root / 'good.jpg').write_bytes(_jpeg())
  (root / 'sub' / 'good.png').write_bytes(_encoded('PNG'))
  (root / 'empty.jpg').write_bytes(b'')
  (root / 'truncated.jpg').write_bytes(_jpeg((300, 200))[:600])
  (root / 'text.jpg').write_bytes(b'this is not an image\n')
  (root / 'photo.webp').write_bytes(_encoded('WEBP'))
  (root / 'scan.tiff').write_bytes(_encoded('TIFF'))
  (root / 'folder.jpg').mkdir()
  (tmp_path / 'outside.jpg').write_bytes(_jpeg())
  import os
  os.symlink(tmp_path / 'outside.jpg', root / 'linked.jpg')
  os.mkfifo(root / 'pipe.jpg')
  return str(root)


BAD_NAMES = {
    'missing.jpg': 'missing',
    'empty.jpg': 'empty_file',
    'truncated.jpg': 'undecodable',
    'text.jpg': 'undecodable',
    'photo.webp': 'undecodable',
    'scan.tiff': 'undecodable',
    'folder.jpg': 'not_a_file',
    'pipe.jpg': 'not_a_file',
    'linked.jpg': 'unsafe_name',
    '../outside.jpg': 'unsafe_name',
    'sub/../../outside.jpg': 'unsafe_name',
    '/etc/hostname': 'unsafe_name',
    'file:../outside.jpg': 'unsafe_name',
    '..\\outside.jpg': 'unsafe_name',
    'good.jpg\x00.png': 'unsafe_name',
}


@pytest.fixture(scope='module')
def encode():
  return grouping.pixel_encoder(user_code.load(CODE), 16)


@pytest.fixture
def check(images_root, encode):
  """names -> {name: (reason, detail) or None}, read and decoded as one
  batch the way the component does."""
  import concurrent.futures
  with concurrent.futures.ThreadPoolExecutor(2) as threads:
    yield lambda names: {
        name: problem for name, (_, problem) in zip(names, (
            grouping.encoded_images(images_root, [n.encode() for n in names],
                                    encode, threads)))}


def test_every_kind_of_bad_image_gets_its_own_reason(check):
  found = check(list(BAD_NAMES) + ['good.jpg', 'sub/good.png'])
  for name, reason in BAD_NAMES.items():
    assert found[name] and found[name][0] == reason, (name, found[name])
  for name in ('good.jpg', 'sub/good.png'):
    assert found[name] is None


def test_an_unsafe_name_is_refused_without_opening_anything(check,
                                                            monkeypatch):
  opened = []
  monkeypatch.setattr(tf.io.gfile, 'exists', opened.append)
  monkeypatch.setattr(tf.io.gfile, 'GFile', opened.append)
  names = ['../outside.jpg', '/etc/passwd', 'gs://bucket/x.jpg']
  for problem in check(names).values():
    assert problem[0] == 'unsafe_name'
  assert not opened


def test_images_are_decoded_with_the_module_files_own_functions():
  import types
  module = user_code.load(CODE)
  seen = []

  def recorded(name):
    def call(*args, **kwargs):
      seen.append(name)
      return getattr(module, name)(*args, **kwargs)
    return call

  calls = types.SimpleNamespace(**{
      name: recorded(name)
      for name in ('encode_pixels', 'image_encoder_settings')})

  def shape(encoded):
    return tuple(tf.io.decode_png(encoded).shape)

  stored = grouping.pixel_encoder(calls)([_jpeg(), _jpeg()])
  assert [shape(e) for e in stored] == [(64, 64, 3)] * 2  # The default size.
  assert seen == ['image_encoder_settings', 'encode_pixels']
  # At the size the model reads for the encoder, unless one is given.
  assert shape(grouping.pixel_encoder(
      module, image_encoder='mobilenet_v2')([_jpeg()])[0]) == (224, 224, 3)
  assert shape(grouping.pixel_encoder(
      module, 40, 'mobilenet_v2')([_jpeg()])[0]) == (40, 40, 3)
  with pytest.raises(ValueError, match="image_encoder 'vgg' is not one of"):
    grouping.pixel_encoder(module, image_encoder='vgg')
  # A module file without encoders stores images at its DEFAULTS' size.
  assert grouping.default_image_size(types.SimpleNamespace(
      DEFAULTS={'image_size': 24})) == 24


def test_a_batch_with_bad_images_among_good_names_only_the_bad(images_root):
  decode = grouping._ImageExamples(images_root, CODE, 16)
  decode.setup()

  def outputs(names):
    examples, bad = [], []
    for out in decode.process([
        (n.encode(), [(i, n.encode(), [(10 * i, b'a caption', n.encode())])])
        for i, n in names]):
      if isinstance(out, beam.pvalue.TaggedOutput):
        bad.append(out.value)
      else:
        examples.append(_parsed(out)[:2])
    return examples, bad

  try:
    examples, bad = outputs(enumerate(
        ['good.jpg', 'truncated.jpg', 'sub/good.png', 'text.jpg',
         'missing.jpg', '../outside.jpg']))
    # A batch of good images alone passes in one decode.
    assert outputs([(1, 'good.jpg'), (2, 'sub/good.png')]) == (
        [(1, 'good.jpg'), (2, 'sub/good.png')], [])
  finally:
    decode.teardown()
  assert examples == [(0, 'good.jpg'), (2, 'sub/good.png')]
  assert [(r['image_name'], r['reason'], r['image_ids'], r['caption_ids'])
          for r in bad] == [
              (b'truncated.jpg', 'undecodable', [1], [10]),
              (b'text.jpg', 'undecodable', [3], [30]),
              (b'missing.jpg', 'missing', [4], [40]),
              (b'../outside.jpg', 'unsafe_name', [5], [50])]


def _write_split(uri, rows):
  import os
  os.makedirs(uri, exist_ok=True)
  with tf.io.TFRecordWriter(os.path.join(uri, 'data.gz'), 'GZIP') as writer:
    for row in rows:
      writer.write(row)


def _run_component(tmp_path, images_root, splits, bad_images='fail',
                   **code):
  """GroupCaptionsByImage's body on `splits` (split -> rows); its output.

  `code`: module_file, module_path or image_size instead of the project's
  module file at 16 pixels."""
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / 'examples')
  examples.split_names = artifact_utils.encode_split_names(list(splits))
  for split, rows in splits.items():
    _write_split(artifact_utils.get_split_uri([examples], split), rows)
  image_examples = standard_artifacts.Examples()
  # As TFX lays them out: PIPELINE_ROOT/COMPONENT/OUTPUT/EXECUTION_ID.
  image_examples.uri = str(tmp_path / 'GroupCaptionsByImage' /
                           'image_examples' / '7')
  image_schema = standard_artifacts.Schema()
  image_schema.uri = str(tmp_path / 'image_schema')
  grouping.GroupCaptionsByImage.test_call(
      examples=examples, image_examples=image_examples,
      image_schema=image_schema, images_root=images_root,
      bad_images=bad_images, images_fingerprint='',
      beam_pipeline=beam.Pipeline(),
      **{'module_file': configs.MODULE_FILE, 'image_size': 16, **code})
  return image_examples


def _images_written(image_examples, split):
  import os
  uri = artifact_utils.get_split_uri([image_examples], split)
  files = tf.io.gfile.glob(os.path.join(uri, '*'))
  return sorted(_parsed(r.numpy())[1] for r in tf.data.TFRecordDataset(
      files, compression_type='GZIP'))


SPLITS = {
    'train': [_row(1, 10, 'a red box', 'good.jpg'),
              _row(1, 11, 'red box', 'good.jpg'),
              _row(2, 20, 'gone', 'missing.jpg'),
              _row(2, 21, 'gone too', 'missing.jpg'),
              _row(3, 30, 'sneaky', '../outside.jpg'),
              _row(4, 40, 'same missing file, another id', 'missing.jpg')],
    'eval': [_row(5, 50, 'blue', 'sub/good.png'),
             _row(6, 60, 'cut short', 'truncated.jpg')],
}


def test_bad_images_stop_the_run_naming_each_with_its_rows(tmp_path,
                                                           images_root):
  with pytest.raises(grouping.BadImagesError) as raised:
    _run_component(tmp_path, images_root, SPLITS)
  message = str(raised.value)
  assert '\n' not in message
  assert message.startswith('3 image(s) cannot be used, by 5 caption row(s)')
  assert ("'missing.jpg' (missing: " in message and
          'image_id 2, 4, caption ids 20, 21, 40' in message)
  assert "'../outside.jpg' (unsafe_name: the name has a \"..\" segment" in message
  assert "'truncated.jpg' (undecodable: " in message
  assert '--bad_images=drop' in message
  # Listed where TFX's clean-up of the failed execution's outputs does not
  # reach, and where the message says.
  listing = tmp_path / 'GroupCaptionsByImage' / 'bad_images' / '7'
  assert f'All are listed in {listing}.' in message
  assert sorted(os.listdir(listing)) == ['eval.jsonl', 'train.jsonl']
  listed = grouping.read_bad_images(
      str(tmp_path / 'GroupCaptionsByImage' / 'image_examples' / '7'),
      'train')
  assert [(r['image_name'], r['reason'], r['image_ids'], r['caption_ids'])
          for r in listed] == [
              ('../outside.jpg', 'unsafe_name', [3], [30]),
              ('missing.jpg', 'missing', [2, 4], [20, 21, 40])]


def test_with_drop_the_bad_rows_are_left_out_and_counted(tmp_path,
                                                         images_root):
  out = _run_component(tmp_path, images_root, {
      **SPLITS, 'eval': SPLITS['eval'] + [_row(7, 70, 'x', 'good.jpg')]},
                       bad_images='drop')
  assert _images_written(out, 'train') == ['good.jpg']
  assert _images_written(out, 'eval') == ['good.jpg', 'sub/good.png']
  props = {k: out.get_int_custom_property(k) for k in (
      'train_images', 'train_bad_images', 'train_dropped_rows',
      'eval_images', 'eval_bad_images', 'eval_dropped_rows')}
  assert props == {'train_images': 1, 'train_bad_images': 2,
                   'train_dropped_rows': 4, 'eval_images': 2,
                   'eval_bad_images': 1, 'eval_dropped_rows': 1}
  assert [r['image_name'] for r in grouping.read_bad_images(
      out.uri, 'eval')] == ['truncated.jpg']


@pytest.mark.parametrize('splits, expected', [
    ({'train': [_row(1, 10, 'a', 'good.jpg'), _row(2, 20, 'b', 'good.jpg')],
      'eval': []},
     r'the eval split has no images, of 2'),
    ({'train': [_row(1, 10, 'a', 'good.jpg')], 'eval': []},
     r'the data has 1 usable image\(s\)'),
    ({'train': [], 'eval': [_row(1, 10, 'a', 'good.jpg'),
                            _row(2, 20, 'b', 'sub/good.png')]},
     r'the train split has no images, of 2'),
])
def test_too_few_images_is_one_plain_error_before_transform(
    tmp_path, images_root, splits, expected):
  with pytest.raises(grouping.NotEnoughImagesError, match=expected):
    _run_component(tmp_path, images_root, splits)


def test_dropping_every_eval_image_leaves_an_empty_split_error(tmp_path,
                                                               images_root):
  with pytest.raises(grouping.NotEnoughImagesError,
                     match='the eval split has no images'):
    _run_component(tmp_path, images_root, {
        'train': SPLITS['train'] + [_row(8, 80, 'y', 'sub/good.png')],
        'eval': SPLITS['eval'][1:]}, bad_images='drop')


def test_captions_are_normalised_before_tokenisation():
  example = grouping.image_example(
      3, [(30, 'cafe\u0301 \ufb01sh'.encode(), b'a.png')], b'')
  assert _parsed(example.SerializeToString())[2] == ['caf\u00e9 fish']


def _marked_copy(directory):
  """A copy of the project's module file and encoders table in `directory`
  that stores its images 7 pixels wide, so which code ran shows."""
  import os
  import shutil
  directory.mkdir()
  here = os.path.dirname(configs.MODULE_FILE)
  for name in ('coco_captions_utils.py', 'coco_captions_encoders.py',
               'coco_captions_hparams.py', 'coco_captions_model.py'):
    shutil.copy(os.path.join(here, name), directory / name)
  module = directory / 'coco_captions_utils.py'
  module.write_text(module.read_text().replace(
      'def encode_pixels(image_bytes: tf.Tensor, image_size: int)',
      'def encode_pixels(image_bytes: tf.Tensor, image_size: int = 0)'
      ':\n  return _encode_pixels(image_bytes, 7)\n\n\n'
      'def _encode_pixels(image_bytes: tf.Tensor, image_size: int)'))
  return module


def test_a_worker_decodes_with_the_code_it_got_not_the_one_beside_it(
    tmp_path, images_root):
  # As on Dataflow, Flink or Spark: the DoFn is built here, pickled, and set
  # up in another process, where the module file's path does not exist and
  # the working directory holds another module file of the same name.
  import os
  import pickle
  import shutil
  import subprocess
  import sys
  module = _marked_copy(tmp_path / 'code')
  (tmp_path / 'dofn.pickle').write_bytes(pickle.dumps(
      grouping._ImageExamples(images_root, user_code.read(str(module)), 16)))
  shutil.rmtree(tmp_path / 'code')
  worker_dir = tmp_path / 'worker'
  worker_dir.mkdir()
  for name in ('coco_captions_utils.py', 'coco_captions_encoders.py',
               'coco_captions_hparams.py', 'coco_captions_model.py'):
    (worker_dir / name).write_text('raise ImportError("the working directory '
                                   'was imported")\n')
  worker = (
      'import pickle, sys\n'
      'import tensorflow as tf\n'
      'decode = pickle.load(open(sys.argv[1], "rb"))\n'
      'decode.setup()\n'
      'out, = decode.process([(b"good.jpg", [(1, b"good.jpg", '
      '[(10, b"a red box", b"good.jpg")])])])\n'
      'example = tf.train.Example.FromString(out)\n'
      'pixels = example.features.feature["image_pixels"].bytes_list.value[0]\n'
      'print(tuple(tf.io.decode_png(pixels).shape))\n')
  # `python -c` puts the working directory first on sys.path.
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  result = subprocess.run(
      [sys.executable, '-c', worker, str(tmp_path / 'dofn.pickle')],
      capture_output=True, text=True, cwd=str(worker_dir), check=False,
      env=env)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().splitlines()[-1] == '(7, 7, 3)'


def test_the_component_decodes_with_the_wheel_tfx_built(tmp_path,
                                                        images_root):
  # TFX packages the module file's directory when the pipeline is compiled
  # or run, and hands the component `module_path` in place of the path.
  from tfx.components.util import udf_utils
  module = _marked_copy(tmp_path / 'code')
  _, module_path = udf_utils.package_user_module_file(
      'GroupCaptionsByImage', str(module), str(tmp_path / 'root'))
  import shutil
  shutil.rmtree(tmp_path / 'code')
  image_examples = _run_component(
      tmp_path, images_root, {'train': SPLITS['train'][:2],
                              'eval': SPLITS['eval'][:1]},
      module_file='', module_path=module_path, image_size=0)
  import os
  uri = artifact_utils.get_split_uri([image_examples], 'train')
  (record,) = tf.data.TFRecordDataset(
      tf.io.gfile.glob(os.path.join(uri, '*')), compression_type='GZIP')
  assert _pixels(record.numpy()).shape == (7, 7, 3)
