"""The launcher the Airflow DAG uses records an artifact bound twice once."""

import pytest

from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import data_types
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

from coco_captions.run import airflow_launcher


def _register_model_twice(handle, tmp_path):
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  with handle:
    [model.mlmd_artifact.id] = handle.store.put_artifacts(
        [_typed(handle, model)])
    pipeline_info = data_types.PipelineInfo('p', str(tmp_path), run_id='r1')
    component_info = data_types.ComponentInfo(
        'RetrievalEvaluator', 'RetrievalEvaluator', pipeline_info)
    contexts = handle.register_pipeline_contexts_if_not_exists(pipeline_info)
    execution = handle.register_execution(
        pipeline_info=pipeline_info, component_info=component_info,
        contexts=contexts,
        input_artifacts={'model': [model], 'baseline_model': [model]})
    return handle.store.get_events_by_execution_ids([execution.id])


def _typed(handle, artifact):
  # pylint: disable-next=protected-access
  artifact.set_mlmd_artifact_type(handle._prepare_artifact_type(
      artifact.artifact_type))
  return artifact.mlmd_artifact


def test_tfx_legacy_metadata_fails_on_an_artifact_bound_twice(tmp_path):
  # The TFX behaviour the launcher exists for; if TFX fixes it, this fails
  # and the launcher can go.
  config = metadata.sqlite_metadata_connection_config(str(tmp_path / 'm.db'))
  with pytest.raises(AssertionError):
    _register_model_twice(metadata.Metadata(config), tmp_path)


def test_one_input_event_lists_both_keys(tmp_path):
  config = metadata.sqlite_metadata_connection_config(str(tmp_path / 'm.db'))
  # pylint: disable-next=protected-access
  handle = airflow_launcher._OneEventPerArtifactMetadata(config)
  [event] = _register_model_twice(handle, tmp_path)
  assert event.type == metadata_store_pb2.Event.INPUT
  steps = [s.key or s.index for s in event.path.steps]
  assert steps == ['model', 0, 'baseline_model', 0]


def test_the_images_are_fingerprinted_when_the_task_runs(tmp_path):
  # Airflow parses the DAG file every 30 s: the DAG holds no fingerprint,
  # the launcher of GroupCaptionsByImage's task takes it.
  from coco_captions.pipeline import pipeline
  from coco_captions.run import up_to_date
  images = tmp_path / 'images'
  images.mkdir()
  (images / 'a.jpg').write_bytes(b'first')
  components = {c.id: c for c in pipeline.create_pipeline(
      pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
      data_root=str(tmp_path), images_root=str(images),
      module_file=str(tmp_path / 'module.py'),
      serving_model_dir=str(tmp_path / 'serving')).components}
  config = metadata.sqlite_metadata_connection_config(str(tmp_path / 'm.db'))

  def launched(component):
    return airflow_launcher.InProcessComponentLauncher(
        component=component,
        pipeline_info=data_types.PipelineInfo('p', str(tmp_path), run_id='r'),
        driver_args=data_types.DriverArgs(enable_cache=True),
        metadata_connection=metadata.Metadata(config),
        beam_pipeline_args=[], additional_pipeline_args={})

  grouping = components['GroupCaptionsByImage']
  assert grouping.exec_properties['images_fingerprint'] == ''
  # pylint: disable=protected-access
  assert launched(grouping)._exec_properties['images_fingerprint'] == (
      up_to_date.directory_fingerprint(str(images)))
  (images / 'a.jpg').write_bytes(b'second!')
  assert launched(grouping)._exec_properties['images_fingerprint'] == (
      up_to_date.directory_fingerprint(str(images)))
  assert grouping.exec_properties['images_fingerprint'] == ''
  # And the CSV files, for CsvExampleGen (its own fingerprint is sizes and
  # modification times, which a rewrite can restore).
  (tmp_path / 'a.csv').write_text('image_id,caption\n1,x\n')
  example_gen = components['CsvExampleGen']
  config = launched(example_gen)._exec_properties['custom_config']
  from coco_captions.pipeline import csv_example_gen
  assert config == csv_example_gen.data_fingerprint_config(
      up_to_date.data_fingerprint(str(tmp_path), '*.csv'))
  # Other components are launched as they are.
  transform = components['Transform']
  assert launched(transform)._exec_properties == transform.exec_properties


def test_a_failed_task_is_recorded_failed_with_why(tmp_path):
  # TFX's older launchers leave a failed execution RUNNING and keep no
  # reason: the report would show the component as running.
  from coco_captions.reporting import mlmd as mlmd_reader
  from coco_captions.pipeline import pipeline
  from coco_captions.reporting import run_record
  from coco_captions.run import preflight
  data = tmp_path / 'data'
  data.mkdir()
  (data / 'a.csv').write_bytes(b'image_id,caption\n1,caf\xe9\n')
  components = {c.id: c for c in pipeline.create_pipeline(
      pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
      data_root=str(data), images_root=str(tmp_path),
      module_file=str(tmp_path / 'module.py'),
      serving_model_dir=str(tmp_path / 'serving')).components}
  path = str(tmp_path / 'm.db')
  launcher = airflow_launcher.InProcessComponentLauncher(
      component=components['CsvExampleGen'],
      pipeline_info=data_types.PipelineInfo('p', str(tmp_path / 'root'),
                                            run_id='manual__1'),
      driver_args=data_types.DriverArgs(enable_cache=True),
      metadata_connection=metadata.Metadata(
          metadata.sqlite_metadata_connection_config(path)),
      beam_pipeline_args=[], additional_pipeline_args={})
  with pytest.raises(preflight.PreflightError):
    launcher.launch()
  record = run_record.read_run(mlmd_reader.connect(path), 'p')
  assert [(c.component_id, c.state) for c in record.components] == [
      ('CsvExampleGen', 'FAILED')]
  assert record.failure == (
      'error: ' + f'{data / "a.csv"} line 2: byte 0xe9 at column 6 is not '
      'UTF-8 (the CSV files must be UTF-8)\n'
      'Nothing after CsvExampleGen ran. Fix the CSV files.')
