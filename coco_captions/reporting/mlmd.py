"""ML Metadata access for the CLIs, the reports and recovery, in both layouts.

TFX records a run in one of two layouts:

  * IR-based runners (LocalDagRunner, BeamDagRunner, Kubeflow V2): a
    `pipeline` context (named after the pipeline), one `pipeline_run` context
    per run (named by its run id) and one `node` context per component
    ('PIPELINE.COMPONENT'); an execution's parameters are custom properties.
  * The Airflow runner (TFX's older launchers): a `pipeline` context, one `run`
    context per run ('PIPELINE.RUN_ID', properties `pipeline_name`, `run_id`)
    and `component_run` contexts; each execution carries `component_id`,
    `run_id` and `state` as properties, its parameters as string properties.

`runs` and `component_ids` read either, so everything above them does not
care which orchestrator ran the pipeline.
"""

import dataclasses
from typing import Any, Dict, List

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

PIPELINE_CONTEXT = 'pipeline'
# IR-based runners.
RUN_CONTEXT = 'pipeline_run'
NODE_CONTEXT = 'node'
# The Airflow runner.
LEGACY_RUN_CONTEXT = 'run'
# Properties the Airflow runner adds to every execution: bookkeeping, not
# the component's parameters.
_LEGACY_BOOKKEEPING = ('component_id', 'run_id', 'state', 'pipeline_name',
                       'pipeline_root')


@dataclasses.dataclass(frozen=True)
class Run:
  """One run of a pipeline as ML Metadata holds it."""
  run_id: str
  context_id: int
  # Milliseconds since the epoch when the run's context was made.
  created_ms: int
  # 'ir' (IR-based runners) or 'airflow' (the older launchers).
  layout: str


def connect(metadata_path: str,
            read_only: bool = True) -> metadata_store.MetadataStore:
  """The SQLite ML Metadata store at `metadata_path`."""
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE)
  return metadata_store.MetadataStore(config)


def _scalar(value: metadata_store_pb2.Value) -> Any:
  kind = value.WhichOneof('value')
  if kind in ('int_value', 'double_value', 'string_value'):
    return getattr(value, kind)
  return None


def custom_properties(node) -> Dict[str, Any]:
  """The scalar custom properties of an MLMD artifact or execution, less
  bookkeeping (`__name__`: TFX's execution results, `FAILURE`)."""
  found = {name: _scalar(value)
           for name, value in node.custom_properties.items()
           if not name.startswith('__')}
  return {name: value for name, value in found.items() if value is not None}


def parameters(execution: metadata_store_pb2.Execution) -> Dict[str, Any]:
  """The parameters an execution ran with, in either layout.

  The Airflow runner records them as string properties ('1000', '0.0'); the
  IR-based runners as typed custom properties.
  """
  found = custom_properties(execution)
  for name, value in execution.properties.items():
    if name not in _LEGACY_BOOKKEEPING and _scalar(value) is not None:
      found[name] = _scalar(value)
  return found


def state_name(execution: metadata_store_pb2.Execution) -> str:
  """COMPLETE, CACHED, FAILED, RUNNING, CANCELED, NEW or UNKNOWN."""
  return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


def _context_type_ids(store) -> Dict[str, int]:
  return {t.name: t.id for t in store.get_context_types()}


def _contexts_of_type(store, name: str):
  return (store.get_contexts_by_type(name)
          if name in _context_type_ids(store) else [])


def _pipeline_context(store, pipeline_name: str):
  if PIPELINE_CONTEXT not in _context_type_ids(store):
    return None
  return store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)


def pipeline_names(store) -> List[str]:
  """The pipelines the store holds runs of, by name."""
  return sorted(c.name for c in _contexts_of_type(store, PIPELINE_CONTEXT))


def runs(store, pipeline_name: str) -> List[Run]:
  """Every run of `pipeline_name` in the store, oldest first."""
  found = []
  pipeline = _pipeline_context(store, pipeline_name)
  if pipeline is not None:
    mine = {e.id for e in store.get_executions_by_context(pipeline.id)}
    for context in _contexts_of_type(store, RUN_CONTEXT):
      if mine & {e.id for e in store.get_executions_by_context(context.id)}:
        found.append(Run(context.name, context.id,
                         context.create_time_since_epoch, 'ir'))
  for context in _contexts_of_type(store, LEGACY_RUN_CONTEXT):
    props = context.properties
    if ('run_id' in props and 'pipeline_name' in props and
        props['pipeline_name'].string_value == pipeline_name):
      found.append(Run(props['run_id'].string_value, context.id,
                       context.create_time_since_epoch, 'airflow'))
  return sorted(found, key=lambda r: (r.created_ms, r.context_id))


def find_run(store, pipeline_name: str, run_id: str = None) -> Run:
  """Run `run_id` of `pipeline_name`, or its latest; LookupError if none."""
  found = runs(store, pipeline_name)
  if not found:
    if _pipeline_context(store, pipeline_name) is None:
      raise LookupError(f'No {PIPELINE_CONTEXT} {pipeline_name!r} in ML '
                        'Metadata')
    raise LookupError(f'Pipeline {pipeline_name!r} has no runs in ML Metadata')
  if run_id is None:
    return found[-1]
  for run in found:
    if run.run_id == run_id:
      return run
  raise LookupError(f'No run {run_id!r} of {pipeline_name!r} in ML Metadata')


def executions(store, run: Run) -> List[metadata_store_pb2.Execution]:
  """The executions of `run`, in the order they started."""
  return sorted(store.get_executions_by_context(run.context_id),
                key=lambda e: (e.create_time_since_epoch, e.id))


def component_ids(store, pipeline_name: str) -> Dict[int, str]:
  """Execution id -> id of the component of `pipeline_name` it ran."""
  component_of = {}
  prefix = pipeline_name + '.'
  for node in _contexts_of_type(store, NODE_CONTEXT):
    if node.name.startswith(prefix):
      for execution in store.get_executions_by_context(node.id):
        component_of[execution.id] = node.name[len(prefix):]
  pipeline = _pipeline_context(store, pipeline_name)
  if pipeline is not None:
    for execution in store.get_executions_by_context(pipeline.id):
      if 'component_id' in execution.properties:
        component_of[execution.id] = (
            execution.properties['component_id'].string_value)
  return component_of


def run_of_executions(store, execution_ids) -> Dict[int, str]:
  """Execution id -> id of the run it belongs to ('' when none), either
  layout."""
  type_ids = _context_type_ids(store)
  run_type = type_ids.get(RUN_CONTEXT)
  legacy_type = type_ids.get(LEGACY_RUN_CONTEXT)
  found = {}
  for execution_id in execution_ids:
    found[execution_id] = ''
    for context in store.get_contexts_by_execution(execution_id):
      if context.type_id == run_type:
        found[execution_id] = context.name
      elif context.type_id == legacy_type and 'run_id' in context.properties:
        found[execution_id] = context.properties['run_id'].string_value
  return found


def event_key(event: metadata_store_pb2.Event) -> str:
  """The input or output key an event records ('' when none).

  The Airflow runner's paths alternate keys and indices, and an artifact read
  under two keys (the same model as `model` and `baseline_model`) has both.
  """
  keys = [step.key for step in event.path.steps
          if step.WhichOneof('value') == 'key' and step.key]
  return ', '.join(dict.fromkeys(keys))


# Why a run failed, as the console said it, on the run's context.
FAILURE = '__failure__'


def record_failure(store, pipeline_name: str, run_id: str, component_id: str,
                   message: str) -> None:
  """Keeps why run `run_id` failed on its context, and marks the executions
  of `component_id` it left unfinished FAILED (the Airflow runner's
  launchers leave them RUNNING)."""
  run = find_run(store, pipeline_name, run_id)
  [context] = store.get_contexts_by_id([run.context_id])
  context.custom_properties[FAILURE].string_value = message
  store.put_contexts([context])
  node_of = component_ids(store, pipeline_name)
  unfinished = (metadata_store_pb2.Execution.RUNNING,
                metadata_store_pb2.Execution.NEW,
                metadata_store_pb2.Execution.UNKNOWN)
  failed = []
  for execution in executions(store, run):
    legacy_state = execution.properties.get('state')
    if node_of.get(execution.id) == component_id and (
        execution.last_known_state in unfinished or
        (legacy_state and legacy_state.string_value in ('new', 'running'))):
      execution.last_known_state = metadata_store_pb2.Execution.FAILED
      if legacy_state:
        execution.properties['state'].string_value = 'failed'
      failed.append(execution)
  if failed:
    store.put_executions(failed)


def run_failure(store, run: Run) -> str:
  """Why `run` failed, where its runner recorded it (`record_failure`)."""
  [context] = store.get_contexts_by_id([run.context_id])
  if FAILURE not in context.custom_properties:
    return ''
  return context.custom_properties[FAILURE].string_value
