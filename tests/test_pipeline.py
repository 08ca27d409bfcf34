"""create_pipeline(): components, wiring and settings, without running it."""

import json
import os

import pytest
from tfx import v1 as tfx

from coco_captions import features
from coco_captions.pipeline import configs, pipeline, push
from coco_captions.run import session, settings, up_to_date

BEAM_ARGS = ['--runner=DirectRunner', '--direct_num_workers=2',
             '--temp_location=/tmp/beam']


def _pipeline(**kwargs):
  return pipeline.create_pipeline(
      pipeline_name='p', pipeline_root='/tmp/root', data_root='/data',
      images_root='gs://bucket/images', module_file='/m/module.py',
      serving_model_dir='/serving', train_steps=11, eval_steps=3, beam_pipeline_args=BEAM_ARGS, **kwargs)


def _by_id(p):
  return {c.id: c for c in p.components}


def _settings(component):
  """A component's custom_config less the feature names' digest."""
  config = json.loads(component.exec_properties['custom_config'])
  assert config.pop(features.DIGEST_KEY) == features.DIGEST
  return config


def test_components_in_topological_order():
  # TFX sorts the nodes; the resolver depends on nothing.
  assert [c.id for c in _pipeline().components] == [
      'CsvExampleGen', 'ImportSchemaGen', 'latest_blessed_model_resolver',
      'StatisticsGen', 'ExampleValidator', 'AnomaliesGate',
      'GroupCaptionsByImage', 'Transform', 'Trainer', 'RetrievalEvaluator',
      'Pusher']


def test_beam_args_are_handed_to_the_pipeline_unchanged():
  assert _pipeline().beam_pipeline_args == BEAM_ARGS


def test_split_hashes_image_id_four_to_one_and_reads_only_csv():
  gen = _by_id(_pipeline())['CsvExampleGen']
  output = tfx.proto.Output()
  from google.protobuf import json_format
  json_format.Parse(gen.exec_properties['output_config'], output)
  split = output.split_config
  assert split.partition_feature_name == 'image_id'
  assert [(s.name, s.hash_buckets) for s in split.splits] == [
      ('train', 4), ('eval', 1)]
  assert '"pattern": "*.csv"' in gen.exec_properties['input_config']


def test_transform_and_trainer_get_their_settings():
  components = _by_id(_pipeline(trainer_config={'batch_size': 8},
                                image_config={'image_size': 48},
                                transform_config={'max_caption_tokens': 16}))
  # Transform reads the captions alone: the size is GroupCaptionsByImage's.
  assert _settings(components['Transform']) == {'max_caption_tokens': 16}
  assert components['GroupCaptionsByImage'].exec_properties[
      'image_size'] == 48
  trainer = components['Trainer']
  assert _settings(trainer) == {'batch_size': 8, 'image_size': 48}
  assert '"num_steps": 11' in trainer.exec_properties['train_args']
  assert '"num_steps": 3' in trainer.exec_properties['eval_args']
  assert trainer.exec_properties['module_file'] == '/m/module.py'


def test_unset_settings_are_left_to_the_module_files_defaults():
  components = _by_id(pipeline.create_pipeline(
      pipeline_name='p', pipeline_root='/tmp/root', data_root='/data',
      images_root='gs://bucket/images', module_file='/m/module.py',
      serving_model_dir='/serving', trainer_config={'train_epochs': 7}))
  trainer = components['Trainer']
  assert _settings(trainer) == {'train_epochs': 7}
  assert 'num_steps' not in trainer.exec_properties['train_args']
  assert _settings(components['Transform']) == {}


def test_transform_reads_one_example_per_image():
  components = _by_id(_pipeline())
  group = components['GroupCaptionsByImage']
  assert group.inputs['examples'].producer_component_id == 'CsvExampleGen'
  # Grouping waits for the schema check of the caption rows.
  assert components['AnomaliesGate'] in group.upstream_nodes
  transform = components['Transform']
  assert transform.inputs['examples'].producer_component_id == (
      'GroupCaptionsByImage')
  assert transform.inputs['schema'].producer_component_id == (
      'GroupCaptionsByImage')
  assert components['Trainer'].inputs['schema'].producer_component_id == (
      'GroupCaptionsByImage')


def test_images_are_checked_before_transform_as_transform_reads_them():
  group = _by_id(_pipeline(image_config={'image_size': 48}))[
      'GroupCaptionsByImage']
  assert {k: group.exec_properties[k] for k in (
      'images_root', 'module_file', 'image_size', 'bad_images')} == {
          'images_root': 'gs://bucket/images', 'module_file': '/m/module.py',
          'image_size': 48, 'bad_images': 'fail'}
  assert _by_id(_pipeline())['GroupCaptionsByImage'].exec_properties[
      'image_size'] == 0  # The module file's default.
  dropping = _by_id(_pipeline(bad_images='drop'))['GroupCaptionsByImage']
  assert dropping.exec_properties['bad_images'] == 'drop'
  with pytest.raises(ValueError, match="bad_images must be one of .'fail', "
                     "'drop'., not 'skip'"):
    _pipeline(bad_images='skip')


def test_the_image_decoding_carries_the_images_fingerprint_given():
  # TFX's cache compares exec properties: ExampleGen's input fingerprint
  # covers the CSV only, which names the images but does not change with
  # them.
  def fingerprint_of(**kwargs):
    return _by_id(_pipeline(**kwargs))['GroupCaptionsByImage'].exec_properties[
        'images_fingerprint']

  assert fingerprint_of(images_fingerprint='abc') == 'abc'
  assert fingerprint_of() == ''


def test_create_pipeline_touches_no_files(tmp_path, monkeypatch):
  images = tmp_path / 'images'
  images.mkdir()
  (images / 'a.jpg').write_bytes(b'first')

  def refuse(*args, **kwargs):
    raise AssertionError(f'create_pipeline touched the filesystem: {args}')

  for name in ('scandir', 'listdir', 'stat', 'lstat', 'open'):
    monkeypatch.setattr(os, name, refuse)
  monkeypatch.setattr('builtins.open', refuse)
  p = pipeline.create_pipeline(
      pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
      data_root=str(tmp_path), images_root=str(images),
      module_file=str(tmp_path / 'module.py'), serving_model_dir='/serving',
      images_fingerprint='given')
  monkeypatch.undo()
  assert _by_id(p)['GroupCaptionsByImage'].exec_properties[
      'images_fingerprint'] == 'given'


def test_a_replaced_image_or_edited_module_changes_the_image_decoding(
    tmp_path):
  images = tmp_path / 'images'
  images.mkdir()
  (images / 'a.jpg').write_bytes(b'first')
  code = tmp_path / 'code'
  code.mkdir()
  (code / 'module.py').write_text('SIZE = 64\n')
  (code / 'encoders.py').write_text('NAME = "small_cnn"\n')
  found = settings.parse_flags(
      ['--images_root', str(images), '--module_file', str(code / 'module.py'),
       '--pipeline_root', str(tmp_path / 'root')], environ={})

  def decoding_properties():
    p = session.pipeline_for(
        found, up_to_date.directory_fingerprint(str(images)))
    component = _by_id(p)['GroupCaptionsByImage']
    # What every TFX runner does before it runs or compiles: the user code
    # becomes a wheel named by a digest of its files.
    component._resolve_pip_dependencies(str(tmp_path / 'root'))  # pylint: disable=protected-access
    return component.exec_properties

  before = decoding_properties()
  assert before['module_path'].startswith(
      f'module@{tmp_path / "root" / "_wheels"}/'
      'tfx_user_code_groupcaptionsbyimage-0.0+')
  assert before['module_file'] is None
  assert decoding_properties() == before
  (images / 'a.jpg').write_bytes(b'second!')
  after_image = decoding_properties()
  assert after_image['images_fingerprint'] != before['images_fingerprint']
  assert after_image['module_path'] == before['module_path']
  # A file beside the module file is packaged with it, and counts too.
  (code / 'encoders.py').write_text('NAME = "resnet50"\n')
  assert decoding_properties()['module_path'] != before['module_path']


@pytest.mark.parametrize('header', [
    '\ufeffimage_id,id,caption', '"image_id","id","caption"',
    '\ufeff"image_id",id,"caption"'])
def test_example_gen_reads_a_csv_with_a_byte_order_mark_or_quotes(tmp_path,
                                                                  header):
  """The executor TFX's CsvExampleGen runs, on a CSV from a spreadsheet."""
  import apache_beam as beam
  from apache_beam.testing import util
  from coco_captions.pipeline import csv_example_gen
  (tmp_path / 'captions.csv').write_bytes(
      f'{header}\n7,70,a caf\u00e9\n'.encode())
  with beam.Pipeline() as p:
    examples = p | csv_example_gen.Executor().GetInputSourceToExamplePTransform(
    )({'input_base': str(tmp_path)}, '*.csv')
    util.assert_that(
        examples | beam.Map(lambda e: (
            sorted(e.features.feature),
            e.features.feature['image_id'].int64_list.value[0],
            e.features.feature['caption'].bytes_list.value[0].decode())),
        util.equal_to([(['caption', 'id', 'image_id'], 7, 'a caf\u00e9')]))


def test_trainer_builds_the_model_for_the_size_the_images_are_stored_at():
  def image_sizes(**kwargs):
    components = _by_id(_pipeline(**kwargs))
    return [components['GroupCaptionsByImage'].exec_properties['image_size'],
            json.loads(components['Trainer'].exec_properties[
                'custom_config'])['image_size']]

  assert image_sizes(image_config={'image_size': 32}) == [32, 32]
  assert image_sizes(image_config={'image_size': 32},
                     trainer_config={'image_size': 16}) == [32, 16]


def test_trainer_builds_the_image_encoder_the_images_are_stored_for():
  components = _by_id(_pipeline(
      image_config={'image_encoder': 'mobilenet_v2'},
      trainer_config={'image_encoder_weights': '/w.h5',
                      'fine_tune_layers': 20}))
  assert components['GroupCaptionsByImage'].exec_properties[
      'image_encoder'] == 'mobilenet_v2'
  trainer = json.loads(components['Trainer'].exec_properties['custom_config'])
  assert {k: trainer[k] for k in (
      'image_encoder', 'image_encoder_weights', 'fine_tune_layers')} == {
          'image_encoder': 'mobilenet_v2', 'image_encoder_weights': '/w.h5',
          'fine_tune_layers': 20}


def test_cache_is_on_by_default():
  assert _pipeline().enable_cache
  assert not _pipeline(enable_cache=False).enable_cache


def test_evaluator_compares_with_the_latest_blessed_model():
  components = _by_id(_pipeline(blessing_metric='image_to_text_recall@1',
                                blessing_threshold=0.4))
  resolver = components['latest_blessed_model_resolver']
  assert 'LatestBlessedModelStrategy' in str(
      resolver.exec_properties['resolver_class'])
  evaluator = components['RetrievalEvaluator']
  assert evaluator.exec_properties['metric'] == 'image_to_text_recall@1'
  assert evaluator.exec_properties['threshold'] == 0.4
  assert evaluator.exec_properties['images_root'] == 'gs://bucket/images'
  assert set(evaluator.inputs) == {'examples', 'model', 'baseline_model'}
  assert evaluator.inputs['baseline_model'].producer_component_id == (
      'latest_blessed_model_resolver')
  assert evaluator.inputs['examples'].producer_component_id == 'CsvExampleGen'


def test_pusher_pushes_the_trainer_model_only_when_blessed():
  pusher = _by_id(_pipeline())['Pusher']
  assert pusher.inputs['model'].producer_component_id == 'Trainer'
  assert pusher.inputs['model_blessing'].producer_component_id == (
      'RetrievalEvaluator')
  assert '"base_directory": "/serving"' in pusher.exec_properties[
      'push_destination']
  # All or nothing (push.py), and the evaluator checks the same directory
  # for an unfinished push.
  assert pusher.executor_spec.executor_class is push.Executor
  assert _by_id(_pipeline())['RetrievalEvaluator'].exec_properties[
      'serving_model_dir'] == '/serving'


def test_data_is_checked_against_the_curated_schema_before_transform():
  components = _by_id(_pipeline())
  schema_gen = components['ImportSchemaGen']
  assert schema_gen.exec_properties['schema_file'] == configs.SCHEMA_FILE
  validator = components['ExampleValidator']
  assert validator.inputs['schema'].producer_component_id == 'ImportSchemaGen'
  gate = components['AnomaliesGate']
  assert gate.inputs['anomalies'].producer_component_id == 'ExampleValidator'
  # Grouping and so Transform wait for the gate, though they consume none of
  # its outputs.
  assert gate in components['GroupCaptionsByImage'].upstream_nodes


def test_example_gen_carries_the_data_fingerprint_given():
  # TFX's cache then re-reads CSV files rewritten with their size and
  # modification time restored, which its own fingerprint misses.
  from google.protobuf import wrappers_pb2
  from tfx.proto import example_gen_pb2
  from tfx.utils import proto_utils
  example_gen = _by_id(_pipeline(data_fingerprint='abc'))['CsvExampleGen']
  config = proto_utils.json_to_proto(
      example_gen.exec_properties['custom_config'],
      example_gen_pb2.CustomConfig())
  value = wrappers_pb2.StringValue()
  assert config.custom_config.Unpack(value) and value.value == 'abc'
  assert not _by_id(_pipeline())['CsvExampleGen'].exec_properties.get(
      'custom_config')


def test_an_edit_to_the_feature_names_reruns_the_components_using_them(
    tmp_path, monkeypatch):
  # TFX's cache key is the exec properties; features.py is outside the
  # user-code wheel whose digest covers the module file.
  def digests():
    components = _by_id(_pipeline())
    return (components['GroupCaptionsByImage'].exec_properties[
        'features_digest'],
            *(json.loads(components[c].exec_properties['custom_config'])[
                features.DIGEST_KEY] for c in ('Transform', 'Trainer')))

  assert digests() == (features.DIGEST,) * 3
  assert len(features.DIGEST) == 64
  edited = tmp_path / 'features.py'
  with open(features.__file__) as f:
    edited.write_text(f.read().replace("CAPTIONS = 'captions'",
                                       "CAPTIONS = 'caption_texts'"))
  monkeypatch.setattr(features, 'DIGEST',
                      features.source_digest(str(edited)))
  assert features.DIGEST != features.source_digest()
  assert digests() == (features.DIGEST,) * 3
