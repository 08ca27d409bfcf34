"""TFX's own CLI drives the runner files on every engine it supports.

`tfx pipeline create|update|compile` executes a runner file only to read its
pipeline: the file must hand it over and do nothing else, even right after a
finished run. `tfx run create` runs the file as a user would; the Beam
engine's run has each Beam component's work in worker processes (the
multi-process DirectRunner). Settings reach the files as COCO_CAPTIONS_*
environment variables; each engine's CLI home (LOCAL_HOME, BEAM_HOME,
AIRFLOW_HOME, VERTEX_HOME) is a temporary directory, and every command runs
from a directory that is not the checkout, without PYTHONPATH.
"""

import json
import os
import subprocess
import sys

import pytest

from coco_captions.data import synthetic_data
from coco_captions.pipeline import configs, pipeline
from coco_captions.reporting import run_record

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
HOMES = ('LOCAL_HOME', 'BEAM_HOME', 'AIRFLOW_HOME', 'VERTEX_HOME')
COMPONENTS = ['CsvExampleGen', 'ImportSchemaGen',
              'latest_blessed_model_resolver', 'StatisticsGen',
              'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage',
              'Transform', 'Trainer', 'RetrievalEvaluator', 'Pusher']


def _env(home_variable, home, **coco_settings):
  # TFX's CLI calls `pip` and `airflow` by name. Without PYTHONPATH: the
  # copied Airflow DAG file imports the package installed in the virtualenv.
  env = {k: v for k, v in os.environ.items()
         if not k.startswith('COCO_CAPTIONS_') and k != 'PYTHONPATH'}
  env.update(PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
             **{home_variable: str(home)})
  env.update({f'COCO_CAPTIONS_{k.upper()}': str(v)
              for k, v in coco_settings.items()})
  return env


def _tfx(env, *args, timeout=600):
  # From the CLI home's parent, not the checkout.
  cwd = os.path.dirname(next(env[home] for home in HOMES if home in env))
  result = subprocess.run([os.path.join(BIN, 'tfx'), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
  assert result.returncode == 0, (
      f'tfx {" ".join(args)}: exit {result.returncode}\n{result.stdout}\n'
      f'{result.stderr[-5000:]}')
  return result.stdout


def _dependencies(tfx_pipeline):
  return {c.id: sorted(u.id for u in c.upstream_nodes)
          for c in tfx_pipeline.components}


# The Beam engine's runner with Beam's multi-process DirectRunner: every Beam
# component's work in worker processes, not the launching one.
_BEAM_ARGS = {'local': None,
              'beam': '--direct_running_mode=multi_processing '
                      '--direct_num_workers=1'}


@pytest.mark.parametrize('engine, runner', [
    ('local', 'coco_captions_local.py'), ('beam', 'coco_captions_beam.py')])
def test_pipeline_create_run_create_run_list(tmp_path, engine, runner):
  synthetic_data.generate(str(tmp_path / 'data'), 20, seed=3)
  name = f'coco_cli_{engine}'
  home, root = tmp_path / 'home', tmp_path / 'pipeline'
  beam_args = {'beam_args': _BEAM_ARGS[engine]} if _BEAM_ARGS[engine] else {}
  env = _env(f'{engine.upper()}_HOME', home, pipeline_name=name,
             data_root=tmp_path / 'data', pipeline_root=root, train_steps=5,
             eval_steps=1, blessing_threshold=0, blessing_significance=1,
             **beam_args)
  path = os.path.join(ROOT, runner)
  flags = ['--engine', engine, '--pipeline_path', path]

  created = _tfx(env, 'pipeline', 'create', *flags)
  assert f'Pipeline "{name}" created successfully.' in created
  # The file handed its pipeline over and did nothing else: no lock, log,
  # metadata or record (TFX's SQLite config makes the metadata's directory).
  assert not root.exists() or not any(root.iterdir())
  with open(home / name / 'pipeline_args.json') as f:
    assert json.load(f) == {'pipeline_name': name, 'pipeline_root': str(root),
                            'pipeline_dsl_path': path}

  ran = _tfx(env, 'run', 'create', '--engine', engine, '--pipeline_name', name,
             timeout=1500)
  assert 'Transform finished in' in ran
  (summary_line,) = [line for line in ran.splitlines()
                     if line.startswith(f'Pipeline {name}, run ')]
  assert 'Report:' in ran
  summary = run_record.read_run(str(root / 'metadata.sqlite'), name)
  assert summary_line == f'Pipeline {name}, run {summary.run_id}'
  assert sorted(c.component_id for c in summary.components) == sorted(
      COMPONENTS)
  assert {c.state for c in summary.components} == {'COMPLETE'}
  assert summary.was_pushed
  assert os.listdir(root / 'serving_model')

  # TFX 1.16's CLI lists runs of Airflow, Kubeflow and Vertex only.
  listed = _tfx(env, 'run', 'list', '--engine', engine, '--pipeline_name', name)
  assert listed.strip().endswith(f'Not supported for {engine} orchestrator.')

  # Right after a finished run, which the file itself would answer with
  # "Nothing changed", TFX's CLI still gets the pipeline, and only that.
  # (`pipeline create` reads the file as `update` does: TFX's handler runs
  # create with overwrite.)
  out = _tfx(env, 'pipeline', 'update', *flags)
  assert 'Nothing changed' not in out and 'Report:' not in out, out
  assert f'Pipeline "{name}" updated successfully.' in out
  again = subprocess.run([sys.executable, path], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=600)
  assert again.stdout.startswith(
      f'Nothing changed since run {summary.run_id}'), again.stdout


def test_airflow_pipeline_create_installs_a_dag_airflow_loads(
    tmp_path):
  name = 'coco_cli_airflow'
  home = tmp_path / 'airflow_home'
  synthetic_data.generate(str(tmp_path / 'data'), 20, seed=4)
  env = _env('AIRFLOW_HOME', home, pipeline_name=name,
             pipeline_root=tmp_path / 'pipeline', train_steps=5, eval_steps=2,
             data_root=tmp_path / 'data', blessing_threshold=0,
             blessing_significance=1)
  env.update(AIRFLOW__CORE__LOAD_EXAMPLES='False',
             AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT='300')
  dag_file = os.path.join(ROOT, 'coco_captions_airflow.py')
  flags = ['--engine', 'airflow', '--pipeline_path', dag_file]
  assert 'Pipeline compiled successfully.' in _tfx(env, 'pipeline', 'compile',
                                                    *flags)
  assert f'Pipeline "{name}" created successfully.' in _tfx(
      env, 'pipeline', 'create', *flags)
  installed = home / 'dags' / name / 'coco_captions_airflow.py'
  with open(dag_file) as f:
    assert installed.read_text() == f.read()

  # Airflow's own loader on the DAGs folder, as its scheduler reads it.
  load = ('import json, sys\n'
          'from airflow.models.dagbag import DagBag\n'
          'bag = DagBag(dag_folder=sys.argv[1], include_examples=False)\n'
          'print(json.dumps({"errors": {k: str(v) for k, v in '
          'bag.import_errors.items()}, "tasks": {d: {t.task_id: sorted('
          't.upstream_task_ids) for t in dag.tasks} for d, dag in '
          'bag.dags.items()}}))\n')
  loaded = subprocess.run([sys.executable, '-c', load, str(home / 'dags')],
                          env=env, cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=600)
  assert loaded.returncode == 0, loaded.stderr[-5000:]
  seen = json.loads(loaded.stdout.strip().splitlines()[-1])
  assert seen['errors'] == {}
  expected = _dependencies(pipeline.create_pipeline(
      pipeline_name=name, pipeline_root=str(tmp_path / 'expected'),
      data_root=configs.DATA_ROOT,
      images_root=os.path.join(configs.DATA_ROOT, 'images'),
      module_file=configs.MODULE_FILE, serving_model_dir='/serving'))
  assert seen['tasks'] == {name: expected}
  # tests/test_airflow_e2e.py runs a copy installed the same way, twice.


def test_vertex_compile_and_create_write_the_kubeflow_runners_spec(tmp_path):
  import coco_captions_kubeflow
  image = 'europe-docker.pkg.dev/p/ml/coco-captions-tfx:7'
  beam_args = '--runner=DataflowRunner --project=p --region=europe-west4'
  settings = dict(pipeline_root=tmp_path / 'root', data_root='gs://b/csv',
                  images_root='gs://b/train2014', image=image,
                  output_file=tmp_path / 'compiled.json', train_steps=50)
  home = tmp_path / 'vertex_home'
  env = _env('VERTEX_HOME', home, beam_args=beam_args, **settings)
  flags = ['--engine', 'vertex', '--pipeline_path',
           os.path.join(ROOT, 'coco_captions_kubeflow.py')]
  compiled = _tfx(env, 'pipeline', 'compile', *flags)
  assert 'Pipeline coco-captions compiled successfully.' in compiled
  assert 'Wrote ' not in compiled
  assert 'Pipeline "coco-captions" created successfully.' in _tfx(
      env, 'pipeline', 'create', *flags)

  expected_path = coco_captions_kubeflow.compile_pipeline(
      [f'--{k}={v}' for k, v in settings.items() if k != 'output_file'] +
      [f'--output_file={tmp_path / "expected.json"}', *beam_args.split()])
  with open(expected_path) as f:
    expected = json.load(f)
  for path in (tmp_path / 'compiled.json',
               home / 'coco-captions' / 'pipeline.json'):
    with open(path) as f:
      written = json.load(f)
    assert written['pipelineSpec'] == expected['pipelineSpec'], path
    assert written['runtimeConfig'] == expected['runtimeConfig'], path
  tasks = expected['pipelineSpec']['root']['dag']['tasks']
  assert {'CsvExampleGen', 'Transform', 'Trainer', 'RetrievalEvaluator',
          'Pusher'} <= set(tasks)
  trainer_args = json.dumps(expected['pipelineSpec']['deploymentSpec'][
      'executors']['Trainer_executor'])
  assert image in trainer_args
