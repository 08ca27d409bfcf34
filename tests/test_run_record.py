"""The read model on hand-built ML Metadata stores, in both of TFX's layouts."""

import hashlib
import json

import pytest

import hand_built_mlmd as hb
from coco_captions.reporting import mlmd, run_record

LAYOUTS = ('ir', 'airflow')


@pytest.fixture(params=LAYOUTS)
def two_runs(request, tmp_path):
  """(store, ids, layout): run-1 complete and pushed, run-2 cached."""
  built = hb.HandBuiltStore(hb.in_memory_store(), request.param)
  return built.store, hb.two_runs(built, str(tmp_path)), request.param


def test_runs_are_found_oldest_first_in_either_layout(two_runs):
  store, _, layout = two_runs
  found = mlmd.runs(store, 'p')
  assert [(r.run_id, r.layout) for r in found] == [
      ('run-1', layout), ('run-2', layout)]
  assert mlmd.runs(store, 'other') == []
  assert mlmd.find_run(store, 'p').run_id == 'run-2'


def test_a_run_reads_back_as_recorded(two_runs):
  store, ids, layout = two_runs
  record = run_record.read_run(store, 'p', 'run-1')
  assert record.layout == layout
  assert [(c.component_id, c.state) for c in record.components] == [
      (c, 'COMPLETE') for c in (
          'CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen',
          'ExampleValidator', 'GroupCaptionsByImage', 'Transform', 'Trainer',
          'RetrievalEvaluator', 'Pusher')]
  assert record.component('Trainer').execution_id == ids['Trainer-1']
  assert record.split_counts == hb.SPLIT_COUNTS
  assert list(record.split_counts) == ['eval', 'train']
  assert record.image_counts == hb.IMAGE_COUNTS
  assert record.anomalies == {'eval': [hb.EVAL_ANOMALY], 'train': []}
  assert record.training == hb.TRAINING
  assert record.evaluation == hb.EVALUATION
  assert record.verdict == run_record.Verdict(
      'blessed', 'text_to_image_recall@5 0.750 clears the threshold 0.300')
  assert record.verdict.label == 'BLESSED' and record.verdict.ok
  assert record.was_pushed and record.pushed['pushed_version'] == (
      hb.PUSHED_VERSION)
  assert record.status == 'complete' and record.failed == []
  assert record.output('Trainer', 'model_run').endswith('model_run')
  assert record.output('Evaluator', 'evaluation') is None


def test_parameters_read_the_same_in_both_layouts(two_runs):
  store, _, _ = two_runs
  record = run_record.read_run(store, 'p')
  assert record.settings() == {
      'train_steps': 5, 'blessing_metric': 'text_to_image_recall@5',
      'blessing_threshold': 0.3, 'eval_images': 1000}
  assert record.fingerprints() == {
      'data': hashlib.sha256(hb.INPUT_FINGERPRINT.encode()).hexdigest()[:12],
      'images': 'f' * 12, 'code': hb.CODE_DIGEST[:12]}
  assert record.parameters('RetrievalEvaluator')['images_root'] == (
      '/data/images')
  assert record.parameters('Absent') == {}


def test_a_cached_run_is_unchanged_and_points_at_the_run_that_made_it(
    two_runs):
  store, ids, _ = two_runs
  record = run_record.read_run(store, 'p')
  assert record.run_id == 'run-2'
  assert record.component('Trainer').state == 'CACHED'
  assert record.verdict.name == 'unchanged' and record.verdict.ok
  assert not record.was_pushed
  trainer = next(r for r in record.lineage if r.component == 'Trainer')
  assert (trainer.state, trainer.execution_id) == ('CACHED', ids['Trainer-2'])
  assert [(r.key, r.type_name, r.artifact_id, r.made_in_run)
          for r in trainer.outputs] == [
              ('model', 'Model', ids['model'], 'run-1'),
              ('model_run', 'ModelRun', ids['model_run'], 'run-1')]
  pusher = next(r for r in record.lineage if r.component == 'Pusher')
  assert [(r.key, r.made_in_run) for r in pusher.outputs] == [
      ('pushed_model', 'run-2')]
  first = run_record.read_run(store, 'p', 'run-1')
  assert {r.made_in_run for row in first.lineage for r in row.outputs} == {
      'run-1'}


def test_a_failed_run_says_which_component(tmp_path):
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  run = built.run('r')
  built.execute(run, 'CsvExampleGen', 'COMPLETE',
                outputs=[('examples', built.artifact('Examples', '/x'))])
  schema = built.artifact('Schema', '/s')
  built.execute(run, 'Trainer', 'FAILED', inputs=[('schema', schema)])
  record = run_record.read_run(built.store, 'p')
  # Nothing in this store made the schema: unknown, not guessed.
  assert [(r.key, r.made_in_run) for r in record.lineage[1].inputs] == [
      ('schema', '')]
  assert record.failed == ['Trainer']
  assert record.status == 'Trainer did not complete'
  assert record.evaluation is None and record.verdict is None
  assert record.split_counts == {} and record.training is None


@pytest.mark.parametrize('layout', ['ir', 'airflow'])
def test_a_failed_run_keeps_why_it_failed(layout):
  # The local runners' session and the Airflow launcher record what the
  # console said; TFX's older launchers leave the failed execution RUNNING.
  built = hb.HandBuiltStore(hb.in_memory_store(), layout)
  run = built.run('r')
  built.execute(run, 'CsvExampleGen', 'COMPLETE')
  built.execute(run, 'Trainer', 'RUNNING')
  assert run_record.read_run(built.store, 'p').failure == ''
  message = 'error: Trainer failed: OSError: no ImageNet weights here'
  mlmd.record_failure(built.store, 'p', 'r', 'Trainer', message)
  record = run_record.read_run(built.store, 'p')
  assert record.failure == message
  assert [(c.component_id, c.state) for c in record.components] == [
      ('CsvExampleGen', 'COMPLETE'), ('Trainer', 'FAILED')]
  if layout == 'airflow':
    (trainer,) = [e for e in built.store.get_executions()
                  if e.properties['component_id'].string_value == 'Trainer']
    assert trainer.properties['state'].string_value == 'failed'


def test_missing_pipeline_or_run_is_a_lookup_error():
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  with pytest.raises(LookupError, match="has no runs"):
    run_record.read_run(built.store, 'p')
  built.run('run-1')
  with pytest.raises(LookupError, match="No pipeline 'q'"):
    run_record.read_run(built.store, 'q')
  built.execute(built.run('run-2'), 'CsvExampleGen')
  with pytest.raises(LookupError, match="No run 'run-3'"):
    run_record.read_run(built.store, 'p', 'run-3')


def test_an_artifact_read_under_two_keys_keeps_both():
  # The Airflow runner records the baseline model as `model` and
  # `baseline_model` in one event when they are the same artifact.
  from ml_metadata.proto import metadata_store_pb2 as pb
  event = pb.Event(path=pb.Event.Path(steps=[
      pb.Event.Path.Step(key='model'), pb.Event.Path.Step(index=0),
      pb.Event.Path.Step(key='baseline_model'), pb.Event.Path.Step(index=0)]))
  assert mlmd.event_key(event) == 'model, baseline_model'


@pytest.mark.parametrize('blessing, name, label', [
    ({'blessed': 1, 'current_model_id': 3, 'reason': 'r'}, 'blessed',
     'BLESSED'),
    ({'blessed': 0, 'current_model_id': 3, 'reason': 'r'}, 'not blessed',
     'NOT BLESSED'),
    ({'blessed': 0, 'current_model_id': 3, 'baseline_model_id': 3,
      'reason': 'r'}, 'unchanged', 'unchanged'),
    ({'blessed': 1, 'current_model_id': 4, 'baseline_model_id': 3,
      'reason': 'r'}, 'blessed', 'BLESSED'),
    # The latest blessed model blessed again: its push did not finish.
    ({'blessed': 1, 'current_model_id': 3, 'baseline_model_id': 3,
      'reason': 'r'}, 'blessed', 'BLESSED'),
])
def test_verdict(blessing, name, label):
  found = run_record.verdict(blessing)
  assert (found.name, found.label, found.reason) == (name, label, 'r')
  assert found.ok == (name != 'not blessed')
  assert run_record.verdict(None) is None


def test_recalls_are_formatted_once_with_their_chance():
  found = run_record.recalls(hb.EVALUATION)
  assert [(r.direction, r.k) for r in found] == [
      ('text_to_image', 1), ('text_to_image', 5), ('image_to_text', 1)]
  r5 = found[1]
  assert (r5.value_text, r5.chance_text, r5.lift_text) == (
      '0.750', '0.500', '1.5×')
  assert run_record.recalls(hb.EVALUATION, 'image_to_text')[0].lift_text == (
      '2.5×')
  assert run_record.recalls(None) == []


@pytest.mark.parametrize('layout', LAYOUTS)
def test_runs_from_before_grouping_decoded_the_images_still_read(layout):
  # Then Transform read the images and its custom_config carried their root
  # and fingerprint; the run history reads such runs from the same store.
  built = hb.HandBuiltStore(hb.in_memory_store(), layout)
  run = built.run('old')
  built.execute(run, 'GroupCaptionsByImage')
  built.execute(run, 'Transform', parameters={'custom_config': json.dumps(
      {'images_fingerprint': 'e' * 64, 'images_root': '/old/images'})})
  record = run_record.read_run(built.store, 'p', 'old')
  assert record.fingerprints() == {'images': 'e' * 12}
  assert record.images_root == '/old/images'


@pytest.mark.parametrize('layout', LAYOUTS)
def test_the_images_root_is_grouping_s_where_no_evaluator_ran(layout):
  built = hb.HandBuiltStore(hb.in_memory_store(), layout)
  run = built.run('stopped')
  built.execute(run, 'GroupCaptionsByImage',
                parameters={'images_root': '/new/images'})
  built.execute(run, 'Transform', state='FAILED')
  record = run_record.read_run(built.store, 'p', 'stopped')
  assert record.images_root == '/new/images'


def test_a_baseline_trained_on_other_data_is_said_so():
  from coco_captions.reporting import run_summary
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  models = {}
  for run_id, data_root in (('r1', '/bundled'), ('r2', '/mine')):
    run = built.run(run_id)
    examples = built.artifact('Examples', f'{data_root}/examples',
                              input_fingerprint=f'files of {data_root}')
    built.execute(run, 'CsvExampleGen', outputs=[('examples', examples)],
                  parameters={'input_base': data_root,
                              'input_fingerprint': f'files of {data_root}'})
    models[run_id] = built.artifact('Model', f'{data_root}/model')
    built.execute(run, 'Trainer', outputs=[('model', models[run_id])])
    blessing = built.artifact(
        'ModelBlessing', f'{data_root}/blessing', blessed=1,
        current_model_id=models[run_id], reason='clears the threshold',
        **({'baseline_model_id': models['r1']} if run_id == 'r2' else {}))
    built.execute(run, 'RetrievalEvaluator',
                  inputs=[('model', models[run_id])],
                  outputs=[('blessing', blessing)])
  first = run_record.read_run(built.store, 'p', 'r1')
  second = run_record.read_run(built.store, 'p', 'r2')
  assert first.baseline is None and first.baseline_on_other_data is None
  assert second.baseline == run_record.BaselineData(
      'r1', '/bundled', first.fingerprints()['data'])
  assert second.baseline_on_other_data == second.baseline
  note = run_summary.render(second, '/m.sqlite', None).splitlines()
  assert (f'Note: the latest blessed model it was compared with was trained '
          f'in run r1 on other data: /bundled (data '
          f'{first.fingerprints()["data"]}; this run: '
          f'{second.fingerprints()["data"]}).') in note
