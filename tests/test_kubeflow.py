"""The pipeline compiled for Vertex AI Pipelines (KFP v2), checked with the kfp
SDK, and what its pods import checked in the image's environment.

tests/test_kubeflow_pods_e2e.py runs the compiled pipeline pod by pod."""

import json
import os
import subprocess

from google.protobuf import json_format
from kfp import components
from kfp.pipeline_spec import pipeline_spec_pb2
import pytest

import coco_captions_kubeflow as kubeflow
import image_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IMAGE = 'europe-docker.pkg.dev/my-project/ml/coco-captions-tfx:7'
BEAM_ARGS = ['--runner=DataflowRunner', '--project=my-project',
             '--region=europe-west4', '--temp_location=gs://bucket/tmp']
BEAM_COMPONENTS = ['CsvExampleGen', 'StatisticsGen', 'ExampleValidator',
                   'GroupCaptionsByImage', 'Transform']


@pytest.fixture(scope='module')
def out(tmp_path_factory):
  return tmp_path_factory.mktemp('kfp')


@pytest.fixture(scope='module')
def job(out):
  path = kubeflow.compile_pipeline([
      '--pipeline_root', str(out / 'root'), '--data_root', 'gs://bucket/csv',
      '--images_root', 'gs://bucket/train2014', '--image', IMAGE,
      '--output_file', str(out / 'pipeline.json'), *BEAM_ARGS])
  with open(path) as f:
    return json.load(f)


def test_spec_is_valid_for_the_kfp_sdk(job):
  # Strict parse against KFP's PipelineSpec proto: unknown fields fail.
  spec = json_format.ParseDict(job['pipelineSpec'],
                               pipeline_spec_pb2.PipelineSpec())
  assert spec.pipeline_info.name == 'coco-captions'
  # And the SDK loads it as a component that can be submitted or nested.
  component = components.load_component_from_text(
      json.dumps(job['pipelineSpec']))
  assert component.name == 'coco-captions'


def test_every_component_is_a_task_with_its_dependencies(job):
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  depends = {name: sorted(task.get('dependentTasks', []))
             for name, task in tasks.items()}
  assert depends == {
      'CsvExampleGen': [],
      'ImportSchemaGen': [],
      'StatisticsGen': ['CsvExampleGen'],
      'ExampleValidator': ['ImportSchemaGen', 'StatisticsGen'],
      'AnomaliesGate': ['ExampleValidator'],
      'GroupCaptionsByImage': ['AnomaliesGate', 'CsvExampleGen'],
      'Transform': ['GroupCaptionsByImage'],
      'Trainer': ['GroupCaptionsByImage', 'Transform'],
      'latest_blessed_model_resolver-model-resolver': [],
      'latest_blessed_model_resolver-model-blessing-resolver': [],
      'RetrievalEvaluator': ['CsvExampleGen', 'Trainer',
                             'latest_blessed_model_resolver-model-resolver'],
      'Pusher': ['RetrievalEvaluator', 'Trainer'],
  }


def test_every_container_runs_the_configured_image(job):
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  containers = {name: e['container'] for name, e in executors.items()
                if 'container' in e}
  assert {f'{c}_executor' for c in ('CsvExampleGen', 'Transform', 'Trainer',
                                    'RetrievalEvaluator', 'AnomaliesGate',
                                    'Pusher')} <= set(containers)
  assert {c['image'] for c in containers.values()} == {IMAGE}
  # Our own components run from the package installed in the image.
  gate_args = containers['AnomaliesGate_executor']['args']
  assert any('coco_captions.pipeline.validation' in a for a in gate_args)


def test_beam_options_reach_every_beam_component_unchanged(job):
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  for name in BEAM_COMPONENTS:
    args = executors[f'{name}_executor']['container']['args']
    assert args[-len(BEAM_ARGS):] == BEAM_ARGS, (name, args)


def test_module_file_is_shipped_as_a_wheel_under_the_pipeline_root(job, out):
  text = json.dumps(job)
  for component in ('transform', 'trainer', 'groupcaptionsbyimage'):
    wheels = list((out / 'root' / '_wheels').glob(
        f'tfx_user_code_{component}-*.whl'))
    assert len(wheels) == 1, component
    assert f'coco_captions_utils@{wheels[0]}' in text


def test_the_spec_holds_no_path_of_the_compiling_checkout(job):
  assert ROOT not in json.dumps(job)


def _modules_run(job):
  """Every module the pods' commands run and every executor class they load."""
  modules, classes = set(), set()
  for executor in job['pipelineSpec']['deploymentSpec']['executors'].values():
    container = executor.get('container')
    if not container:
      continue
    hooks = [h for h in container.get('lifecycle', {}).values()]
    for words in [container['command'] + container['args']] + [
        h['command'] + h.get('args', []) for h in hooks]:
      modules.add(words[words.index('-m') + 1])
      if '--executor_class_path' in words:
        classes.add(words[words.index('--executor_class_path') + 1])
  return sorted(modules), sorted(classes)


def test_every_module_the_pods_run_imports_with_the_images_lock(
    job, image, tmp_path):
  modules, classes = _modules_run(job)
  assert 'tfx.orchestration.kubeflow.v2.file_based_example_gen.driver' in (
      modules)
  assert 'coco_captions.pipeline.evaluator.RetrievalEvaluatorExecutor' in classes
  check = ('import importlib, sys\n'
           'for name in sys.argv[1:]:\n'
           '  if name.startswith("class:"):\n'
           '    module, _, attribute = name[len("class:"):].rpartition(".")\n'
           '    getattr(importlib.import_module(module), attribute)\n'
           '  else:\n'
           '    importlib.import_module(name)\n')
  result = subprocess.run(
      [image.python, '-c', check, *modules,
       *(f'class:{c}' for c in classes)],
      cwd=str(tmp_path), env=image.env, capture_output=True, text=True,
      timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]


def test_the_image_is_built_as_the_pod_test_builds_it():
  found = image_env.dockerfile()
  assert found.workdir == kubeflow.IMAGE_PROJECT_DIR
  assert image_env.INSTALL_LOCK in ' '.join(found.runs)
  assert image_env.INSTALL_PROJECT in found.runs
  # A copy of the module file in the working directory must not shadow the
  # one the pods are given.
  assert found.env['PYTHONSAFEPATH'] == '1'


def _patterns(name):
  with open(os.path.join(ROOT, name)) as f:
    return {line.strip() for line in f
            if line.strip() and not line.startswith('#')}


def test_the_image_leaves_out_what_git_ignores():
  # A checkout's virtualenvs, runs and benchmark data (gigabytes) must not
  # reach the build context; .gitignore's patterns match at any depth.
  docker = _patterns('.dockerignore')
  missing = [p for p in _patterns('.gitignore')
             if p not in docker and f'**/{p}' not in docker]
  assert not missing, missing


def test_with_user_code_image_nothing_is_uploaded(tmp_path):
  # Compiles offline: a bucket that cannot be reached is never written to.
  path = kubeflow.compile_pipeline([
      '--pipeline_root', 'gs://coco-captions-test-no-such-bucket/p',
      '--data_root', 'gs://b/csv', '--images_root', 'gs://b/images',
      '--user_code', 'image', '--output_file', str(tmp_path / 'p.json')])
  with open(path) as f:
    text = f.read()
  job = json.loads(text)
  assert '_wheels' not in text and ROOT not in text
  tasks = job['pipelineSpec']['root']['dag']['tasks']
  for name in ('GroupCaptionsByImage', 'Transform', 'Trainer'):
    module_file = tasks[name]['inputs']['parameters']['module_file']
    assert module_file['runtimeValue']['constantValue']['stringValue'] == (
        '/pipeline/model/coco_captions_utils.py'), name
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  assert executors['Trainer_executor']['container']['command'][:2] == [
      'env', 'PYTHONPATH=/pipeline/model']
  assert 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES' not in os.environ


def test_a_pipeline_root_that_cannot_take_the_wheels_is_one_error_line(
    tmp_path, capsys):
  with pytest.raises(SystemExit) as exited:
    kubeflow.compile_pipeline([
        '--pipeline_root', 'gs://coco-captions-test-no-such-bucket/p',
        '--data_root', 'gs://b/csv', '--images_root', 'gs://b/images',
        '--output_file', str(tmp_path / 'p.json')])
  message = str(exited.value.code)
  assert message.startswith('error: cannot write the user-code wheels to '
                            'gs://coco-captions-test-no-such-bucket/p/_wheels (')
  assert message.endswith('or compile with --user_code=image to run the code '
                          'the image holds')
  assert '\n' not in message
  assert not (tmp_path / 'p.json').exists()
