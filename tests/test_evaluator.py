"""RetrievalEvaluator's pieces: the candidate pool, evaluation, the blessing rule."""

import csv
import os

import pytest
import tensorflow as tf

from coco_captions import paths
from coco_captions.pipeline import evaluator, push, retrieval
from coco_captions.serving import query

METRIC = 'text_to_image_recall@5'


def _metrics(value, images=60):
  """A pool of `images` images with five captions each."""
  return {METRIC: value, 'text_to_image_recall@1': value / 2,
          'text_to_image_chance@5': min(5 / images, 1.0),
          'num_images': images, 'num_captions': 5 * images}


@pytest.mark.parametrize('current, baseline, threshold, blessed, words', [
    (0.5, None, 0.3, True, 'no earlier blessed model'),
    (0.2, None, 0.3, False, 'below the threshold 0.300'),
    (0.5, 0.4, 0.3, True, 'not worse than the latest blessed model'),
    (0.5, 0.5, 0.3, True, 'not worse'),
    (0.4, 0.5, 0.3, False, "worse than the latest blessed model's 0.500"),
    (0.2, 0.1, 0.3, False, 'below the threshold'),
])
def test_blessing_rule(current, baseline, threshold, blessed, words):
  result, reason = evaluator.decide(
      METRIC, threshold, _metrics(current),
      None if baseline is None else _metrics(baseline))
  assert result is blessed
  assert words in reason and f'{current:.3f}' in reason
  if blessed:
    # Over 60 images at chance 5/60, 30 hits are far beyond chance.
    assert ('is above chance (chance 0.083 over 60 eval images, one-sided '
            'binomial test p = ') in reason


def test_a_pool_too_small_to_tell_blesses_nothing():
  # 4 images: any 5 of them hold the right one, chance R@5 is 1.
  blessed, reason = evaluator.decide(METRIC, 0.0, _metrics(1.0, images=4),
                                     None)
  assert not blessed
  assert reason == (
      '4 eval images are too few to tell any model from chance at '
      'text_to_image_recall@5 (chance 1.000: even a perfect score has p = 1, '
      'not below 0.01); evaluate on more images')
  # 10 images at chance 1/2: a perfect score has p = 1/2**10 < 0.01.
  blessed, reason = evaluator.decide(METRIC, 0.0, _metrics(1.0, images=10),
                                     None)
  assert blessed, reason


def test_a_score_chance_could_give_is_not_blessed():
  # 60 images at chance 5/60: 8 hits have p = P(Binomial(60, 1/12) >= 8),
  # about 0.12, above 0.01 though the threshold is cleared.
  blessed, reason = evaluator.decide(METRIC, 0.1, _metrics(8 / 60), None)
  assert not blessed
  assert reason.startswith('text_to_image_recall@5 0.133 cannot be told from '
                           'chance (chance 0.083 over 60 eval images, '
                           'one-sided binomial test p = 0.1')
  # Unless the test is turned off.
  assert evaluator.decide(METRIC, 0.1, _metrics(8 / 60), None,
                          significance=1)[0]


@pytest.mark.parametrize('threshold, baseline, significance', [
    (float('nan'), None, 0.01), (0.3, float('nan'), 0.01),
    (0.3, None, float('nan'))])
def test_nan_settings_or_baselines_decide_nothing(threshold, baseline,
                                                 significance):
  with pytest.raises(ValueError, match='Cannot decide blessing: .* is nan'):
    evaluator.decide(METRIC, threshold, _metrics(0.9),
                     None if baseline is None else _metrics(baseline),
                     significance=significance)


def test_the_blessed_model_itself_is_not_blessed_again():
  blessed, reason = evaluator.decide(METRIC, 0.3, _metrics(0.9), _metrics(0.9),
                                     same_as_baseline=True)
  assert not blessed and 'already the latest blessed model' in reason


def test_unknown_metric_is_a_clear_error():
  with pytest.raises(ValueError, match='Unknown blessing metric'):
    evaluator.decide('recall@5', 0.3, _metrics(0.5), None)


def _write_raw_split(split_dir, rows):
  """Writes raw tf.Examples as CsvExampleGen does (gzipped TFRecords)."""
  os.makedirs(split_dir)
  path = os.path.join(split_dir, 'data_tfrecord-00000-of-00001.gz')
  with tf.io.TFRecordWriter(path, options='GZIP') as writer:
    for r in rows:
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          'image_id': tf.train.Feature(int64_list=tf.train.Int64List(
              value=[int(r['image_id'])])),
          'caption': tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[r['caption'].encode()])),
          'image_name': tf.train.Feature(bytes_list=tf.train.BytesList(
              value=[r['image_name'].encode()])),
      })).SerializeToString())


@pytest.fixture(scope='module')
def eval_split(tiny_data, tmp_path_factory):
  with open(os.path.join(tiny_data, 'captions.csv')) as f:
    rows = [r for r in csv.DictReader(f) if int(r['image_id']) % 5 == 0]
  split_dir = str(tmp_path_factory.mktemp('examples') / 'Split-eval')
  # Out of order on purpose: the pool is ordered by image id.
  _write_raw_split(split_dir, rows[::-1])
  return split_dir


def test_pool_keeps_the_lowest_image_ids_and_all_their_captions(eval_split):
  pool = evaluator.load_pool(eval_split, max_images=3)
  assert pool.image_ids == [5, 10, 15]
  assert pool.image_names[0] == 'COCO_synthetic_000000000005.png'
  assert pool.caption_image_ids == [5] * 5 + [10] * 5 + [15] * 5
  assert len(pool.serialized_examples) == 15


def test_pool_is_read_in_batches_without_losing_or_mixing_rows(tmp_path):
  # 10,000 captions of 2,000 images, ids descending, so the pool's images
  # come from the last of the three 4,096-row batches and their captions
  # cross a batch boundary.
  rows = [{'image_id': 2000 - i // 5, 'caption': f'caption {i}',
           'image_name': f'img{2000 - i // 5}.jpg'} for i in range(10_000)]
  split_dir = str(tmp_path / 'Split-eval')
  _write_raw_split(split_dir, rows)
  pool = evaluator.load_pool(split_dir, max_images=2)
  assert pool.image_ids == [1, 2]
  assert pool.image_names == ['img1.jpg', 'img2.jpg']
  assert pool.caption_image_ids == [1] * 5 + [2] * 5
  captions = []
  for serialized, image_id in zip(pool.serialized_examples,
                                  pool.caption_image_ids):
    feature = tf.train.Example.FromString(serialized).features.feature
    assert feature['image_id'].int64_list.value[0] == image_id
    captions.append(feature['caption'].bytes_list.value[0].decode())
  # Image 1's captions, then image 2's, each in the order written.
  assert captions == [f'caption {i}' for i in [*range(9995, 10_000),
                                               *range(9990, 9995)]]


def test_an_empty_split_is_a_clear_error(tmp_path):
  split_dir = str(tmp_path / 'Split-eval')
  _write_raw_split(split_dir, [])
  with pytest.raises(ValueError, match='No examples'):
    evaluator.load_pool(split_dir, 10)


def _lookup_model(path, caption_index, image_index, dim):
  """A SavedModel with the exported model's two signatures whose embeddings
  are looked up: one-hot of `caption_index[caption]` and of
  `image_index[image bytes]`, so every recall can be computed by hand."""

  def table(mapping):
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(mapping)), tf.constant(list(mapping.values()),
                                                tf.int64)), default_value=0)

  module = tf.Module()
  module.captions = table(caption_index)
  module.images = table(image_index)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def embed_captions(examples):
    caption = tf.io.parse_example(examples, {
        'caption': tf.io.FixedLenFeature([], tf.string)})['caption']
    return {'caption_embedding': tf.one_hot(module.captions.lookup(caption),
                                            dim)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def embed_images(image_bytes):
    return {'image_embedding': tf.one_hot(module.images.lookup(image_bytes),
                                          dim)}

  tf.saved_model.save(module, path, signatures={
      'embed_captions': embed_captions, 'embed_images': embed_images})
  return path


def test_recall_is_the_models_through_its_signatures(tiny_data, eval_split,
                                                     tmp_path):
  # Eval images 5, 10, 15, 20 get one-hot directions 0..3; every caption
  # points at its image's direction, except image 20's captions, which point
  # at image 15's. By hand:
  #   text to image, R@1: 15 of 20 captions rank their image first (image
  #     20's captions score 1 with image 15, 0 with their own) -> 0.75;
  #     R@5: all 4 images are in the top 5 -> 1.0.
  #   image to text, R@1: image 20 scores 0 with every caption, a tie that
  #     counts in its favour, so all 4 images hit -> 1.0.
  pool = evaluator.load_pool(eval_split, max_images=1000)
  images_root = os.path.join(tiny_data, 'images')
  image_bytes = paths.read_images(images_root, pool.image_names)[1]
  direction = {image_id: i for i, image_id in enumerate(pool.image_ids)}
  direction[20] = direction[15]
  captions = {}
  for serialized, image_id in zip(pool.serialized_examples,
                                  pool.caption_image_ids):
    caption = tf.train.Example.FromString(serialized).features.feature[
        'caption'].bytes_list.value[0]
    captions[caption] = direction[image_id]
  model_dir = _lookup_model(
      str(tmp_path / 'model'), captions,
      {b: i for i, b in enumerate(image_bytes)}, dim=4)

  metrics = evaluator.evaluate(model_dir, pool, images_root)
  assert metrics['num_images'] == 4 and metrics['num_captions'] == 20
  assert metrics['text_to_image_recall@1'] == pytest.approx(0.75)
  assert metrics['text_to_image_recall@5'] == 1.0
  assert metrics['image_to_text_recall@1'] == 1.0
  assert metrics['text_to_image_chance@1'] == pytest.approx(0.25)

  # Every caption pointing at image 5: only image 5's captions hit at R@1.
  model_dir = _lookup_model(
      str(tmp_path / 'collapsed'), dict.fromkeys(captions, 0),
      {b: i for i, b in enumerate(image_bytes)}, dim=4)
  collapsed = evaluator.evaluate(model_dir, pool, images_root)
  assert collapsed['text_to_image_recall@1'] == pytest.approx(0.25)


def test_the_trained_model_is_evaluated_on_raw_examples(tiny_model,
                                                        eval_split):
  fn_args, data_dir = tiny_model
  pool = evaluator.load_pool(eval_split, max_images=1000)
  metrics = evaluator.evaluate(fn_args.serving_model_dir, pool,
                               os.path.join(data_dir, 'images'))
  assert metrics['num_images'] == 4 and metrics['num_captions'] == 20
  # The same figures as the pool's embeddings through the signatures.
  model = query.RetrievalModel(fn_args.serving_model_dir)
  expected = retrieval.retrieval_metrics(
      model.embed_examples(pool.serialized_examples), pool.caption_image_ids,
      model.embed_images(paths.read_images(os.path.join(data_dir, 'images'),
                                           pool.image_names)[1]),
      pool.image_ids)
  assert metrics == expected


def test_on_four_eval_images_the_component_blesses_nothing(
    tiny_model, eval_split, tmp_path):
  from tfx.types import artifact_utils, standard_artifacts
  fn_args, data_dir = tiny_model
  examples = standard_artifacts.Examples()
  examples.uri = os.path.dirname(eval_split)
  examples.split_names = artifact_utils.encode_split_names(['eval'])
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  (tmp_path / 'model').mkdir()
  os.symlink(fn_args.serving_model_dir, tmp_path / 'model' / 'Format-Serving')
  evaluation, blessing = (standard_artifacts.ModelEvaluation(),
                          standard_artifacts.ModelBlessing())
  evaluation.uri, blessing.uri = str(tmp_path / 'e'), str(tmp_path / 'b')
  evaluator.RetrievalEvaluator.test_call(
      examples=examples, model=model, evaluation=evaluation,
      blessing=blessing, images_root=os.path.join(data_dir, 'images'),
      threshold=0.0)
  assert blessing.get_int_custom_property('blessed') == 0
  assert blessing.get_string_custom_property('reason').startswith(
      '4 eval images are too few to tell any model from chance')
  assert os.path.isfile(tmp_path / 'b' / 'NOT_BLESSED')
  assert evaluation.get_float_custom_property('chance_p_value') == 1.0


def test_unusable_eval_images_leave_the_pool_with_their_captions(
    tiny_data, eval_split, tmp_path):
  import shutil
  pool = evaluator.load_pool(eval_split, max_images=1000)
  images_root = str(tmp_path / 'images')
  shutil.copytree(os.path.join(tiny_data, 'images'), images_root)
  image_bytes = paths.read_images(images_root, pool.image_names)[1]
  captions = {}
  for serialized, image_id in zip(pool.serialized_examples,
                                  pool.caption_image_ids):
    caption = tf.train.Example.FromString(serialized).features.feature[
        'caption'].bytes_list.value[0]
    captions[caption] = pool.image_ids.index(image_id)
  model_dir = _lookup_model(str(tmp_path / 'model'), captions,
                            {b: i for i, b in enumerate(image_bytes)}, dim=4)
  # Image 20 is gone (as GroupCaptionsByImage's bad_images='drop' drops it);
  # image 5 is named outside the root: neither is read.
  os.remove(os.path.join(images_root, pool.image_names[3]))
  shutil.copy(os.path.join(images_root, pool.image_names[0]),
              tmp_path / 'outside.jpg')
  pool.image_names[0] = '../outside.jpg'
  skipped = []
  metrics = evaluator.evaluate(model_dir, pool, images_root, skipped)
  assert skipped == [pool.image_names[0], pool.image_names[3]]
  assert metrics['num_images'] == 2 and metrics['num_captions'] == 10
  assert metrics['text_to_image_recall@1'] == 1.0


def _artifacts(tmp_path, eval_split, model_dir, baseline_dir=None):
  from tfx.types import artifact_utils, standard_artifacts
  examples = standard_artifacts.Examples()
  examples.uri = os.path.dirname(eval_split)
  examples.split_names = artifact_utils.encode_split_names(['eval'])
  models = []
  for name, source in (('model', model_dir), ('baseline', baseline_dir)):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / name)
    model.id = len(models) + 1
    (tmp_path / name).mkdir()
    if source:
      os.symlink(source, tmp_path / name / 'Format-Serving')
    models.append(model)
  evaluation, blessing = (standard_artifacts.ModelEvaluation(),
                          standard_artifacts.ModelBlessing())
  evaluation.uri, blessing.uri = str(tmp_path / 'e'), str(tmp_path / 'b')
  return dict(examples=examples, model=models[0], baseline_model=models[1],
              evaluation=evaluation, blessing=blessing)


def test_a_baseline_gone_from_disk_is_said_and_judged_without(
    tiny_model, eval_split, tmp_path):
  # Every later run would fail at the evaluator, --no_cache included.
  fn_args, data_dir = tiny_model
  found = _artifacts(tmp_path, eval_split, fn_args.serving_model_dir)
  evaluator.RetrievalEvaluator.test_call(
      images_root=os.path.join(data_dir, 'images'), threshold=0.0,
      significance=1.0, **found)
  blessing = found['blessing']
  assert blessing.get_int_custom_property('blessed') == 1
  assert blessing.get_string_custom_property('reason').endswith(
      f'(the latest blessed model, {tmp_path / "baseline" / "Format-Serving"}'
      ', is gone from disk: this model was judged without it)')


def test_a_cached_model_gone_from_disk_names_the_command_that_repairs_it(
    tiny_model, eval_split, tmp_path):
  _, data_dir = tiny_model
  found = _artifacts(tmp_path, eval_split, None)
  with pytest.raises(evaluator.ModelGoneError,
                     match='is gone from disk: .* Run again with --no_cache'):
    evaluator.RetrievalEvaluator.test_call(
        images_root=os.path.join(data_dir, 'images'), threshold=0.0, **found)


def test_the_blessed_model_is_blessed_again_until_its_push_is_complete(
    tiny_model, eval_split, tmp_path):
  # A push that failed part-way must not leave the next run saying the model
  # is already served.
  fn_args, data_dir = tiny_model
  serving = tmp_path / 'serving'
  found = _artifacts(tmp_path, eval_split, fn_args.serving_model_dir)
  found['baseline_model'] = found['model']

  def blessing():
    evaluator.RetrievalEvaluator.test_call(
        images_root=os.path.join(data_dir, 'images'), threshold=0.0,
        significance=1.0, serving_model_dir=str(serving), **found)
    return (found['blessing'].get_int_custom_property('blessed'),
            found['blessing'].get_string_custom_property('reason'))

  blessed, reason = blessing()
  assert blessed == 1
  assert reason.endswith(f'(it is that model, but {serving} has no complete '
                         'copy of it: its push did not finish)')
  push.push(fn_args.serving_model_dir, str(serving))
  blessed, reason = blessing()
  assert blessed == 0
  assert 'is already the latest blessed model' in reason
