"""The pipeline as an Airflow 2 DAG: parsed by Airflow, run by Airflow.

A real apache-airflow install (the `airflow` extra) loads
coco_captions_airflow.py through a DagBag, as the scheduler does, and runs the
DAG twice with `dag.test()` (no scheduler needed) on a tiny dataset.
"""

import json
import os
import subprocess
import sys

import pytest

from coco_captions import run_summary, synthetic_data

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_airflow_test'
BEAM_ARGS = ['--direct_running_mode=multi_processing',
             '--direct_num_workers=2', '--job_name=coco captions']


@pytest.fixture(scope='module')
def airflow_run(tmp_path_factory):
  """(what tests/airflow_dag_run.py saw, the settings it ran with)."""
  work = tmp_path_factory.mktemp('airflow')
  synthetic_data.generate(str(work / 'data'), 20, seed=3)
  env = dict(
      os.environ,
      AIRFLOW_HOME=str(work / 'airflow_home'),
      AIRFLOW__CORE__LOAD_EXAMPLES='False',
      # Importing TFX alone can take longer than Airflow's default 30 s limit
      # for parsing a DAG file (see README).
      AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT='300',
      COCO_CAPTIONS_PIPELINE_NAME=PIPELINE_NAME,
      COCO_CAPTIONS_DATA_ROOT=str(work / 'data'),
      COCO_CAPTIONS_PIPELINE_ROOT=str(work / 'pipeline'),
      COCO_CAPTIONS_TRAIN_STEPS='5',
      COCO_CAPTIONS_EVAL_STEPS='2',
      COCO_CAPTIONS_BLESSING_THRESHOLD='0',
      # Quoted the way a user writes it in a shell.
      COCO_CAPTIONS_BEAM_ARGS=(
          "--direct_running_mode=multi_processing --direct_num_workers=2 "
          "--job_name='coco captions'"))
  airflow = os.path.join(os.path.dirname(sys.executable), 'airflow')
  migrate = subprocess.run([airflow, 'db', 'migrate'], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
  assert migrate.returncode == 0, migrate.stdout + migrate.stderr
  out, log = work / 'seen.json', work / 'airflow.log'
  with open(log, 'w') as log_file:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'airflow_dag_run.py'),
         str(out)], env=env, cwd=ROOT, stdout=log_file,
        stderr=subprocess.STDOUT, timeout=1500)
  assert result.returncode == 0, log.read_text()[-8000:]
  with open(out) as f:
    return json.load(f), work


def _expected_tasks(work):
  """Component id -> sorted upstream ids, from create_pipeline() itself."""
  from coco_captions import configs, pipeline
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name=PIPELINE_NAME, pipeline_root=str(work / 'expected'),
      data_root=str(work / 'data'), images_root=str(work / 'data' / 'images'),
      module_file=configs.MODULE_FILE,
      serving_model_dir=str(work / 'expected' / 'serving'))
  return {c.id: sorted(u.id for u in c.upstream_nodes)
          for c in tfx_pipeline.components}


def test_dag_file_imports_without_errors(airflow_run):
  parse = airflow_run[0]['parse']
  assert parse['import_errors'] == {}
  assert parse['dag_ids'] == [PIPELINE_NAME]


def test_dag_tasks_and_dependencies_match_the_pipeline(airflow_run):
  seen, work = airflow_run
  expected = _expected_tasks(work)
  assert len(expected) == 11
  assert seen['parse']['tasks'] == expected


def test_beam_options_reach_every_task_unchanged(airflow_run):
  for task, args in airflow_run[0]['parse']['beam_args'].items():
    assert args == BEAM_ARGS, task


def _executions(metadata_path):
  """run id -> {component id: state}, from the legacy launchers' records."""
  store = run_summary.connect(metadata_path)
  runs = {}
  for execution in store.get_executions():
    props = execution.properties
    runs.setdefault(props['run_id'].string_value, {})[
        props['component_id'].string_value] = props['state'].string_value
  return runs


def test_airflow_runs_the_pipeline_then_reuses_it(airflow_run):
  seen, work = airflow_run
  first, second = seen['runs']
  components = sorted(seen['parse']['tasks'])
  for run in (first, second):
    assert run['state'] == 'success', (
        run, (work / 'airflow.log').read_text()[-8000:])
    assert run['tasks'] == {c: 'success' for c in components}

  executions = _executions(str(work / 'pipeline' / 'metadata.sqlite'))
  assert sorted(executions) == sorted([first['run_id'], second['run_id']])
  # Every component really ran the first time (the resolver only looks up).
  assert executions[first['run_id']] == dict(
      {c: 'complete' for c in components},
      latest_blessed_model_resolver='cached')
  # Nothing changed: the second run reuses everything up to the model.
  second_states = executions[second['run_id']]
  for component in ('CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen',
                    'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage',
                    'Transform', 'Trainer'):
    assert second_states[component] == 'cached', component

  # The first model was blessed (threshold 0, no baseline) and pushed once.
  versions = os.listdir(work / 'pipeline' / 'serving_model')
  assert len(versions) == 1
  assert os.path.isfile(
      work / 'pipeline' / 'serving_model' / versions[0] / 'saved_model.pb')
