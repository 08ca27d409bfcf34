"""The read model: pipeline runs, read from ML Metadata and their artifacts.

`read_run` returns a `RunRecord`: each component's execution (state, time,
parameters, outputs), the row and image counts, the anomalies, the Trainer's
plan and losses, the evaluation, the blessing verdict, what was pushed and the
lineage of every artifact. `read_history` reads every run of a pipeline. The
console summary (run_summary) and the HTML report (report) render one record;
the run history page (run_history) renders them all. Both of TFX's metadata
layouts are read (see mlmd).
"""

import dataclasses
import datetime
import hashlib
import json
import os
import re
from typing import Any, Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from coco_captions import features
from coco_captions import artifacts
from coco_captions.reporting import mlmd

_OK_STATES = ('COMPLETE', 'CACHED')
_EVENT = metadata_store_pb2.Event
_INPUTS = (_EVENT.INPUT, _EVENT.DECLARED_INPUT)
_OUTPUTS = (_EVENT.OUTPUT, _EVENT.DECLARED_OUTPUT)
# The user-code wheel TFX builds from the module file and the .py files
# beside it: its version is a digest of that code.
_USER_CODE_WHEEL = re.compile(r'tfx_user_code_\w+-0\.0\+([0-9a-f]+)-')
# The recall@K the evaluator computes, and how each direction reads.
RECALL_KS = (1, 5, 10)
DIRECTIONS = (('text_to_image', 'caption → image'),
              ('image_to_text', 'image → caption'))


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
  # The parameters it ran with (execution properties).
  parameters: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class BaselineData:
  """The data the baseline (latest blessed) model was trained on."""
  run_id: str  # The run whose Trainer made it.
  data_root: str  # Its CsvExampleGen's input_base.
  data: str  # Its data fingerprint (`RunRecord.fingerprints`), '' unknown.


@dataclasses.dataclass
class ArtifactRef:
  """One artifact an execution read or wrote."""
  key: str
  type_name: str
  artifact_id: int
  uri: str
  # The run whose execution made the artifact, '' when unknown.
  made_in_run: str


@dataclasses.dataclass
class LineageRow:
  """What one execution read and wrote."""
  component: str
  state: str
  execution_id: int
  inputs: List[ArtifactRef]
  outputs: List[ArtifactRef]


@dataclasses.dataclass(frozen=True)
class Verdict:
  """The RetrievalEvaluator's decision on a run's model."""
  # 'blessed', 'not blessed', or 'unchanged' (the model is already the
  # latest blessed one).
  name: str
  reason: str

  @property
  def label(self) -> str:
    """How the console and the report show it."""
    return 'unchanged' if self.name == 'unchanged' else self.name.upper()

  @property
  def ok(self) -> bool:
    return self.name != 'not blessed'


def verdict(blessing: Optional[Dict[str, Any]]) -> Optional[Verdict]:
  """The verdict a ModelBlessing's properties record; None without one."""
  if not blessing:
    return None
  if blessing.get('blessed') == 1:
    # Also the latest blessed model blessed again to finish its push.
    name = 'blessed'
  elif blessing.get('baseline_model_id') == blessing.get('current_model_id'):
    name = 'unchanged'
  else:
    name = 'not blessed'
  return Verdict(name, blessing.get('reason', ''))


@dataclasses.dataclass(frozen=True)
class Recall:
  """One recall@K of the evaluation beside its chance rate."""
  direction: str  # text_to_image or image_to_text
  label: str  # caption → image, image → caption
  k: int
  value: float
  chance: Optional[float]

  @property
  def value_text(self) -> str:
    return f'{self.value:.3f}'

  @property
  def chance_text(self) -> str:
    return '' if self.chance is None else f'{self.chance:.3f}'

  @property
  def lift_text(self) -> str:
    """How many times chance, '' where chance is 0 or unknown."""
    return f'{self.value / self.chance:.1f}×' if self.chance else ''


def recalls(evaluation: Optional[Dict[str, Any]],
            direction: Optional[str] = None) -> List[Recall]:
  """The recall@K an evaluation recorded, both directions (or `direction`)."""
  found = []
  for name, label in DIRECTIONS:
    if direction not in (None, name):
      continue
    for k in RECALL_KS:
      value = (evaluation or {}).get(f'{name}_recall@{k}')
      if value is not None:
        found.append(Recall(name, label, k, value,
                            evaluation.get(f'{name}_chance@{k}')))
  return found


class Unavailable(LookupError):
  """A part of a run that is not there, for the reason it says."""


def reason(error: Exception) -> str:
  """Why a part of a run could not be read: the first line of `error`."""
  lines = str(error).strip().splitlines()
  return lines[0] if lines else type(error).__name__


@dataclasses.dataclass(frozen=True)
class Dropped:
  """What GroupCaptionsByImage left out with bad_images='drop'."""
  bad_images: int
  caption_rows: int
  # Where the bad images are listed, one SPLIT.jsonl per split.
  listing: str


@dataclasses.dataclass
class RunRecord:
  """What a run did, as ML Metadata and the artifacts it points at say."""
  pipeline_name: str
  run_id: str
  components: List[ComponentRun]
  # Split name -> number of examples (captions); splits in name order.
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
  # When the run started (its context was made), local time.
  started: Optional[datetime.datetime] = None
  # 'ir' or 'airflow': which metadata layout the run was read from.
  layout: str = 'ir'
  # Why the run failed, as the console said it ('' when not recorded).
  failure: str = ''
  # Where the evaluator's baseline model came from: `BaselineData`.
  baseline: Optional['BaselineData'] = None
  lineage: List[LineageRow] = dataclasses.field(default_factory=list)
  # Split name -> StatisticsGen's DatasetFeatureStatisticsList.
  statistics: Dict[str, Any] = dataclasses.field(default_factory=dict,
                                                 repr=False)

  def component(self, component_id: str) -> ComponentRun:
    for component in self.components:
      if component.component_id == component_id:
        return component
    raise KeyError(f'No execution of {component_id} in run {self.run_id}')

  def ran(self, component_id: str) -> bool:
    return any(c.component_id == component_id for c in self.components)

  def output(self, component_id: str, key: str) -> Optional[str]:
    if not self.ran(component_id):
      return None
    uris = self.component(component_id).outputs.get(key) or []
    return uris[0] if uris else None

  def properties(self, component_id: str, key: str) -> Optional[Dict[str, Any]]:
    """Custom properties of a component's (first) output artifact."""
    if not self.ran(component_id):
      return None
    found = self.component(component_id).output_properties.get(key) or []
    return found[0] if found else None

  def parameters(self, component_id: str) -> Dict[str, Any]:
    """The parameters `component_id` ran with; {} when it did not run."""
    return (self.component(component_id).parameters
            if self.ran(component_id) else {})

  def require(self, component_id: str, key: str) -> str:
    """The URI of `component_id`'s output `key`; Unavailable saying why not."""
    if not self.ran(component_id):
      raise Unavailable(f'{component_id} did not run in this run')
    uri = self.output(component_id, key)
    if not uri:
      raise Unavailable(
          f'{component_id} ({self.component(component_id).state.lower()}) '
          f'has no {key} output')
    return uri

  def made(self, component_id: str, key: str) -> Optional[ArtifactRef]:
    """`component_id`'s output `key` in the lineage (a cached component's
    was made in an earlier run); None when it has none."""
    for row in self.lineage:
      if row.component == component_id:
        for ref in row.outputs:
          if ref.key == key:
            return ref
    return None

  @property
  def trained_model(self) -> Optional[ArtifactRef]:
    """The model the run's Trainer output, and the run that made it."""
    return self.made('Trainer', 'model')

  @property
  def failed(self) -> List[str]:
    """Components that did not complete (failed, still running, canceled)."""
    return [c.component_id for c in self.components
            if c.state not in _OK_STATES]

  @property
  def status(self) -> str:
    """'complete', or which components did not complete."""
    if not self.failed:
      return 'complete'
    return ', '.join(self.failed) + ' did not complete'

  @property
  def verdict(self) -> Optional[Verdict]:
    return verdict(self.blessing)

  def recalls_of(self, direction: Optional[str] = None) -> List[Recall]:
    return recalls(self.evaluation, direction)

  @property
  def baseline_on_other_data(self) -> Optional[BaselineData]:
    """The baseline's data where it is not this run's (another data root, or
    the same root holding other files); None otherwise or unknown."""
    data = self.fingerprints().get('data', '')
    root = self.parameters('CsvExampleGen').get('input_base', '')
    b = self.baseline
    if b is None or not (b.data and data):
      return None
    return b if (b.data != data or b.data_root != root) else None

  @property
  def was_pushed(self) -> bool:
    return bool(self.pushed) and self.pushed.get('pushed') == 1

  @property
  def pushed_version(self) -> str:
    """The version Pusher pushed, '' where it pushed none."""
    return (str(self.pushed.get('pushed_version', ''))
            if self.was_pushed else '')

  @property
  def pushed_at(self) -> Optional[datetime.datetime]:
    """When Pusher pushed: TFX names a version by the Unix time it pushed."""
    version = self.pushed_version
    return (datetime.datetime.fromtimestamp(int(version))
            if version.isdigit() else None)

  @property
  def dropped(self) -> Optional[Dropped]:
    """What --bad_images=drop left out (the row counts include it); None
    where nothing was dropped."""
    found = self.properties('GroupCaptionsByImage', 'image_examples') or {}
    splits = [k[:-len('_dropped_rows')] for k in found
              if k.endswith('_dropped_rows') and found[k]]
    if not splits:
      return None
    return Dropped(
        sum(int(found.get(f'{s}_bad_images', 0)) for s in splits),
        sum(int(found[f'{s}_dropped_rows']) for s in splits),
        artifacts.bad_images_dir(
            self.output('GroupCaptionsByImage', 'image_examples')))

  @property
  def images_root(self) -> Optional[str]:
    """Where the run read the images: RetrievalEvaluator's or
    GroupCaptionsByImage's setting (Transform's, in runs from before
    GroupCaptionsByImage decoded the images); None where none ran."""
    found = (self.parameters('RetrievalEvaluator').get('images_root') or
             self.parameters('GroupCaptionsByImage').get('images_root') or
             _json(self.parameters('Transform').get('custom_config')).get(
                 'images_root'))
    return found or None

  def eval_images(self, default: int) -> int:
    """The most eval images RetrievalEvaluator's pool held in this run
    (`default` where it did not say)."""
    return int(self.parameters('RetrievalEvaluator').get('max_images') or
               default)

  @property
  def seconds(self) -> float:
    return sum(c.seconds for c in self.components)

  def fingerprints(self) -> Dict[str, str]:
    """Short digests of what the run read: 'data' (the CSV files, as
    CsvExampleGen fingerprinted them), 'images' and 'code' (the user-code
    wheel TFX built); a part the run did not record is absent."""
    found = {}
    # A cached CsvExampleGen records no fingerprint; the examples it reused
    # carry the one they were made from.
    data = (self.parameters('CsvExampleGen').get('input_fingerprint') or
            (self.properties('CsvExampleGen', 'examples') or {}).get(
                'input_fingerprint'))
    if data:
      found['data'] = hashlib.sha256(str(data).encode()).hexdigest()[:12]
    # GroupCaptionsByImage reads the images; before it decoded them,
    # Transform did and carried the fingerprint in its custom_config.
    images = (self.parameters('GroupCaptionsByImage').get('images_fingerprint')
              or _json(self.parameters('Transform').get('custom_config')).get(
                  'images_fingerprint'))
    if images:
      found['images'] = images[:12]
    for component in ('Trainer', 'Transform'):
      match = _USER_CODE_WHEEL.search(
          str(self.parameters(component).get('module_path', '')))
      if match:
        found['code'] = match.group(1)[:12]
        break
    return found

  def settings(self) -> Dict[str, Any]:
    """The training and blessing settings the run's executions recorded."""
    found = {}
    trainer = self.parameters('Trainer')
    for name, key in (('train_args', 'train_steps'),
                      ('eval_args', 'eval_steps')):
      steps = _json(trainer.get(name)).get('num_steps')
      if steps:
        found[key] = steps
    found.update(_json(trainer.get('custom_config')))
    # A cache key, not a setting.
    found.pop(features.DIGEST_KEY, None)
    evaluator = self.parameters('RetrievalEvaluator')
    for name, key in (('metric', 'blessing_metric'),
                      ('threshold', 'blessing_threshold'),
                      ('significance', 'blessing_significance'),
                      ('max_images', 'eval_images')):
      if name in evaluator:
        found[key] = _number(evaluator[name])
    return found


def _number(value: Any) -> Any:
  """'1000' -> 1000 and '0.3' -> 0.3 (the Airflow runner records strings)."""
  if isinstance(value, str):
    for kind in (int, float):
      try:
        return kind(value)
      except ValueError:
        pass
  return value


def _json(text: Any) -> Dict[str, Any]:
  try:
    found = json.loads(text) if isinstance(text, str) else None
  except ValueError:
    return {}
  return found if isinstance(found, dict) else {}


def _component_runs(store, executions, node_of) -> List[ComponentRun]:
  events = store.get_events_by_execution_ids([e.id for e in executions])
  outputs = [e for e in events if e.type in _OUTPUTS and e.path.steps]
  found = {a.id: a for a in store.get_artifacts_by_id(
      sorted({e.artifact_id for e in outputs}))}
  result = []
  for execution in executions:
    component = ComponentRun(
        component_id=node_of.get(execution.id, execution.type),
        execution_id=execution.id,
        state=mlmd.state_name(execution),
        seconds=(execution.last_update_time_since_epoch -
                 execution.create_time_since_epoch) / 1000.0,
        outputs={}, output_properties={},
        parameters=mlmd.parameters(execution))
    for event in outputs:
      if event.execution_id == execution.id:
        key = mlmd.event_key(event)
        artifact = found[event.artifact_id]
        component.outputs.setdefault(key, []).append(artifact.uri)
        component.output_properties.setdefault(key, []).append(
            mlmd.custom_properties(artifact))
    result.append(component)
  return result


def _lineage(store, run: mlmd.Run,
             node_of: Dict[int, str]) -> List[LineageRow]:
  """What each execution of `run` read and wrote, and which run made each
  artifact (a cached component points at an earlier run's)."""
  executions = mlmd.executions(store, run)
  events = store.get_events_by_execution_ids([e.id for e in executions])
  artifact_ids = sorted({e.artifact_id for e in events})
  found = {a.id: a for a in store.get_artifacts_by_id(artifact_ids)}
  type_names = {t.id: t.name for t in store.get_artifact_types_by_id(
      sorted({a.type_id for a in found.values()}))}
  # The first execution that output an artifact made it; cached ones reuse it.
  maker = {}
  for event in store.get_events_by_artifact_ids(artifact_ids):
    if event.type in _OUTPUTS:
      maker[event.artifact_id] = min(
          maker.get(event.artifact_id, event.execution_id), event.execution_id)
  run_of = mlmd.run_of_executions(store, sorted(set(maker.values())))
  rows = {e.id: LineageRow(node_of.get(e.id, e.type), mlmd.state_name(e),
                           e.id, [], []) for e in executions}
  for event in sorted(events, key=lambda e: (e.execution_id, e.artifact_id)):
    artifact = found[event.artifact_id]
    ref = ArtifactRef(
        mlmd.event_key(event),
        type_names.get(artifact.type_id, str(artifact.type_id)), artifact.id,
        artifact.uri, run_of.get(maker.get(artifact.id), ''))
    if event.type in _INPUTS:
      rows[event.execution_id].inputs.append(ref)
    elif event.type in _OUTPUTS:
      rows[event.execution_id].outputs.append(ref)
  return [rows[e.id] for e in executions]


def train_first(splits: Dict[str, Any]) -> Dict[str, Any]:
  """`splits` with train, then eval, then the rest by name."""
  order = {'train': 0, 'eval': 1}
  return dict(sorted(splits.items(),
                     key=lambda kv: (order.get(kv[0], 2), kv[0])))


def read_run(metadata, pipeline_name: Optional[str],
             run_id: Optional[str] = None,
             read_artifacts: bool = True) -> RunRecord:
  """Run `run_id` (default: the latest) of `pipeline_name`.

  Args:
    metadata: an ML Metadata store (mlmd.connect) or the path of its SQLite
      file.
    pipeline_name: None for the one pipeline the store holds (an Airflow
      DAG's is its DAG id).
    read_artifacts: also read the statistics, anomalies and training.json the
      run points at; False reads ML Metadata only.

  Raises:
    LookupError: the store has no such pipeline or run, or (with no
      `pipeline_name`) not exactly one pipeline.
  """
  store = _store(metadata)
  pipeline_name = pipeline_name or _only_pipeline(store)
  run = mlmd.find_run(store, pipeline_name, run_id)
  return _read(store, pipeline_name, run,
               mlmd.component_ids(store, pipeline_name), read_artifacts)


def read_history(metadata, pipeline_name: str) -> List[RunRecord]:
  """Every run of `pipeline_name`, newest first, from ML Metadata and the
  Trainer's training.json (`metadata` as for `read_run`)."""
  store = _store(metadata)
  node_of = mlmd.component_ids(store, pipeline_name)
  records = []
  for run in mlmd.runs(store, pipeline_name)[::-1]:
    record = _read(store, pipeline_name, run, node_of, read_artifacts=False)
    record.training = artifacts.training(record.output('Trainer', 'model_run'))
    records.append(record)
  return records


def _store(metadata):
  if isinstance(metadata, (str, os.PathLike)):
    return mlmd.connect(os.fspath(metadata))
  return metadata


def _only_pipeline(store) -> str:
  names = mlmd.pipeline_names(store)
  if not names:
    raise LookupError('ML Metadata holds no pipeline run')
  if len(names) > 1:
    raise LookupError(f'ML Metadata holds the pipelines {", ".join(names)}; '
                      'pass --pipeline_name')
  return names[0]


def _read(store, pipeline_name: str, run: mlmd.Run, node_of: Dict[int, str],
          read_artifacts: bool, with_baseline: bool = True) -> RunRecord:
  components = _component_runs(store, mlmd.executions(store, run), node_of)
  record = RunRecord(
      pipeline_name, run.run_id, components, {}, None, {},
      started=datetime.datetime.fromtimestamp(run.created_ms / 1000),
      layout=run.layout, lineage=_lineage(store, run, node_of),
      failure=mlmd.run_failure(store, run))
  images = record.properties('GroupCaptionsByImage', 'image_examples') or {}
  record.evaluation = record.properties('RetrievalEvaluator', 'evaluation')
  record.blessing = record.properties('RetrievalEvaluator', 'blessing')
  record.pushed = record.properties('Pusher', 'pushed_model')
  if with_baseline:
    record.baseline = _baseline(store, pipeline_name, record, node_of)
  if read_artifacts:
    record.statistics = artifacts.statistics(
        record.output('StatisticsGen', 'statistics'))
    record.anomalies = artifacts.anomalies(
        record.output('ExampleValidator', 'anomalies'))
    record.training = artifacts.training(record.output('Trainer', 'model_run'))
  record.split_counts = {
      split: artifacts.example_count(stats)
      for split, stats in record.statistics.items()}
  splits = record.split_counts or sorted(
      k[:-len('_images')] for k in images if k.endswith('_images'))
  record.image_counts = {split: int(images[f'{split}_images'])
                         for split in splits if f'{split}_images' in images}
  return record


def _baseline(store, pipeline_name: str, record: RunRecord,
              node_of: Dict[int, str]) -> Optional[BaselineData]:
  """Where the model `record`'s evaluator compared with was trained; None
  without a baseline, or when it is the run's own model."""
  blessing = record.blessing or {}
  model_id = blessing.get('baseline_model_id')
  if not isinstance(model_id, int) or model_id == blessing.get(
      'current_model_id'):
    return None
  makers = [e.execution_id for e in store.get_events_by_artifact_ids(
      [model_id]) if e.type in _OUTPUTS]
  if not makers:
    return None
  run_id = mlmd.run_of_executions(store, [min(makers)])[min(makers)]
  try:
    made_in = _read(store, pipeline_name,
                    mlmd.find_run(store, pipeline_name, run_id), node_of,
                    read_artifacts=False, with_baseline=False)
  except LookupError:
    return None
  return BaselineData(
      run_id, str(made_in.parameters('CsvExampleGen').get('input_base', '')),
      made_in.fingerprints().get('data', ''))
