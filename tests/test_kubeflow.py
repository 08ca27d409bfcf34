"""The pipeline compiled for Kubeflow Pipelines v2, checked with the kfp SDK."""

import json

from google.protobuf import json_format
from kfp import components
from kfp.pipeline_spec import pipeline_spec_pb2
import pytest

import coco_captions_kubeflow as kubeflow

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
  assert any('coco_captions.validation' in a for a in gate_args)


def test_beam_options_reach_every_beam_component_unchanged(job):
  executors = job['pipelineSpec']['deploymentSpec']['executors']
  for name in BEAM_COMPONENTS:
    args = executors[f'{name}_executor']['container']['args']
    assert args[-len(BEAM_ARGS):] == BEAM_ARGS, (name, args)


def test_module_file_is_shipped_as_a_wheel_under_the_pipeline_root(job, out):
  text = json.dumps(job)
  for component in ('transform', 'trainer'):
    wheels = list((out / 'root' / '_wheels').glob(
        f'tfx_user_code_{component}-*.whl'))
    assert len(wheels) == 1
    assert f'coco_captions_utils@{wheels[0]}' in text
