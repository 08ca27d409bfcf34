"""ML Metadata stores built by hand, in either of TFX's layouts.

`HandBuiltStore(layout)` makes the types, contexts, executions, events and
artifacts a TFX runner would: 'ir' as LocalDagRunner and BeamDagRunner record
them, 'airflow' as TFX's Airflow runner (its older launchers) does.
"""

from typing import Any, Dict, List, Sequence, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

STATES = {'COMPLETE': mlmd.Execution.COMPLETE,
          'CACHED': mlmd.Execution.CACHED,
          'FAILED': mlmd.Execution.FAILED,
          'RUNNING': mlmd.Execution.RUNNING}
_STRING = mlmd.STRING


def in_memory_store() -> metadata_store.MetadataStore:
  config = mlmd.ConnectionConfig()
  config.fake_database.SetInParent()
  return metadata_store.MetadataStore(config)


def sqlite_store(path: str) -> metadata_store.MetadataStore:
  config = mlmd.ConnectionConfig()
  config.sqlite.filename_uri = path  # Created.
  return metadata_store.MetadataStore(config)


def _set(value_proto, value):
  if isinstance(value, bool) or isinstance(value, int):
    value_proto.int_value = int(value)
  elif isinstance(value, float):
    value_proto.double_value = value
  else:
    value_proto.string_value = str(value)


class HandBuiltStore:
  """A store holding runs of `pipeline_name` in `layout` ('ir', 'airflow')."""

  def __init__(self, store, layout: str, pipeline_name: str = 'p'):
    assert layout in ('ir', 'airflow')
    self.store, self.layout, self.pipeline_name = store, layout, pipeline_name
    self._artifact_types: Dict[str, int] = {}
    self._execution_types: Dict[str, int] = {}
    self._nodes: Dict[str, int] = {}
    legacy = layout == 'airflow'
    self._pipeline_type = store.put_context_type(mlmd.ContextType(
        name='pipeline',
        properties={'pipeline_name': _STRING} if legacy else {}))
    pipeline = mlmd.Context(type_id=self._pipeline_type, name=pipeline_name)
    if legacy:
      pipeline.properties['pipeline_name'].string_value = pipeline_name
    (self.pipeline,) = store.put_contexts([pipeline])
    if legacy:
      self._run_type = store.put_context_type(mlmd.ContextType(
          name='run', properties={'run_id': _STRING, 'pipeline_name': _STRING}))
      self._node_type = store.put_context_type(mlmd.ContextType(
          name='component_run', properties={
              'run_id': _STRING, 'component_id': _STRING,
              'pipeline_name': _STRING}))
    else:
      self._run_type = store.put_context_type(
          mlmd.ContextType(name='pipeline_run'))
      self._node_type = store.put_context_type(mlmd.ContextType(name='node'))
    self.runs: Dict[int, str] = {}

  def run(self, run_id: str) -> int:
    """A new run's context id."""
    if self.layout == 'airflow':
      context = mlmd.Context(type_id=self._run_type,
                             name=f'{self.pipeline_name}.{run_id}')
      context.properties['run_id'].string_value = run_id
      context.properties['pipeline_name'].string_value = self.pipeline_name
    else:
      context = mlmd.Context(type_id=self._run_type, name=run_id)
    (context_id,) = self.store.put_contexts([context])
    self.runs[context_id] = run_id
    return context_id

  def artifact(self, type_name: str, uri: str, **properties: Any) -> int:
    """A new artifact's id, with `properties` as its custom properties."""
    if type_name not in self._artifact_types:
      self._artifact_types[type_name] = self.store.put_artifact_type(
          mlmd.ArtifactType(name=type_name))
    artifact = mlmd.Artifact(type_id=self._artifact_types[type_name], uri=uri,
                             state=mlmd.Artifact.LIVE)
    for name, value in properties.items():
      _set(artifact.custom_properties[name], value)
    (artifact_id,) = self.store.put_artifacts([artifact])
    return artifact_id

  def _node(self, run: int, component: str) -> int:
    if self.layout == 'airflow':
      run_id = self.runs[run]
      context = mlmd.Context(
          type_id=self._node_type,
          name=f'{self.pipeline_name}.{run_id}.{component}')
      context.properties['run_id'].string_value = run_id
      context.properties['component_id'].string_value = component
      context.properties['pipeline_name'].string_value = self.pipeline_name
      (context_id,) = self.store.put_contexts([context])
      return context_id
    if component not in self._nodes:
      (self._nodes[component],) = self.store.put_contexts([mlmd.Context(
          type_id=self._node_type, name=f'{self.pipeline_name}.{component}')])
    return self._nodes[component]

  def execute(self, run: int, component: str, state: str = 'COMPLETE',
              inputs: Sequence[Tuple[str, int]] = (),
              outputs: Sequence[Tuple[str, int]] = (),
              parameters: Dict[str, Any] = None) -> int:
    """One execution of `component` in `run`, reading and writing artifact
    ids under keys; `parameters` as the layout records them."""
    parameters = parameters or {}
    legacy = self.layout == 'airflow'
    type_name = f'tfx.components.{component}'
    if type_name not in self._execution_types:
      properties = {name: _STRING for name in (
          'component_id', 'run_id', 'state', 'pipeline_name',
          'pipeline_root', *parameters)} if legacy else {}
      self._execution_types[type_name] = self.store.put_execution_type(
          mlmd.ExecutionType(name=type_name, properties=properties),
          can_add_fields=True)
    execution = mlmd.Execution(type_id=self._execution_types[type_name],
                               last_known_state=STATES[state])
    if legacy:
      for name, value in dict(
          parameters, component_id=component, run_id=self.runs[run],
          state=state.lower(), pipeline_name=self.pipeline_name,
          pipeline_root='/p').items():
        execution.properties[name].string_value = str(value)
    else:
      for name, value in parameters.items():
        _set(execution.custom_properties[name], value)
    (execution_id,) = self.store.put_executions([execution])
    events = []
    for kind, refs in ((mlmd.Event.INPUT, inputs), (mlmd.Event.OUTPUT, outputs)):
      for key, artifact_id in refs:
        steps = [mlmd.Event.Path.Step(key=key)]
        if legacy:  # Its paths alternate keys and indices.
          steps.append(mlmd.Event.Path.Step(index=0))
        events.append(mlmd.Event(artifact_id=artifact_id,
                                 execution_id=execution_id, type=kind,
                                 path=mlmd.Event.Path(steps=steps)))
    self.store.put_events(events)
    contexts: List[int] = [self.pipeline, run, self._node(run, component)]
    self.store.put_attributions_and_associations([], [
        mlmd.Association(context_id=c, execution_id=execution_id)
        for c in contexts])
    return execution_id


# The figures `two_runs` records, for the tests to compare with.
SPLIT_COUNTS = {'eval': 20, 'train': 80}
IMAGE_COUNTS = {'eval': 4, 'train': 16}
EVAL_ANOMALY = 'caption: Unexpected string values'
EVALUATION = {'text_to_image_recall@1': 0.25, 'text_to_image_chance@1': 0.125,
              'text_to_image_recall@5': 0.75, 'text_to_image_chance@5': 0.5,
              'image_to_text_recall@1': 0.5, 'image_to_text_chance@1': 0.2,
              'num_images': 4.0, 'num_captions': 20.0,
              'blessing_metric': 'text_to_image_recall@5',
              'blessing_threshold': 0.3}
TRAINING = {'epochs': 5, 'train_images': 16, 'steps': 5, 'batch_size': 16,
            'seconds': 3.2, 'seed': 7, 'loss': [3.7, 2.5],
            'eval_loss': [1.9, 1.3]}
CODE_DIGEST = '93878586a86d708503d3b408'
INPUT_FINGERPRINT = 'split:single_split,num_files:1,total_bytes:24971'
PUSHED_VERSION = '1796023539'


def _split_files(root, name, write):
  import os
  for split in SPLIT_COUNTS:
    os.makedirs(os.path.join(root, f'Split-{split}'))
    with open(os.path.join(root, f'Split-{split}', name), 'wb') as f:
      f.write(write(split))


def _statistics(split):
  from tensorflow_metadata.proto.v0 import statistics_pb2
  stats = statistics_pb2.DatasetFeatureStatisticsList()
  stats.datasets.add(num_examples=SPLIT_COUNTS[split])
  return stats.SerializeToString()


def _anomalies(split):
  from tensorflow_metadata.proto.v0 import anomalies_pb2
  found = anomalies_pb2.Anomalies()
  if split == 'eval':
    found.anomaly_info['caption'].description = EVAL_ANOMALY.split(': ', 1)[1]
  return found.SerializeToString()


def two_runs(built: HandBuiltStore, root: str) -> Dict[str, Any]:
  """Two runs of the pipeline, artifacts written under `root`:

  run-1 runs every component: the model is blessed and pushed.
  run-2 is served from the cache up to the Trainer; the evaluator finds the
  model is already the latest blessed one (unchanged), and nothing is pushed.
  Returns the ids a test checks: artifacts and executions by name.
  """
  import json
  import os
  ids = {}
  statistics, anomalies, model_run = (os.path.join(root, n) for n in (
      'statistics', 'anomalies', 'model_run'))
  _split_files(statistics, 'FeatureStats.pb', _statistics)
  _split_files(anomalies, 'SchemaDiff.pb', _anomalies)
  os.makedirs(model_run)
  with open(os.path.join(model_run, 'training.json'), 'w') as f:
    json.dump(TRAINING, f)
  art = built.artifact
  ids['examples'] = art('Examples', os.path.join(root, 'examples'),
                        input_fingerprint=INPUT_FINGERPRINT)
  ids['schema'] = art('Schema', os.path.join(root, 'schema'))
  ids['statistics'] = art('ExampleStatistics', statistics)
  ids['anomalies'] = art('ExampleAnomalies', anomalies)
  ids['image_examples'] = art(
      'Examples', os.path.join(root, 'image_examples'),
      **{f'{s}_images': n for s, n in IMAGE_COUNTS.items()})
  ids['transform_graph'] = art('TransformGraph', os.path.join(root, 'graph'))
  ids['model'] = art('Model', os.path.join(root, 'model'))
  ids['model_run'] = art('ModelRun', model_run)
  wheel = (f'coco_captions_utils@{root}/_wheels/tfx_user_code_trainer-0.0+'
           f'{CODE_DIGEST}-py3-none-any.whl')
  upstream = [
      ('CsvExampleGen', [], [('examples', ids['examples'])],
       {'input_fingerprint': INPUT_FINGERPRINT, 'input_base': '/data'}),
      ('ImportSchemaGen', [], [('schema', ids['schema'])], {}),
      ('StatisticsGen', [('examples', ids['examples'])],
       [('statistics', ids['statistics'])], {}),
      ('ExampleValidator', [('statistics', ids['statistics'])],
       [('anomalies', ids['anomalies'])], {}),
      ('GroupCaptionsByImage', [('examples', ids['examples'])],
       [('image_examples', ids['image_examples'])],
       {'images_root': '/data/images', 'images_fingerprint': 'f' * 64}),
      ('Transform', [('examples', ids['image_examples'])],
       [('transform_graph', ids['transform_graph'])],
       {'custom_config': '{}', 'module_path': wheel}),
      ('Trainer', [('transform_graph', ids['transform_graph'])],
       [('model', ids['model']), ('model_run', ids['model_run'])],
       {'train_args': '{\n  "num_steps": 5\n}', 'custom_config': '{}',
        'module_path': wheel}),
  ]
  evaluator = {'images_root': '/data/images', 'metric': 'text_to_image_recall@5',
               'threshold': 0.3, 'max_images': 1000}
  for number, state in ((1, 'COMPLETE'), (2, 'CACHED')):
    run = built.run(f'run-{number}')
    for component, inputs, outputs, parameters in upstream:
      if state == 'CACHED':  # As TFX records a cached execution.
        parameters = {k: v for k, v in parameters.items()
                      if k != 'input_fingerprint'}
      ids[f'{component}-{number}'] = built.execute(
          run, component, state, inputs, outputs, parameters)
    unchanged = number == 2
    ids[f'evaluation-{number}'] = art(
        'ModelEvaluation', os.path.join(root, f'evaluation-{number}'),
        **EVALUATION)
    blessing = {'blessed': int(not unchanged),
                'current_model_id': ids['model'],
                'reason': ('this model is already the latest blessed model'
                           if unchanged else 'text_to_image_recall@5 0.750 '
                           'clears the threshold 0.300')}
    if unchanged:
      blessing['baseline_model_id'] = ids['model']
    ids[f'blessing-{number}'] = art(
        'ModelBlessing', os.path.join(root, f'blessing-{number}'), **blessing)
    ids[f'RetrievalEvaluator-{number}'] = built.execute(
        run, 'RetrievalEvaluator', 'COMPLETE', [('model', ids['model'])],
        [('evaluation', ids[f'evaluation-{number}']),
         ('blessing', ids[f'blessing-{number}'])], evaluator)
    pushed = ({'pushed': 0} if unchanged else
              {'pushed': 1, 'pushed_version': PUSHED_VERSION,
               'pushed_destination': f'/serving/{PUSHED_VERSION}'})
    ids[f'pushed-{number}'] = art(
        'PushedModel', os.path.join(root, f'pushed-{number}'), **pushed)
    ids[f'Pusher-{number}'] = built.execute(
        run, 'Pusher', 'COMPLETE', [('model', ids['model'])],
        [('pushed_model', ids[f'pushed-{number}'])])
  return ids
