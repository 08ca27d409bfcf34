"""Loads coco_captions_airflow.py the way Airflow does and runs its DAG.

Run as a subprocess by test_airflow_e2e.py, with AIRFLOW_HOME and the
COCO_CAPTIONS_* settings in the environment (Airflow reads its configuration
once, at import). Writes what it saw as JSON to argv[1]:

  parse: {beam_args_setting, import_errors, dag_ids, tasks: {id: upstream},
          beam_args: {id: [...]}}  from a parse with COCO_CAPTIONS_BEAM_ARGS
  runs:  [{state, tasks: {id: state}}]  two dag.test() runs, Beam args unset
"""

import json
import os
import sys

DAG_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    'coco_captions_airflow.py')


def _load(dag_id):
  from airflow.models.dagbag import DagBag
  bag = DagBag(dag_folder=DAG_FILE, include_examples=False)
  return bag, bag.dags.get(dag_id)


def main(out_path):
  dag_id = os.environ['COCO_CAPTIONS_PIPELINE_NAME']
  bag, dag = _load(dag_id)
  result = {'parse': {
      'beam_args_setting': os.environ.get('COCO_CAPTIONS_BEAM_ARGS', ''),
      'import_errors': {k: str(v) for k, v in bag.import_errors.items()},
      'dag_ids': sorted(bag.dags),
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
    _, dag = _load(dag_id)
    result['runs'] = []
    for _ in range(2):
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
  main(sys.argv[1])
