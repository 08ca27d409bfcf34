"""run_fn on a tiny transformed set: training, metrics, and the exported model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import coco_captions_model as model_lib
import coco_captions_utils as module
import conftest
import trainer_harness
from coco_captions import features
from coco_captions.pipeline import retrieval


@pytest.fixture(scope='module')
def trained(tiny_model):
  return tiny_model


@pytest.fixture(scope='module')
def serving(trained):
  fn_args, _ = trained
  return tf.saved_model.load(fn_args.serving_model_dir)


def _caption_examples(captions):
  return tf.constant([
      tf.train.Example(features=tf.train.Features(feature={
          'caption': tf.train.Feature(
              bytes_list=tf.train.BytesList(value=[c.encode()]))
      })).SerializeToString() for c in captions
  ])


def test_training_follows_the_data_and_records_its_plan(trained):
  fn_args, _ = trained
  with open(os.path.join(fn_args.model_run_dir, 'training.json')) as f:
    training = json.load(f)
  # 20 images: 16 train, 4 eval (image_id % 5 == 0); batches of 8 distinct
  # images, so 2 steps an epoch, and Keras runs 5 epochs at a time (10
  # steps): a loss every 5 epochs, each said in epochs, never Keras'.
  assert training['train_images'] == 16 and training['eval_images'] == 4
  assert training['batch_size'] == 8 and training['steps_per_epoch'] == 2
  assert training['epochs'] == conftest.TINY_TRAIN_EPOCHS
  assert training['steps'] == 2 * conftest.TINY_TRAIN_EPOCHS
  every_five = [5 * k for k in range(1, conftest.TINY_TRAIN_EPOCHS // 5 + 1)]
  assert training['loss_epochs'] == training['eval_epochs'] == every_five
  assert len(training['loss']) == len(training['eval_loss']) == len(
      every_five)
  assert 'keras_epochs' not in training
  # An epoch count a user set runs whole: no early stopping.
  assert training['early_stopping_patience'] == 0
  assert training['planned_steps'] == training['steps']
  assert 'early_stopping' not in training['phases'][0]
  # 20 images at 32 px are well within memory: decoded once.
  assert training['images_in_memory'] is True
  # The eval loss on the whole eval split, under max_eval_images.
  assert training['eval_loss_images'] == 4
  # TensorBoard has them at the training step each ended on.
  assert training['tensorboard_step'] == 'training step'
  from coco_captions.reporting import report_data
  curves = report_data.loss_curves(fn_args.model_run_dir)
  assert [step for step, _ in curves['train']] == [2 * e for e in every_five]
  # It learned: the last epoch's loss is well below the first's.
  assert training['loss'][-1] < 0.5 * training['loss'][0]


def test_the_trained_model_retrieves_its_training_images(trained, serving):
  # Through the exported signatures, on raw captions and image bytes: each of
  # the 16 train images against its own captions. Chance R@1 is 1/16.
  fn_args, data_dir = trained
  images = [r for r in trainer_harness.image_rows(data_dir)
            if r['image_id'][0] % 5 != 0]
  image_bytes = [open(os.path.join(data_dir, 'images',
                                   r['image_name'][0].decode()), 'rb').read()
                 for r in images]
  captions = [c.decode() for r in images for c in r['captions']]
  caption_image_ids = [r['image_id'][0] for r in images for _ in r['captions']]
  image_embeddings = serving.signatures['embed_images'](
      image_bytes=tf.constant(image_bytes))['image_embedding'].numpy()
  caption_embeddings = serving.signatures['embed_captions'](
      examples=_caption_examples(captions))['caption_embedding'].numpy()
  metrics = retrieval.retrieval_metrics(
      caption_embeddings, caption_image_ids, image_embeddings,
      [r['image_id'][0] for r in images])
  assert metrics['text_to_image_chance@1'] == pytest.approx(1 / 16)
  assert metrics['text_to_image_recall@1'] >= 0.5, metrics
  assert metrics['image_to_text_recall@1'] >= 0.5, metrics


def test_writes_tensorboard_logs(trained):
  fn_args, _ = trained
  events = tf.io.gfile.glob(
      os.path.join(fn_args.model_run_dir, '**', 'events.out.tfevents.*'))
  assert events, f'no TensorBoard event files under {fn_args.model_run_dir}'


def test_export_has_its_signatures(serving):
  assert set(serving.signatures) == {
      'serving_default', 'embed_captions', 'embed_images', 'count_known_words'}
  # Vocabulary words per caption, repeats counted: all but "zebra" in the
  # third, none of "zebras never".
  known = serving.signatures['count_known_words'](examples=_caption_examples(
      ['a red circle', 'Zebras never', 'a zebra and a red circle', '']))
  assert known['known_words'].numpy().tolist() == [3, 0, 5, 0]


def test_caption_signature_takes_raw_serialized_examples(serving):
  examples = _caption_examples([
      'A red circle and a blue square.',
      'a RED circle,  and a blue square',  # Same words after cleaning.
      'Zebras never appear in this vocabulary',
  ])
  out = serving.signatures['embed_captions'](examples=examples)
  embeddings = out['caption_embedding'].numpy()
  assert embeddings.shape == (3, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)
  # The Transform graph inside cleans the text: same tokens, same embedding.
  np.testing.assert_allclose(embeddings[0], embeddings[1], atol=1e-6)
  default = serving.signatures['serving_default'](examples=examples)
  np.testing.assert_allclose(default['caption_embedding'], embeddings)


def test_caption_signature_accepts_captions_longer_than_training(serving):
  out = serving.signatures['embed_captions'](
      examples=_caption_examples([' '.join(['red circle'] * 40)]))
  assert out['caption_embedding'].shape == (1, 16)


def test_image_signature_takes_encoded_jpeg_and_png(serving, trained):
  _, data_dir = trained
  images_dir = os.path.join(data_dir, 'images')
  names = sorted(os.listdir(images_dir))[:5]
  assert {n.rsplit('.', 1)[1] for n in names} == {'jpg', 'png'}
  image_bytes = [open(os.path.join(images_dir, n), 'rb').read() for n in names]
  out = serving.signatures['embed_images'](image_bytes=tf.constant(image_bytes))
  embeddings = out['image_embedding'].numpy()
  assert embeddings.shape == (5, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-5)


def test_contrastive_loss_matches_a_hand_computation():
  # Two pairs in 2-D, temperature 0.5. Captions c0 = (1, 0), c1 = (0, 1);
  # images i0 = (1, 0), i1 = (0.6, 0.8). Similarities c.i:
  #   c0: i0 1.0, i1 0.6        c1: i0 0.0, i1 0.8
  # Logits are those / 0.5: c0 [2.0, 1.2], c1 [0.0, 1.6].
  # Caption to image, -log softmax of the diagonal:
  #   c0: log(e^2 + e^1.2) - 2 = 0.371101;  c1: log(1 + e^1.6) - 1.6 = 0.183901
  # Image to caption, over the columns: i0 [2.0, 0.0], i1 [1.2, 1.6]:
  #   i0: log(e^2 + 1) - 2 = 0.126928;      i1: log(e^1.2 + e^1.6) - 1.6 = 0.513015
  # Loss = (mean(0.371101, 0.183901) + mean(0.126928, 0.513015)) / 2.
  captions = tf.constant([[1.0, 0.0], [0.0, 1.0]])
  images = tf.constant([[1.0, 0.0], [0.6, 0.8]])
  expected = ((0.371101 + 0.183901) / 2 + (0.126928 + 0.513015) / 2) / 2
  loss = model_lib.contrastive_loss(captions, images, temperature=0.5)
  assert float(loss) == pytest.approx(expected, abs=1e-5)
  # Perfectly separated pairs at a low temperature: almost no loss.
  eye = tf.eye(3)
  assert float(model_lib.contrastive_loss(eye, eye, 0.01)) < 1e-6


@pytest.mark.parametrize('images, batch, epochs, steps, min_steps, expected', [
    # -> (batch, steps an epoch, epochs, Keras epochs, steps a Keras epoch,
    #     total steps)
    (1000, 64, 30, None, 0, (64, 15, 30, 30, 15, 450)),  # 1000 // 64 = 15.
    # A batch is at most the split; passes of 1 step, 10 to a Keras epoch.
    (40, 64, 30, None, 0, (40, 1, 30, 3, 10, 30)),
    # Small data: at least 1,000 steps, ceil(1000 / 3) = 334 passes, 4 to a
    # Keras epoch: 84 of 12 steps.
    (242, 64, 30, None, 1000, (64, 3, 336, 84, 12, 1008)),
    (100_000, 64, 30, None, 1000, (64, 1562, 30, 30, 1562, 46_860)),
    # Steps win, exactly, in equal Keras epochs of at most about a pass.
    (1000, 64, 30, 100, 1000, (64, 15, 6.67, 10, 10, 100)),
    (1000, 64, 30, 10, 1000, (64, 15, 0.67, 1, 10, 10)),
    (1000, 64, 30, 1009, 1000, (64, 15, 67.27, 1009, 1, 1009)),  # A prime.
    # Epochs a user set are run exactly, with no floor: 3 of 3 steps.
    (242, 64, 3, None, 0, (64, 3, 3, 1, 9, 9)),
    (242, 64, 7, None, 0, (64, 3, 7, 7, 3, 21)),
])
def test_training_plan(images, batch, epochs, steps, min_steps, expected):
  plan = module.TrainingPlan(images, batch, epochs, steps, min_steps)
  assert (plan.batch_size, plan.steps_per_epoch, plan.epochs,
          plan.keras_epochs, plan.keras_steps_per_epoch,
          plan.total_steps) == expected


@pytest.mark.parametrize('images, epochs, steps, expected', [
    # COCO train2014's split: 1,034 steps a pass, 30 of them would be 31,020
    # steps; at most 15,000 is 14 whole passes, 14,476 steps.
    (66_214, 30, None, (14, 14_476)),
    # 100k captions: 30 passes are 7,500 steps, under the ceiling.
    (16_008, 30, None, (30, 7_500)),
    # A pass longer than the ceiling: one pass.
    (1_000_000, 30, None, (1, 15_625)),
    # Small data: the floor still wins.
    (242, 30, None, (336, 1_008)),
    # Steps the user set are run as given.
    (66_214, 30, 20_000, (19.34, 20_000)),
])
def test_the_default_length_is_at_most_15000_steps_of_whole_passes(
    images, epochs, steps, expected):
  plan = module.TrainingPlan(images, 64, epochs, steps, 1000, 15000)
  assert (plan.epochs, plan.total_steps) == expected


def test_the_eval_loss_is_measured_thirty_times_at_most_and_at_the_end():
  assert module.TrainingPlan(1000, 64, 7).eval_epochs == list(range(1, 8))
  eval_epochs = module.TrainingPlan(1000, 64, 100).eval_epochs
  assert len(eval_epochs) == 30 and eval_epochs[-1] == 100
  # Evenly spread: every 3 or 4 epochs.
  assert {b - a for a, b in zip(eval_epochs, eval_epochs[1:])} == {3, 4}


def _passes(dataset, steps_per_pass, passes):
  """Each pass as a list of batches of (image id, caption tokens, pixel sum)."""
  batches = iter(dataset)
  found = []
  for _ in range(passes):
    one = []
    for _ in range(steps_per_pass):
      inputs, image_ids = next(batches)
      one.append([
          (int(i), tuple(c), int(p)) for i, c, p in zip(
              image_ids.numpy(),
              inputs[features.CAPTION_TOKEN_IDS].numpy().tolist(),
              tf.reduce_sum(tf.cast(inputs[features.IMAGE_PIXELS], tf.int64),
                            axis=[1, 2, 3]).numpy())])
    found.append(one)
  return found


def test_in_memory_passes_hold_what_the_streamed_ones_do(trained):
  # 16 train images in batches of 8: two steps a pass, nothing dropped, so
  # every pass holds every image once with the caption of that pass, read
  # from the files each time or decoded once and kept.
  fn_args, _ = trained
  output = module.tft.TFTransformOutput(fn_args.transform_output)
  args = (fn_args.train_files, fn_args.data_accessor, output, 8, 32, 0)
  streamed = _passes(module._input_fn(*args), 2, 3)
  in_memory = _passes(module._in_memory_input_fn(*args, images=16), 2, 3)
  for one_pass, other in zip(streamed, in_memory):
    assert sorted(sum(one_pass, [])) == sorted(sum(other, []))
    assert all(len({i for i, _, _ in b}) == 8 for b in other)
  # Each pass draws another caption of an image with several.
  captions = [dict((i, c) for i, c, _ in sum(p, [])) for p in in_memory]
  assert captions[0] != captions[1]
  # And is shuffled anew.
  orders = [[i for b in p for i, _, _ in b] for p in in_memory]
  assert len({tuple(o) for o in orders}) > 1


def test_in_memory_passes_of_fewer_images_are_always_the_same_images(trained):
  # The eval loss on at most max_eval_images: the split's first 8 of 16,
  # every pass the same 8, reshuffled.
  fn_args, _ = trained
  output = module.tft.TFTransformOutput(fn_args.transform_output)
  dataset = module._in_memory_input_fn(fn_args.train_files,
                                       fn_args.data_accessor, output, 4, 32,
                                       0, images=8)
  passes = _passes(dataset, 2, 3)
  ids = [sorted(i for b in p for i, _, _ in b) for p in passes]
  assert len(ids[0]) == len(set(ids[0])) == 8
  assert ids[0] == ids[1] == ids[2]


def test_early_stopping_counts_evaluations_and_keeps_the_best_weights():
  model = module.keras.Sequential([module.keras.layers.Dense(1,
                                                             input_shape=(1,))])
  stopping = module._EarlyStopping(patience=2)
  stopping.set_model(model)
  stopping.on_train_begin()
  # The eval loss after Keras epochs 0, 2, 4 and 6 only; the weights are
  # the epoch's number. Best at 2 (1.0); 4 and 6 are no better: stop at 6.
  eval_losses = {0: 3.0, 2: 1.0, 4: 1.5, 6: 1.2}
  for epoch in range(7):
    model.set_weights([np.full((1, 1), epoch, np.float32),
                       np.zeros(1, np.float32)])
    logs = {'loss': 0.5}
    if epoch in eval_losses:
      logs['val_loss'] = eval_losses[epoch]
    stopping.on_epoch_end(epoch, logs)
    assert model.stop_training == (epoch == 6), epoch
  stopping.on_train_end()
  assert stopping.best_epoch == 2 and stopping.best == 1.0
  assert model.get_weights()[0][0, 0] == 2.0


def test_the_default_length_stops_when_the_eval_loss_stops_improving(
    trained, tmp_path):
  # The default plan on 16 train images: at most 1,000 steps (500 epochs),
  # which a split this small stops improving on long before.
  fn_args, _ = trained
  examples = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
  args = trainer_harness.make_fn_args(
      examples, fn_args.transform_output, str(tmp_path), train_steps=None,
      eval_steps=None, custom_config={
          'batch_size': 8, 'embedding_dim': conftest.TINY_EMBEDDING_DIM,
          'image_size': 32})
  module.run_fn(args)
  with open(os.path.join(args.model_run_dir, 'training.json')) as f:
    training = json.load(f)
  assert training['planned_steps'] == 1000
  assert training['early_stopping_patience'] == 5
  stopping = training['phases'][0]['early_stopping']
  assert stopping['stopped_early'] and training['steps'] < 1000
  eval_loss = training['eval_loss']
  best = int(np.argmin(eval_loss))
  # Stopped after exactly five evaluations without a better one; the kept
  # weights are those of the best.
  assert len(eval_loss) - 1 - best == 5
  assert stopping['kept_eval_loss'] == pytest.approx(eval_loss[best])
  assert stopping['kept_epoch'] == training['eval_epochs'][best]
  assert training['epochs'] == training['eval_epochs'][-1]


def test_a_train_split_of_one_image_is_a_clear_error():
  with pytest.raises(ValueError, match='1 image'):
    module.TrainingPlan(1, 64, 30)


def test_learning_rate_warms_up_then_decays_to_zero():
  schedule = model_lib.learning_rate_schedule(1e-3, total_steps=100,
                                              warmup_fraction=0.1)
  rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
  assert rates[0] == 0.0
  assert rates[1] == pytest.approx(5e-4)
  assert rates[2] == pytest.approx(1e-3)
  # Halfway through the cosine: half the peak.
  assert rates[3] == pytest.approx(5e-4, rel=1e-3)
  assert rates[4] == pytest.approx(0.0, abs=1e-9)


def test_train_function_is_traced_once():
  # A train step that creates variables (Adam's slots, lazily) makes
  # tf.function trace the train function again for every later call.
  model = model_lib.build_model(vocab_size=20, length=4, size=16,
                                embedding_dim=8, learning_rate=1e-3,
                                steps_per_execution=2)
  # Distinct images a batch, as the input pipeline gives them.
  inputs = {
      features.IMAGE_PIXELS: tf.zeros([4, 16, 16, 3], tf.uint8),
      features.CAPTION_TOKEN_IDS: tf.ones([4, 4], tf.int64),
  }
  dataset = tf.data.Dataset.from_tensors(
      (inputs, tf.constant([1, 2, 3, 4], tf.int64))).repeat()
  model.fit(dataset, epochs=2, steps_per_epoch=4, verbose=0)
  assert model.train_function.experimental_get_tracing_count() == 1


_TRAIN = '''
import json, os, sys
import numpy as np
root = os.path.dirname(sys.argv[1])
sys.path[:0] = [sys.argv[1], root, os.path.join(root, 'model')]
import trainer_harness
import coco_captions_utils
examples, graph, out = sys.argv[2:5]
fn_args = trainer_harness.make_fn_args(
    examples, graph, out, train_steps=None, eval_steps=None,
    custom_config={'batch_size': 8, 'embedding_dim': 16, 'image_size': 32,
                   'train_epochs': 20})
coco_captions_utils.run_fn(fn_args)
with open(os.path.join(out, 'model_run', 'training.json')) as f:
  training = json.load(f)
import tensorflow as tf
embedding = tf.saved_model.load(fn_args.serving_model_dir).signatures[
    'embed_captions'](examples=tf.constant([tf.train.Example(
        features=tf.train.Features(feature={'caption': tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[b'a red circle']))})
    ).SerializeToString()]))['caption_embedding'].numpy()
print(json.dumps({'loss': training['loss'], 'threads': training['threads'],
                  'embedding': embedding.tolist()}))
'''


@pytest.mark.e2e
def test_the_same_settings_and_thread_layout_train_the_same_model(
    trained, tmp_path):
  # In fresh processes, as two runs are: on every core, then on one core
  # with the first run's thread layout, as README's "Reproducible runs"
  # says to reproduce a run on a machine with another number of cores. The
  # same layout on the same cores is the easier case of the same check.
  import subprocess
  import sys
  fn_args, _ = trained
  examples = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
  here = os.path.dirname(os.path.abspath(__file__))

  def train(name, prefix=(), **env):
    result = subprocess.run(
        [*prefix, sys.executable, '-c', _TRAIN, here, examples,
         fn_args.transform_output, str(tmp_path / name)],
        env={**os.environ, **env}, capture_output=True, text=True,
        timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])

  first = train('first')
  assert first['threads']['intra_op'] == len(os.sched_getaffinity(0))
  layout = {'TF_NUM_INTRAOP_THREADS': str(first['threads']['intra_op']),
            'TF_NUM_INTEROP_THREADS': str(first['threads']['inter_op'])}
  one_core = train('one_core', ('taskset', '-c', '0'), **layout)
  assert one_core == first
