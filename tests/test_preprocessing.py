"""preprocessing_fn through tft_beam on hand-written rows, exact outputs."""

import functools
import io
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from PIL import Image

import coco_captions_utils as module

from coco_captions import features

RAW_SPEC = features.per_image_feature_spec()
RAW_METADATA = dataset_metadata.DatasetMetadata(features.per_image_schema())


# Stand-ins for stored pixels: Transform passes them through untouched.
RED, BLUE = b'stored red pixels', b'stored blue pixels'


def _image(image_id, caption_ids, captions, image_name, pixels):
  """One per-image example, as GroupCaptionsByImage writes it."""
  return {'image_id': [image_id], 'image_name': [image_name],
          'image_pixels': [pixels], 'captions': captions,
          'caption_ids': caption_ids}


ROWS = [
    _image(1, [11, 12], [b'A man riding a HORSE!', b'A horse.'], b'red.png',
           RED),
    _image(2, [21], [b"  The horse's   mane,\tblowing...  "], b'blue.jpg',
           BLUE),
]
# Cleaned tokens: [a man riding a horse], [the horses mane blowing], [a horse].
# Counts: a 3, horse 2, every other word 1; ties go by descending token.
EXPECTED_VOCABULARY = [
    'a', 'horse', 'the', 'riding', 'mane', 'man', 'horses', 'blowing'
]
IDS = {w: i + 1 for i, w in enumerate(EXPECTED_VOCABULARY)}  # 0 is padding.
OOV_ID = len(EXPECTED_VOCABULARY) + 1


@pytest.fixture(scope='module')
def images_root(tmp_path_factory):
  root = tmp_path_factory.mktemp('images')
  # Non-square and of different sizes: the transform must resize both.
  Image.new('RGB', (10, 6), (255, 0, 0)).save(root / 'red.png')
  Image.new('RGB', (8, 12), (0, 0, 255)).save(root / 'blue.jpg', quality=95)
  return str(root)


def _analyze_and_transform(tmp_path, rows, config=None, unseen_rows=None):
  """Runs AnalyzeAndTransformDataset; optionally TransformDataset on more rows.

  Returns (transformed rows, transformed unseen rows, TFTransformOutput).
  """
  output_dir = str(tmp_path / 'transform_output')
  with tft_beam.Context(temp_dir=str(tmp_path / 'tmp')):
    (transformed, _), transform_fn = (
        (rows, RAW_METADATA)
        | tft_beam.AnalyzeAndTransformDataset(
            functools.partial(module.preprocessing_fn, custom_config=config)))
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    unseen = []
    if unseen_rows:
      unseen, _ = (((unseen_rows, RAW_METADATA), transform_fn)
                   | tft_beam.TransformDataset())
  return list(transformed), list(unseen), tft.TFTransformOutput(output_dir)


def _token_ids(row, captions, length):
  """Dense, 0-padded [captions, length] token ids of one transformed image."""
  dense = np.zeros((captions, length), np.int64)
  dense[row['caption_token_ids$sparse_indices_0'],
        row['caption_token_ids$sparse_indices_1']] = row[
            'caption_token_ids$sparse_values']
  return dense.tolist()


@pytest.fixture(scope='module')
def transformed(tmp_path_factory):
  return _analyze_and_transform(
      tmp_path_factory.mktemp('transform'), ROWS,
      unseen_rows=[_image(3, [31, 32, 33],
                          [b'A zebra, riding!', b'a man', b'the end'],
                          b'blue.jpg', BLUE)])


def test_vocabulary_from_full_pass_most_frequent_first(transformed):
  _, _, output = transformed
  assert [w.decode() for w in output.vocabulary_by_name(
      features.CAPTION_VOCABULARY)] == EXPECTED_VOCABULARY
  # Padding and one OOV bucket around the vocabulary.
  assert module.vocabulary_size(output) == len(EXPECTED_VOCABULARY) + 2


def test_captions_cleaned_tokenized_and_padded_to_analyzer_length(transformed):
  rows, _, output = transformed
  # The longest cleaned caption has 5 tokens: that is the length L; the most
  # captions of one image is 2: that is C.
  assert module.caption_length(output) == 5
  spec = output.transformed_feature_spec()['caption_token_ids']
  assert list(spec.size) == [2, 5]
  assert _token_ids(rows[0], 2, 5) == [
      [IDS['a'], IDS['man'], IDS['riding'], IDS['a'], IDS['horse']],
      [IDS['a'], IDS['horse'], 0, 0, 0]]
  assert _token_ids(rows[1], 2, 5) == [
      [IDS['the'], IDS['horses'], IDS['mane'], IDS['blowing'], 0],
      [0, 0, 0, 0, 0]]


def test_unseen_words_map_to_the_oov_id_and_extra_captions_are_cut(
    transformed):
  _, unseen, _ = transformed
  # An image with more captions than C keeps its first C for training.
  assert _token_ids(unseen[0], 2, 5) == [
      [IDS['a'], OOV_ID, IDS['riding'], 0, 0], [IDS['a'], IDS['man'], 0, 0, 0]]


def test_captions_longer_than_the_cap_are_truncated(tmp_path):
  rows, _, output = _analyze_and_transform(
      tmp_path, ROWS, {'max_caption_tokens': 3})
  assert module.caption_length(output) == 3
  spec = output.transformed_feature_spec()['caption_token_ids']
  assert list(spec.size) == [2, 3]
  # Same vocabulary: it is built from the whole caption.
  assert _token_ids(rows[0], 2, 3) == [
      [IDS['a'], IDS['man'], IDS['riding']], [IDS['a'], IDS['horse'], 0]]


def _stored(images_root, name, size=4):
  """`encode_pixels` of one image file: what GroupCaptionsByImage stores."""
  with open(os.path.join(images_root, name), 'rb') as f:
    return module.encode_pixels(tf.constant([f.read()]), size).numpy()[0]


def test_pixels_pass_through_transform_as_stored(transformed):
  rows, unseen, output = transformed
  spec = output.transformed_feature_spec()['image_pixels']
  assert spec.shape == [] and spec.dtype == tf.string
  assert [r['image_pixels'] for r in rows + unseen] == [RED, BLUE, BLUE]


def test_images_are_stored_decoded_and_resized_as_uint8_pngs(images_root):
  red, blue = (_stored(images_root, n) for n in ('red.png', 'blue.jpg'))
  assert red.startswith(b'\x89PNG\r\n\x1a\n')
  assert tf.io.decode_png(red).shape == (4, 4, 3)
  red, blue = (module.parse_pixels(tf.constant([p]), 4).numpy()[0]
               for p in (red, blue))
  assert red.shape == (4, 4, 3) and red.dtype == np.uint8
  # PNG is lossless: exactly red. The one-colour JPEG decodes to one colour
  # (PIL, an independent decoder, says which), and resizing keeps it exactly.
  np.testing.assert_array_equal(red, np.broadcast_to([255, 0, 0], (4, 4, 3)))
  jpeg_colour = np.asarray(Image.open(os.path.join(images_root, 'blue.jpg')))
  assert len(np.unique(jpeg_colour.reshape(-1, 3), axis=0)) == 1
  np.testing.assert_array_equal(
      blue, np.broadcast_to(jpeg_colour[0, 0], (4, 4, 3)))
  assert abs(int(jpeg_colour[0, 0, 2]) - 255) <= 2


def test_serving_decodes_the_same_pixels_as_are_stored(images_root):
  # The `embed_images` signature decodes bytes with decode_and_resize_images;
  # the model must see there exactly what it was trained on.
  for name in ('red.png', 'blue.jpg'):
    with open(os.path.join(images_root, name), 'rb') as f:
      served = module.decode_and_resize_images(tf.constant([f.read()]), 4)
    np.testing.assert_array_equal(
        served.numpy()[0], module.parse_pixels(
            tf.constant([_stored(images_root, name)]), 4).numpy()[0])


def test_pixels_stored_at_another_size_than_the_model_fail_clearly(
    images_root):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'stored at another size than the '
                     r'image_size 8(.|\n)*\[4 4 3\]'):
    module.parse_pixels(tf.constant([_stored(images_root, 'red.png')]), 8)


def test_resized_pixels_are_rounded_not_truncated():
  # A 2x1 PNG of 0 and 255 shrunk to 1x1 averages to 127.5: rounding to even
  # gives 128 (truncating would give 127).
  buffer = io.BytesIO()
  image = Image.new('RGB', (2, 1))
  image.putpixel((0, 0), (0, 0, 0))
  image.putpixel((1, 0), (255, 255, 255))
  image.save(buffer, format='PNG')
  pixels = module.decode_and_resize_images(
      tf.constant([buffer.getvalue()]), 1).numpy()
  assert pixels.dtype == np.uint8
  np.testing.assert_array_equal(pixels, [[[[128, 128, 128]]]])


def _textured_jpeg(width, height):
  """A JPEG with broad shapes and fine grain, like a photo's."""
  rng = np.random.default_rng(0)
  y, x = np.mgrid[0:height, 0:width]
  base = np.stack([128 + 100 * np.sin(x / 37.0), 128 + 100 * np.cos(y / 23.0),
                   (x + y) % 256], axis=-1)
  noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255)
  buffer = io.BytesIO()
  Image.fromarray(noisy.astype(np.uint8)).save(buffer, format='JPEG',
                                                quality=90)
  return buffer.getvalue()


@pytest.mark.parametrize('width,height,image_size,decoded', [
    (640, 480, 64, (120, 160)),  # COCO's size: 1/4, the short side 120 >= 64.
    (640, 480, 200, (240, 320)),  # 1/2: at 1/4 the short side would be 120.
    (640, 480, 480, (480, 640)),  # Full size.
    (100, 80, 64, (80, 100)),  # Small images are decoded whole.
    (1024, 1024, 64, (128, 128)),  # 1/8 is the smallest scale libjpeg has.
])
def test_jpegs_are_decoded_at_the_smallest_scale_not_below_the_image_size(
    width, height, image_size, decoded):
  image = module._decode_jpeg_scaled(  # pylint: disable=protected-access
      tf.constant(_textured_jpeg(width, height)), image_size)
  assert tuple(image.shape) == (*decoded, 3)


def test_a_scaled_jpeg_decode_gives_nearly_a_full_decodes_pixels():
  # COCO-sized: decoded at 1/4, then resized to 64 x 64. Against a full
  # decode resized the same way the pixels differ by about one step of the
  # 0..255 scale on average and a few at most (measured: mean 1.0, max 5).
  # Decoding at 1/8 would be blurred: max 17.
  jpeg = _textured_jpeg(640, 480)
  full = tf.image.resize(tf.io.decode_jpeg(jpeg, channels=3), [64, 64],
                         antialias=True)
  full = np.round(np.clip(full.numpy(), 0, 255))
  scaled = module.decode_and_resize_images(tf.constant([jpeg]), 64).numpy()[0]
  difference = np.abs(scaled.astype(np.float64) - full)
  assert difference.mean() < 1.2, difference.mean()
  assert difference.max() <= 8, difference.max()


def test_image_id_and_name_pass_through(transformed):
  rows, _, _ = transformed
  assert [(r['image_id'], r['image_name']) for r in rows] == [
      (1, b'red.png'), (2, b'blue.jpg')]


def test_dense_token_ids_pads_and_cuts_to_the_length():
  # Image 0: captions [5 6 7] and [8]; image 1: [9 9 9 9] (cut to 3).
  sparse = tf.SparseTensor(
      indices=[[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0],
               [1, 0, 0], [1, 0, 1], [1, 0, 2], [1, 0, 3]],
      values=tf.constant([5, 6, 7, 8, 9, 9, 9, 9], tf.int64),
      dense_shape=[2, 2, 4])
  assert module.dense_token_ids(sparse, 3).numpy().tolist() == [
      [[5, 6, 7], [8, 0, 0]], [[9, 9, 9], [0, 0, 0]]]


def test_pick_captions_cycles_through_each_images_captions():
  # Image 10 has three captions, image 20 one, image 30 two with an empty
  # one (all padding) between them, which is never picked.
  token_ids = tf.constant([
      [[1, 0], [2, 0], [3, 0]],
      [[4, 4], [0, 0], [0, 0]],
      [[5, 0], [0, 0], [6, 6]],
  ], tf.int64)
  image_ids = tf.constant([10, 20, 30], tf.int64)
  picked = [module.pick_captions(token_ids, image_ids, epoch, seed=0).numpy()
            for epoch in range(6)]
  firsts = [[int(p[row, 0]) for p in picked] for row in range(3)]
  # Each image cycles through its captions, one a epoch, in order.
  start = firsts[0][0]
  assert firsts[0] == [1 + (start - 1 + e) % 3 for e in range(6)]
  assert firsts[1] == [4] * 6
  assert set(firsts[2][:2]) == {5, 6} and firsts[2][2:] == firsts[2][:2] * 2
  # The same seed, epoch and image give the same caption.
  np.testing.assert_array_equal(
      module.pick_captions(token_ids, image_ids, 4, seed=0), picked[4])


def test_clean_captions_handles_unicode_and_punctuation():
  cleaned = module.clean_captions(
      tf.constant(['CAFÉ — Ünder the  sign: "two-for-one"!', "Don’t   stop"]))
  assert [c.decode() for c in cleaned.numpy()] == [
      'café ünder the sign two for one', 'dont stop']


# Hand-computed: what each caption must become, code point by code point.
TOKENISATION = [
    # Combining marks are part of their word (decomposed "é", Devanagari
    # vowel signs and virama, the dot that lower-casing "İ" leaves).
    ('cafe\u0301 au lait', ['cafe\u0301', 'au', 'lait']),
    ('\u0130stanbul at night', ['i\u0307stanbul', 'at', 'night']),
    ('\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e',
     ['\u0928\u092e\u0938\u094d\u0924\u0947',
      '\u0926\u0941\u0928\u093f\u092f\u093e']),
    # A NUL or another control character separates words; it ends nothing.
    ('a dog\x00on a\tsofa\x7fbed', ['a', 'dog', 'on', 'a', 'sofa', 'bed']),
    # Scripts without spaces: one word per run; emoji separate words.
    ('\u6771\u4eac\u30bf\u30ef\u30fc, at dusk', [
        '\u6771\u4eac\u30bf\u30ef\u30fc', 'at', 'dusk']),
    ('\U0001F600dog\U0001F436cat \u2764', ['dog', 'cat']),
]


@pytest.mark.parametrize('caption, words', TOKENISATION)
def test_tokenisation_keeps_words_whole(caption, words):
  cleaned = module.clean_captions(tf.constant([caption.encode()]))
  assert cleaned.numpy()[0].decode().split(' ') == words


def test_equivalent_spellings_give_the_same_token_ids(tmp_path):
  from coco_captions import text
  # Composed and decomposed accents, a ligature, full-width letters.
  spellings = [('caf\u00e9 fish dog', 'cafe\u0301 \ufb01sh \uff24\uff4f\uff47'),
               ('na\u00efve \u00c5ngstr\u00f6m',
                'nai\u0308ve \u212bngstro\u0308m')]
  rows = [_image(i, [i], [text.normalize_caption(c.encode())], b'red.png',
                 RED) for i, c in enumerate(s for pair in spellings for s in pair)]
  transformed, _, output = _analyze_and_transform(tmp_path, rows)
  ids = [_token_ids(r, 1, 3) for r in transformed]
  assert ids[0] == ids[1] and ids[2] == ids[3]
  vocabulary = [w.decode() for w in output.vocabulary_by_name(
      features.CAPTION_VOCABULARY)]
  assert sorted(vocabulary) == sorted(
      ['caf\u00e9', 'fish', 'dog', 'na\u00efve', '\u00e5ngstr\u00f6m'])
