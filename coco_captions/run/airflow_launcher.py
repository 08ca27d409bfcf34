"""The component launcher coco_captions_airflow.py hands TFX's Airflow runner.

TFX 1.16's AirflowDagRunner still launches components through the legacy
launchers, which record one ML Metadata input event per (input key, artifact).
When one artifact feeds two inputs of the same execution, the second event
breaks MLMD's one-event-per-(artifact, execution, type) rule and the task fails
(tensorflow/tfx#5193). Here that happens on every re-run that retrains nothing:
the Trainer's cached model is both RetrievalEvaluator's `model` and, being
the latest blessed model, its `baseline_model`.

The fix is what TFX's own IR-based launchers do: one event per artifact, whose
path lists every (key, index) it is bound to.

The launcher also takes the fingerprint of a local images root when the task
runs, not when Airflow parses the DAG file (every 30 s or so): it is an exec
property of GroupCaptionsByImage, so that TFX's cache notices an image
replaced in place, and of the CSV files for CsvExampleGen's (its own
fingerprint is sizes and modification times only). And when a component
fails, it records why in ML Metadata, as the local runners do, and marks the
execution FAILED, which TFX's older launchers leave RUNNING: the run report
says which component failed and why.
"""

from typing import Dict, List, Optional, Set

from tfx.orchestration import metadata
from tfx.orchestration.launcher import in_process_component_launcher
from tfx.types import Artifact

from coco_captions.pipeline import configs, csv_example_gen
from coco_captions.reporting import mlmd
from coco_captions.run import session, up_to_date


class _OneEventPerArtifactMetadata(metadata.Metadata):
  """ML Metadata handle that merges the events of an artifact bound twice.

  Overrides the legacy handle's private method that pairs each artifact of an
  execution with its event: the one place those events are made.
  """

  def _artifact_and_event_pairs(
      self,
      artifact_dict: Dict[str, List[Artifact]],
      event_type,
      new_state: Optional[str] = None,
      registered_artifacts_ids: Optional[Set[int]] = None):
    pairs = super()._artifact_and_event_pairs(
        artifact_dict, event_type, new_state, registered_artifacts_ids)
    merged, event_of = [], {}
    for pair in pairs:
      artifact = pair[0]
      event = pair[1] if len(pair) > 1 else None
      if event is not None and artifact.id and artifact.id in event_of:
        event_of[artifact.id].path.steps.extend(event.path.steps)
        continue
      if event is not None and artifact.id:
        event_of[artifact.id] = event
      merged.append(pair)
    return merged


class InProcessComponentLauncher(
    in_process_component_launcher.InProcessComponentLauncher):
  """TFX's in-process launcher, recording one input event per artifact,
  fingerprinting the images when the task runs and recording failures."""

  def __init__(self, *, component, metadata_connection: metadata.Metadata,
               **kwargs):
    super().__init__(
        component=component,
        metadata_connection=_OneEventPerArtifactMetadata(
            metadata_connection.connection_config), **kwargs)
    if self._exec_properties.get('images_fingerprint') == '':
      self._exec_properties = dict(
          self._exec_properties,
          images_fingerprint=up_to_date.directory_fingerprint(
              self._exec_properties['images_root']) or '')
    if isinstance(component, csv_example_gen.CsvExampleGen):
      data = up_to_date.data_fingerprint(
          self._exec_properties['input_base'], configs.CSV_PATTERN)
      if data:
        self._exec_properties = dict(
            self._exec_properties,
            custom_config=csv_example_gen.data_fingerprint_config(data))

  def launch(self):
    try:
      return super().launch()
    except Exception as e:
      component = self._component_info.component_id
      lines = session.failure_lines(component, e, 'the curated schema')
      with self._metadata_connection as handle:
        mlmd.record_failure(handle.store, self._pipeline_info.pipeline_name,
                            self._pipeline_info.run_id, component,
                            '\n'.join(lines))
      raise
