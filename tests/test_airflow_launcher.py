"""The launcher the Airflow DAG uses records an artifact bound twice once."""

import pytest

from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import data_types
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

from coco_captions import airflow_launcher


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
