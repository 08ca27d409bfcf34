"""Pretrained image encoders: settings, weights files, offline ImageNet,
freezing and fine-tuning through run_fn."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import coco_captions_encoders as encoders
import coco_captions_model as model_lib
import coco_captions_utils as module
import trainer_harness

SIZE = 32
# A file written by Keras' own save_weights from the architecture, seeded.
WEIGHTS_SEED = 11


@pytest.mark.parametrize('settings, expected', [
    ({}, []),
    ({'image_encoder': 'mobilenet_v2', 'image_encoder_weights': 'imagenet',
      'fine_tune_layers': 20, 'size': 96}, []),
    ({'image_encoder': 'resnet50', 'image_encoder_weights': 'gs://b/w.h5'},
     []),
    ({'image_encoder': 'vgg16'},
     ["image_encoder 'vgg16' is not one of small_cnn, mobilenet_v2, "
      'efficientnet_v2_b0, resnet50']),
    ({'image_encoder': 'resnet50', 'size': 16},
     ['image_size 16: resnet50 needs a whole number of at least 32 pixels']),
    ({'image_encoder': 'resnet50', 'fine_tune_layers': -1},
     ['fine_tune_layers -1: give a whole number of layers, 0 or more']),
    ({'image_encoder': 'resnet50', 'image_encoder_weights': '/no/such.h5'},
     ["image_encoder_weights /no/such.h5: no such file (give 'imagenet', "
      "'none', or a .h5 weights file of ResNet50)"]),
    ({'image_encoder_weights': 'imagenet', 'fine_tune_layers': 2},
     ["image_encoder_weights 'imagenet': small_cnn is trained from scratch "
      'and takes none; choose a pretrained encoder (mobilenet_v2, '
      'efficientnet_v2_b0, resnet50)',
      'fine_tune_layers 2: small_cnn is trained whole; fine-tuning applies '
      'to a pretrained encoder']),
])
def test_settings_errors(settings, expected):
  assert encoders.settings_errors(**settings) == expected


def test_transform_alone_stores_images_of_any_size():
  assert encoders.settings_errors('resnet50', size=4, for_model=False) == []
  assert encoders.settings_errors('resnet50', size=0, for_model=False) == [
      'image_size 0: resnet50 needs a whole number of at least 1 pixels']


def test_a_weights_file_elsewhere_is_checked_where_the_trainer_runs():
  assert encoders.settings_errors('resnet50', '/no/such.h5',
                                  check_files=False) == []


def test_the_table_imports_without_tensorflow(tmp_path):
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, '-c', 'import sys, coco_captions_encoders, '
       'coco_captions_hparams; print("tensorflow" in sys.modules)'],
      cwd=os.path.join(root, 'model'), capture_output=True, text=True, check=True)
  assert result.stdout.strip() == 'False'


def test_module_settings_follow_the_encoder_and_fail_in_one_line():
  assert module.image_encoder_settings({}) == model_lib.ImageEncoderSettings(
      'small_cnn', None, 0, 64)
  assert module.image_encoder_settings(
      {'image_encoder': 'mobilenet_v2'}) == model_lib.ImageEncoderSettings(
          'mobilenet_v2', 'imagenet', 0, 224)
  assert module.image_encoder_settings(
      {'image_encoder': 'resnet50', 'image_size': 64,
       'image_encoder_weights': 'none', 'fine_tune_layers': 3}
  ) == model_lib.ImageEncoderSettings('resnet50', 'none', 3, 64)
  with pytest.raises(ValueError) as raised:
    module.image_encoder_settings({'image_encoder': 'mobilenet', 'x': 1})
  assert str(raised.value) == (
      "image_encoder 'mobilenet' is not one of small_cnn, mobilenet_v2, "
      'efficientnet_v2_b0, resnet50')


@pytest.mark.parametrize('keras_epochs, pretrained, layers, expected', [
    (30, False, 0, [('train', 30)]),
    # fine_tune_layers means nothing to the small CNN: it trains whole.
    (30, False, 5, [('train', 30)]),
    (30, True, 0, [('heads', 30)]),
    # round(0.3 * 30) = 9 epochs of fine-tuning after 21 of heads.
    (30, True, 20, [('heads', 21), ('fine_tune', 9)]),
    # round(0.3 * 2) = 1.
    (2, True, 20, [('heads', 1), ('fine_tune', 1)]),
    # One Keras epoch cannot be split: one of each.
    (1, True, 20, [('heads', 1), ('fine_tune', 1)]),
])
def test_training_phases(keras_epochs, pretrained, layers, expected):
  assert module.training_phases(keras_epochs, pretrained, layers, 0.3) == (
      expected)


def test_imagenet_weights_offline_are_one_error_naming_the_url(
    tmp_path, monkeypatch):
  # An empty Keras cache (~/.keras/models): Keras must download the file.
  monkeypatch.setenv('HOME', str(tmp_path))
  settings = model_lib.ImageEncoderSettings('mobilenet_v2', 'imagenet', 0, 96)
  try:
    model_lib.keras_application(settings)
  except ValueError as e:
    message = str(e)
  else:
    pytest.skip('this machine downloaded the ImageNet weights: not offline')
  assert '\n' not in message
  assert message.startswith(
      'could not download the ImageNet weights of mobilenet_v2 from '
      'https://storage.googleapis.com/tensorflow/keras-applications/'
      'mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_'
      'no_top.h5 (')
  assert 'pass it as --image_encoder_weights PATH' in message


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
  """MobileNetV2 weights (no top) with seeded random values, as Keras'
  save_weights writes them, and the values by variable name."""
  keras.utils.set_random_seed(WEIGHTS_SEED)
  source = keras.applications.MobileNetV2(
      include_top=False, weights=None, input_shape=(SIZE, SIZE, 3),
      pooling='avg')
  # Batch normalisation statistics other than the initial 0 and 1.
  for layer in source.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      mean, variance = layer.moving_mean, layer.moving_variance
      mean.assign(np.random.uniform(-1, 1, mean.shape))
      variance.assign(np.random.uniform(0.5, 2, variance.shape))
  path = str(tmp_path_factory.mktemp('weights') / 'mobilenet_v2_seeded.h5')
  source.save_weights(path)
  return path, {v.name: v.numpy() for v in source.weights}


def test_keras_application_loads_a_weights_file(weights_file):
  path, expected = weights_file
  # A larger input than the file was written at: the weights do not depend
  # on it.
  encoder = model_lib.keras_application(
      model_lib.ImageEncoderSettings('mobilenet_v2', path, 0, 48))
  loaded = {v.name: v.numpy() for v in encoder.weights}
  assert loaded.keys() == expected.keys()
  for name, value in expected.items():
    np.testing.assert_array_equal(loaded[name], value, err_msg=name)


def test_a_weights_file_at_a_uri_is_copied_and_loaded(weights_file):
  # TensorFlow's in-memory file system stands in for gs://.
  path, expected = weights_file
  uri = 'ram://weights/mobilenet_v2_seeded.h5'
  tf.io.gfile.makedirs('ram://weights')
  tf.io.gfile.copy(path, uri, overwrite=True)
  encoder = model_lib.keras_application(
      model_lib.ImageEncoderSettings('mobilenet_v2', uri, 0, SIZE))
  loaded = {v.name: v.numpy() for v in encoder.weights}
  for name, value in expected.items():
    np.testing.assert_array_equal(loaded[name], value, err_msg=name)


def test_a_weights_file_of_another_architecture_is_one_error(weights_file):
  path, _ = weights_file
  with pytest.raises(ValueError) as raised:
    model_lib.keras_application(
        model_lib.ImageEncoderSettings('resnet50', path, 0, SIZE))
  assert str(raised.value).startswith(
      f'image_encoder_weights {path}: not weights of ResNet50 without its top')
  assert '\n' not in str(raised.value)


def test_a_missing_weights_file_is_one_error(tmp_path):
  missing = str(tmp_path / 'gone.h5')
  with pytest.raises(ValueError, match=f'^image_encoder_weights {missing}: '
                     'no such file where the Trainer runs$'):
    model_lib.keras_application(
        model_lib.ImageEncoderSettings('mobilenet_v2', missing, 0, SIZE))


def test_the_pretrained_tower_applies_the_encoders_own_preprocessing(
    weights_file):
  path, _ = weights_file
  keras.utils.set_random_seed(0)
  model = model_lib.build_model(
      vocab_size=10, length=4, size=SIZE, embedding_dim=8, learning_rate=1e-3,
      image_encoder=model_lib.ImageEncoderSettings('mobilenet_v2', path, 0,
                                                   SIZE))
  pixels = np.random.RandomState(0).randint(0, 256, (2, SIZE, SIZE, 3))
  encoder = model_lib.image_encoder_of(model)
  # MobileNetV2 takes [-1, 1]: x / 127.5 - 1, inside the model.
  features = encoder(pixels / 127.5 - 1, training=False)
  tower = model.image_tower
  # Then the projection head, a chain of layers (dropout off at inference).
  head = tower.layers[tower.layers.index(encoder) + 1:]
  assert [type(layer).__name__ for layer in head] == [
      'Dropout', 'Dense', 'BatchNormalization', 'ReLU', 'Dense']
  for layer in head:
    features = layer(features, training=False)
  np.testing.assert_allclose(
      tower(tf.constant(pixels, tf.uint8), training=False), features,
      rtol=1e-4, atol=1e-5)


def test_unfreeze_top_layers_leaves_batch_normalisation_frozen():
  encoder = keras.applications.MobileNetV2(
      include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
  encoder.trainable = False
  # MobileNetV2's last 8 layers: block_16's depthwise ReLU, project conv,
  # its batch norm, then Conv_1, Conv_1_bn, out_relu (and before them
  # block_16_depthwise_BN, block_16_depthwise).
  names = [layer.name for layer in encoder.layers[-8:]]
  assert names == ['block_16_depthwise', 'block_16_depthwise_BN',
                   'block_16_depthwise_relu', 'block_16_project',
                   'block_16_project_BN', 'Conv_1', 'Conv_1_bn', 'out_relu']
  tuned = model_lib.unfreeze_top_layers(encoder, 8)
  assert tuned == ['block_16_depthwise', 'block_16_project', 'Conv_1']
  trainable = {w.name.split('/')[0] for w in encoder.trainable_weights}
  assert trainable == set(tuned)
  assert model_lib.unfreeze_top_layers(encoder, 0) == []
  assert not encoder.trainable_weights


@pytest.fixture(scope='module')
def fine_tuned(tmp_path_factory, tiny_data, weights_file):
  """run_fn with MobileNetV2 from `weights_file`, its top 8 layers
  fine-tuned: (training.json, the exported SavedModel)."""
  path, _ = weights_file
  work = str(tmp_path_factory.mktemp('fine_tuned'))
  examples_uri, graph_uri = trainer_harness.write_transformed_dataset(
      tiny_data, work, image_size=SIZE)
  # 16 train images in batches of 8: 20 steps are two Keras epochs of 10,
  # one of heads and one of fine-tuning.
  fn_args = trainer_harness.make_fn_args(
      examples_uri, graph_uri, work, train_steps=20, eval_steps=None,
      custom_config={'batch_size': 8, 'embedding_dim': 16,
                     'image_encoder': 'mobilenet_v2', 'image_size': SIZE,
                     'image_encoder_weights': path, 'fine_tune_layers': 8})
  module.run_fn(fn_args)
  with open(os.path.join(fn_args.model_run_dir, 'training.json')) as f:
    training = json.load(f)
  return training, tf.saved_model.load(fn_args.serving_model_dir)


def test_training_records_its_encoder_and_phases(fine_tuned):
  training, _ = fine_tuned
  assert training['image_encoder'] == 'mobilenet_v2'
  assert training['image_encoder_weights'].endswith('mobilenet_v2_seeded.h5')
  assert training['image_size'] == SIZE and training['fine_tune_layers'] == 8
  heads, tune = training['phases']
  assert heads['phase'] == 'heads' and tune['phase'] == 'fine_tune'
  half = training['epochs'] / 2
  assert heads['epochs'] == [0, half] and tune['epochs'] == [half, 2 * half]
  assert heads['steps'] == tune['steps'] == 10 and training['steps'] == 20
  assert heads['learning_rate'] == module.DEFAULTS['learning_rate']
  assert tune['learning_rate'] == pytest.approx(
      module.DEFAULTS['learning_rate'] *
      module.DEFAULTS['fine_tune_learning_rate_factor'])
  assert heads['trainable_encoder_layers'] == []
  # The encoder's last 8 layers: test_unfreeze_top_layers' 8 moved up by the
  # average pooling on top.
  assert tune['trainable_encoder_layers'] == ['block_16_project', 'Conv_1']
  assert heads['frozen'].startswith('the mobilenet_v2 encoder, all 155 layers')
  # Conv_1 (320 x 1280) and block_16_project (960 x 320), without biases,
  # train in the second phase.
  assert tune['trainable_parameters'] - heads['trainable_parameters'] == (
      320 * 1280 + 960 * 320)
  # The eval loss after each phase.
  assert training['eval_epochs'] == [half, 2 * half]
  assert len(training['eval_loss']) == 2


def test_the_exported_encoder_holds_the_files_weights_below_the_tuned_layers(
    fine_tuned, weights_file):
  _, expected = weights_file
  _, serving = fine_tuned
  # Every variable the image signature reads, by its Keras name.
  exported = {v.name: v.numpy()
              for v in serving.signatures['embed_images'].variables}
  tuned = ('block_16_project/', 'Conv_1/')
  changed = []
  for name, value in expected.items():
    assert name in exported, name
    if name.startswith(tuned):
      changed.append(not np.array_equal(exported[name], value))
    else:
      # Frozen, batch normalisation statistics included (inference mode).
      np.testing.assert_array_equal(exported[name], value, err_msg=name)
  assert len(changed) == 2 and all(changed)


def test_the_exported_signatures_answer_on_raw_image_bytes(fine_tuned,
                                                           tiny_data):
  _, serving = fine_tuned
  images = os.path.join(tiny_data, 'images')
  names = sorted(os.listdir(images))[:3]
  out = serving.signatures['embed_images'](image_bytes=tf.constant(
      [open(os.path.join(images, n), 'rb').read() for n in names]))
  embeddings = out['image_embedding'].numpy()
  assert embeddings.shape == (3, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0,
                             rtol=1e-5)


def test_the_run_summary_lists_a_pretrained_encoders_phases():
  from coco_captions.reporting import run_summary
  phase = {'phase': 'train', 'epochs': [0, 30], 'steps': 300,
           'learning_rate': 2e-3, 'frozen': 'nothing'}
  # The small CNN's summary is as it always was.
  assert run_summary._encoder_lines({'phases': [phase]}) == []
  assert run_summary._encoder_lines({}) == []
  training = {
      'image_encoder': 'resnet50', 'image_size': 224,
      'image_encoder_weights': 'imagenet',
      'phases': [dict(phase, phase='heads', epochs=[0, 21], steps=210,
                      frozen='the resnet50 encoder'),
                 dict(phase, phase='fine_tune', epochs=[21, 30],
                      steps=90, learning_rate=2e-4, frozen='its bottom')]}
  assert run_summary._encoder_lines(training) == [
      'Image encoder: resnet50 at 224 px, weights imagenet',
      '  heads: epochs 0 to 21, 210 steps at learning rate 0.002; '
      'frozen: the resnet50 encoder',
      '  fine_tune: epochs 21 to 30, 90 steps at learning rate 0.0002; '
      'frozen: its bottom']
