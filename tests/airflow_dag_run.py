"""Loads a DAGs folder the way Airflow does and runs the pipeline's DAG.

Run as a subprocess by the Airflow tests, with AIRFLOW_HOME and the
COCO_CAPTIONS_* settings in the environment (Airflow reads its configuration
once, at import), from a directory that is not the checkout:

  airflow_dag_run.py OUT DAGS_FOLDER RUNS

Writes what it saw as JSON to OUT:

  parse: {beam_args_setting, import_errors, dag_ids, tasks: {id: upstream},
          beam_args: {id: [...]}, data_read: [paths]}  from a parse with
          COCO_CAPTIONS_BEAM_ARGS; data_read lists every file or folder under
          COCO_CAPTIONS_DATA_ROOT the parse opened or listed
  runs:  [{run_id, state, tasks: {id: state}}]  RUNS dag.test() runs, Beam
          args unset
"""

import json
import os
import sys


def _load(dags_folder, dag_id):
  from airflow.models.dagbag import DagBag
  bag = DagBag(dag_folder=dags_folder, include_examples=False)
  return bag, bag.dags.get(dag_id)


def _reads_under(root):
  """(paths under `root` opened or listed so far, stop recording)."""
  root = os.path.realpath(root)
  seen, recording = [], [True]

  def hook(event, args):
    if recording[0] and event in ('open', 'os.listdir', 'os.scandir') and (
        args and isinstance(args[0], (str, bytes, os.PathLike))):
      path = os.path.realpath(os.fsdecode(args[0]))
      if path == root or path.startswith(root + os.sep):
        seen.append(path)

  sys.addaudithook(hook)
  return seen, lambda: recording.__setitem__(0, False)


def main(out_path, dags_folder, runs):
  dag_id = os.environ['COCO_CAPTIONS_PIPELINE_NAME']
  data_read, stop = _reads_under(os.environ['COCO_CAPTIONS_DATA_ROOT'])
  bag, dag = _load(dags_folder, dag_id)
  stop()
  result = {'parse': {
      'beam_args_setting': os.environ.get('COCO_CAPTIONS_BEAM_ARGS', ''),
      'import_errors': {k: str(v) for k, v in bag.import_errors.items()},
      'dag_ids': sorted(bag.dags),
      'data_read': sorted(set(data_read)),
  }}
  if dag is not None:
    result['parse']['tasks'] = {
        t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    result['parse']['beam_args'] = {
        t.task_id: list(t.python_callable.keywords['beam_pipeline_args'])
        for t in dag.tasks}
    # Executing with Beam options would make TFX build an sdist of itself for
    # every Beam component; the run proves execution, the parse the options.
    os.environ.pop('COCO_CAPTIONS_BEAM_ARGS', None)
    _, dag = _load(dags_folder, dag_id)
    result['runs'] = []
    for _ in range(runs):
      dag_run = dag.test()
      result['runs'].append({
          'run_id': dag_run.run_id,
          'state': str(dag_run.state),
          'tasks': {ti.task_id: str(ti.state)
                    for ti in dag_run.get_task_instances()},
      })
  with open(out_path, 'w') as f:
    json.dump(result, f, indent=1)


if __name__ == '__main__':
  main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
