"""What a pipeline run did, read back from ML Metadata.

`summarize_run` finds the latest run of a pipeline in the metadata store and
returns, per component, its execution state, wall time and output artifacts,
plus the row counts (from StatisticsGen) and the retrieval metrics (from the
Trainer's model run). `format_summary` turns that into the few lines the CLI
prints at the end of a run.
"""

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

# What run_fn (coco_captions_utils.py) writes beside its TensorBoard logs.
TRAINING_FILE = 'training.json'

_PIPELINE_CONTEXT = 'pipeline'
RUN_CONTEXT = 'pipeline_run'
_NODE_CONTEXT = 'node'


@dataclasses.dataclass
class ComponentRun:
  """One component's execution in a run."""
  component_id: str
  execution_id: int
  state: str  # COMPLETE, CACHED, FAILED, RUNNING...
  seconds: float
  # Output key -> artifact URIs.
  outputs: Dict[str, List[str]]
  # Output key -> custom properties of each artifact, in the same order.
  output_properties: Dict[str, List[Dict[str, Any]]] = dataclasses.field(
      default_factory=dict)


@dataclasses.dataclass
class RunSummary:
  pipeline_name: str
  run_id: str
  components: List[ComponentRun]
  # Split name -> number of examples (captions).
  split_counts: Dict[str, int]
  # The Trainer's plan and losses (run_fn's training.json), or None when
  # there is no trained model.
  training: Optional[Dict[str, Any]]
  anomalies: Dict[str, List[str]]
  # Split name -> number of images (GroupCaptionsByImage's counts).
  image_counts: Dict[str, int] = dataclasses.field(default_factory=dict)
  # RetrievalEvaluator's metrics, blessing and Pusher's result.
  evaluation: Optional[Dict[str, Any]] = None
  blessing: Optional[Dict[str, Any]] = None
  pushed: Optional[Dict[str, Any]] = None

  def component(self, component_id: str) -> ComponentRun:
    for component in self.components:
      if component.component_id == component_id:
        return component
    raise KeyError(f'No execution of {component_id} in run {self.run_id}')

  def output(self, component_id: str, key: str) -> Optional[str]:
    uris = self.component(component_id).outputs.get(key) or []
    return uris[0] if uris else None

  def properties(self, component_id: str, key: str) -> Optional[Dict[str, Any]]:
    """Custom properties of a component's (first) output artifact."""
    found = self.component(component_id).output_properties.get(key) or []
    return found[0] if found else None


def connect(metadata_path: str,
            read_only: bool = True) -> metadata_store.MetadataStore:
  """The SQLite ML Metadata store at `metadata_path`."""
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE)
  return metadata_store.MetadataStore(config)


def component_ids(store, pipeline_name: str) -> Dict[int, str]:
  """Execution id -> id of the component (node) of `pipeline_name` it ran."""
  prefix = pipeline_name + '.'
  component_of = {}
  for node in store.get_contexts_by_type(_NODE_CONTEXT):
    if node.name.startswith(prefix):
      for execution in store.get_executions_by_context(node.id):
        component_of[execution.id] = node.name[len(prefix):]
  return component_of


def _context(store, type_name: str, name: str):
  context = store.get_context_by_type_and_name(type_name, name)
  if context is None:
    raise LookupError(f'No {type_name} {name!r} in ML Metadata')
  return context


def latest_run_id(store, pipeline_name: str) -> str:
  """The most recent run of `pipeline_name` recorded in the store."""
  pipeline = _context(store, _PIPELINE_CONTEXT, pipeline_name)
  pipeline_executions = {
      e.id for e in store.get_executions_by_context(pipeline.id)}
  runs = [
      run for run in store.get_contexts_by_type(RUN_CONTEXT)
      if pipeline_executions & {
          e.id for e in store.get_executions_by_context(run.id)}
  ]
  if not runs:
    raise LookupError(f'Pipeline {pipeline_name!r} has no runs in ML Metadata')
  return max(runs, key=lambda c: (c.create_time_since_epoch, c.id)).name


def component_runs(store, pipeline_name: str, run_id: str) -> List[ComponentRun]:
  """The executions of run `run_id`, in the order they started."""
  run = _context(store, RUN_CONTEXT, run_id)
  executions = {e.id: e for e in store.get_executions_by_context(run.id)}
  node_of = component_ids(store, pipeline_name)
  outputs: Dict[int, Dict[str, List[str]]] = {i: {} for i in executions}
  events = store.get_events_by_execution_ids(list(executions))
  artifact_ids = [
      e.artifact_id for e in events
      if e.type == metadata_store_pb2.Event.OUTPUT]
  artifacts = {a.id: a for a in store.get_artifacts_by_id(artifact_ids)}
  properties: Dict[int, Dict[str, List[Dict[str, Any]]]] = {
      i: {} for i in executions}
  for event in events:
    if event.type == metadata_store_pb2.Event.OUTPUT and event.path.steps:
      key = event.path.steps[0].key
      artifact = artifacts[event.artifact_id]
      outputs[event.execution_id].setdefault(key, []).append(artifact.uri)
      properties[event.execution_id].setdefault(key, []).append(
          custom_properties(artifact))
  result = []
  for execution in sorted(executions.values(),
                          key=lambda e: (e.create_time_since_epoch, e.id)):
    result.append(ComponentRun(
        component_id=node_of.get(execution.id, execution.type),
        execution_id=execution.id,
        state=metadata_store_pb2.Execution.State.Name(
            execution.last_known_state),
        seconds=(execution.last_update_time_since_epoch -
                 execution.create_time_since_epoch) / 1000.0,
        outputs=outputs[execution.id],
        output_properties=properties[execution.id]))
  return result


def custom_properties(node) -> Dict[str, Any]:
  """The scalar custom properties of an MLMD artifact or execution."""
  values = {}
  for name, value in node.custom_properties.items():
    kind = value.WhichOneof('value')
    if kind in ('int_value', 'double_value', 'string_value'):
      values[name] = getattr(value, kind)
  return values


def _gfile():
  import tensorflow as tf  # Only for artifact URIs such as gs://.
  return tf.io.gfile


def split_dirs(uri: str) -> Dict[str, str]:
  """Split name -> directory of an artifact with Split-* subdirectories."""
  if not uri:
    return {}
  if '://' in uri:
    names = [n.rstrip('/') for n in _gfile().listdir(uri)]
  elif os.path.isdir(uri):
    names = os.listdir(uri)
  else:
    return {}
  return {
      name[len('Split-'):]: os.path.join(uri, name)
      for name in sorted(names) if name.startswith('Split-')
  }


def _read_bytes(path: str) -> bytes:
  if '://' in path:
    with _gfile().GFile(path, 'rb') as f:
      return f.read()
  with open(path, 'rb') as f:
    return f.read()


def split_counts(statistics_uri: Optional[str]) -> Dict[str, int]:
  """Examples per split, from StatisticsGen's output."""
  from tensorflow_metadata.proto.v0 import statistics_pb2
  counts = {}
  for split, path in split_dirs(statistics_uri).items():
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString(_read_bytes(os.path.join(path, 'FeatureStats.pb')))
    counts[split] = sum(d.num_examples for d in stats.datasets)
  return counts


def anomalies(anomalies_uri: Optional[str]) -> Dict[str, List[str]]:
  """Split -> 'feature: description' for each anomaly ExampleValidator found."""
  from tensorflow_metadata.proto.v0 import anomalies_pb2
  found = {}
  for split, path in split_dirs(anomalies_uri).items():
    result = anomalies_pb2.Anomalies()
    result.ParseFromString(_read_bytes(os.path.join(path, 'SchemaDiff.pb')))
    found[split] = [
        f'{feature}: {info.description or info.short_description}'
        for feature, info in sorted(result.anomaly_info.items())
    ]
    if result.HasField('dataset_anomaly_info'):
      found[split].append(
          f'dataset: {result.dataset_anomaly_info.description}')
  return found


def training(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  """The Trainer's plan and losses, or None where it wrote none."""
  if not model_run_uri:
    return None
  path = os.path.join(model_run_uri, TRAINING_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def summarize_run(metadata_path: str, pipeline_name: str,
                  run_id: Optional[str] = None) -> RunSummary:
  """Summary of run `run_id` (default: the latest) of `pipeline_name`."""
  store = connect(metadata_path)
  run_id = run_id or latest_run_id(store, pipeline_name)
  components = component_runs(store, pipeline_name, run_id)
  summary = RunSummary(pipeline_name, run_id, components, {}, None, {})
  by_id = {c.component_id: c for c in components}
  if 'StatisticsGen' in by_id:
    summary.split_counts = split_counts(
        summary.output('StatisticsGen', 'statistics'))
  if 'ExampleValidator' in by_id:
    summary.anomalies = anomalies(
        summary.output('ExampleValidator', 'anomalies'))
  if 'GroupCaptionsByImage' in by_id:
    found = summary.properties('GroupCaptionsByImage', 'image_examples') or {}
    summary.image_counts = {
        split: int(found[f'{split}_images'])
        for split in summary.split_counts if f'{split}_images' in found}
  if 'Trainer' in by_id:
    summary.training = training(summary.output('Trainer', 'model_run'))
  if 'RetrievalEvaluator' in by_id:
    summary.evaluation = summary.properties('RetrievalEvaluator', 'evaluation')
    summary.blessing = summary.properties('RetrievalEvaluator', 'blessing')
  if 'Pusher' in by_id:
    summary.pushed = summary.properties('Pusher', 'pushed_model')
  return summary


def _recalls(metrics: Dict[str, Any], direction: str) -> str:
  return ', '.join(
      f'R@{k} {metrics[f"{direction}_recall@{k}"]:.3f} '
      f'(chance {metrics[f"{direction}_chance@{k}"]:.3f})'
      for k in (1, 5, 10) if f'{direction}_recall@{k}' in metrics)


def _evaluation_lines(summary: RunSummary) -> List[str]:
  lines = []
  e, b = summary.evaluation, summary.blessing
  if e:
    lines.append(
        f'Evaluation of the exported model on {int(e["num_images"])} eval '
        f'images and their {int(e["num_captions"])} captions:')
    lines.append(f'  text to image: {_recalls(e, "text_to_image")}')
    lines.append(f'  image to text: {_recalls(e, "image_to_text")}')
  unchanged = bool(b) and b.get('baseline_model_id') == b.get('current_model_id')
  if unchanged:
    lines.append(f'Model unchanged: {b.get("reason", "")}')
  elif b:
    verdict = 'BLESSED' if b.get('blessed') == 1 else 'NOT BLESSED'
    lines.append(f'Model {verdict}: {b.get("reason", "")}')
  p = summary.pushed
  if p and p.get('pushed') == 1:
    lines.append(f'{"Pushed to:":<20} {p.get("pushed_destination")}')
  elif unchanged:
    lines.append('Not pushed again: the serving directory already has it.')
  elif b:
    lines.append('Not pushed: the model is kept as an artifact only.')
  return lines


def _encoder_lines(training: Dict[str, Any]) -> List[str]:
  """A pretrained image encoder's weights and training phases; nothing for
  the small CNN (or a training.json from before encoders)."""
  phases = training.get('phases') or []
  if not any(p['phase'] != 'train' for p in phases):
    return []
  lines = [f'Image encoder: {training["image_encoder"]} at '
           f'{training["image_size"]} px, weights '
           f'{training["image_encoder_weights"]}']
  for p in phases:
    first, last = p['keras_epochs']
    lines.append(f'  {p["phase"]}: Keras epochs {first}-{last}, {p["steps"]} '
                 f'steps at learning rate {p["learning_rate"]:g}; frozen: '
                 f'{p["frozen"]}')
  return lines


def format_summary(summary: RunSummary, metadata_path: str,
                   log_path: Optional[str] = None) -> str:
  """A few lines a person can act on: outputs, counts, metrics, timings."""
  lines = [f'Pipeline {summary.pipeline_name}, run {summary.run_id}']
  total = sum(c.seconds for c in summary.components)
  width = max([len('component')] +
              [len(c.component_id) for c in summary.components])
  lines.append(f'  {"component":<{width}} {"status":<9} {"seconds":>8}')
  for c in summary.components:
    lines.append(
        f'  {c.component_id:<{width}} {c.state.lower():<9} {c.seconds:>8.1f}')
  lines.append(f'  {"total":<{width}} {"":<9} {total:>8.1f}')

  if summary.split_counts:
    counts = ', '.join(f'{n} {split}' for split, n in summary.split_counts.items())
    lines.append(f'Rows (captions): {counts}')
  if summary.anomalies:
    found = [f'{split}: {a}' for split, items in summary.anomalies.items()
             for a in items]
    lines.append('Data anomalies: ' + ('none' if not found else ''))
    lines.extend(f'  {a}' for a in found)

  if summary.image_counts:
    counts = ', '.join(f'{n} {split}'
                       for split, n in summary.image_counts.items())
    lines.append(f'Images: {counts}')
  t = summary.training
  if t:
    lines.append(
        f'Trainer: {t["epochs"]:g} epochs over {t["train_images"]} train '
        f'images, {t["steps"]} steps of {t["batch_size"]} distinct images, '
        f'in {t["seconds"]:.0f} s')
    lines.append(f'Loss: train {t["loss"][-1]:.3f}, eval {t["eval_loss"][-1]:.3f}'
                 f' (first epoch: train {t["loss"][0]:.3f})')
    lines.extend(_encoder_lines(t))
  lines.extend(_evaluation_lines(summary))

  where = [
      ('Model (SavedModel)', summary.output('Trainer', 'model'), 'Format-Serving'),
      ('TensorBoard logs', summary.output('Trainer', 'model_run'), ''),
      ('Transform graph', summary.output('Transform', 'transform_graph'), ''),
      ('Schema', summary.output('ImportSchemaGen', 'schema'), ''),
  ] if 'Trainer' in {c.component_id for c in summary.components} else []
  for label, uri, sub in where:
    if uri:
      lines.append(f'{label + ":":<20} {os.path.join(uri, sub) if sub else uri}')
  lines.append(f'{"ML Metadata:":<20} {metadata_path}')
  if log_path:
    lines.append(f'{"Log:":<20} {log_path}')
  return '\n'.join(lines)
