"""The compiled Vertex AI Pipelines spec, run pod by pod as the cluster runs it.

The pipeline is compiled here twice on the bundled data with local roots, and
every task of each JSON is executed by tests/kfp_launcher.py as Vertex's
launcher would: in dependency order, each container command with the
ExecutorInput the launcher builds, the resolvers answered from the
artifacts of the runs before. Every command
runs as in a pod of the Dockerfile's image: from its working directory, with
its environment and the main lock's packages (tests/image_env.py), in a
private mount namespace whose root has the image's project at /pipeline and
this checkout hidden, so nothing can be read from where it was compiled.

  run 1: --user_code=wheel, compiled from a copy of the module file whose
         model embeds in 96 dimensions (the image's copy: 128), 100 steps:
         the pods must train the compiled code, bless it and push it.
  run 2: --user_code=image, one training step: the image's code trains a
         model worse than run 1's, which the evaluator must find as its
         baseline (threshold 0: only the baseline can refuse it); no push.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

import coco_captions_kubeflow as kubeflow

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, 'tests', 'kfp_launcher.py')


def _cannot_run() -> str:
  """Why pods cannot be made here, or ''."""
  if os.geteuid() != 0:
    return 'needs root for a private mount namespace, an overlay and chroot'
  if not shutil.which('unshare'):
    return 'needs unshare (util-linux)'
  probe = subprocess.run(
      ['unshare', '-m', '--propagation', 'private', 'mount', '-t', 'tmpfs',
       'tmpfs', '/mnt'], capture_output=True, text=True, check=False)
  if probe.returncode:
    return f'cannot mount in a private namespace: {probe.stderr.strip()}'
  return ''


@pytest.fixture(scope='module')
def pods(tmp_path_factory, request):
  """(work dir, run(name, spec) -> the launcher's report)."""
  reason = _cannot_run()
  if reason:
    pytest.skip(f'Kubeflow pods cannot be made here: {reason}')
  work = tmp_path_factory.mktemp('kfp_pods')
  # Only now: where pods cannot be made, no image is built.
  image = request.getfixturevalue('image')
  shutil.copytree(os.path.join(ROOT, 'data'), work / 'data')
  (work / 'logs').mkdir()

  def run(name, spec):
    report = work / f'{name}.report.json'
    command = [
        getattr(sys, '_base_executable', sys.executable), '-I', LAUNCHER,
        '--spec', str(spec), '--pipeline_root', str(work / 'root'),
        '--run', name, '--store', str(work / 'store.json'),
        '--report', str(report), '--logs', str(work / 'logs'),
        '--workdir', image.workdir, '--env', json.dumps(image.env),
        '--pods', '--scratch', str(work / f'{name}.overlay'),
        '--work', str(work), '--project', image.project, '--hide', ROOT]
    result = subprocess.run(
        ['unshare', '-m', '--propagation', 'private', *command],
        capture_output=True, text=True, timeout=3000, check=False)
    with open(report) as f:
      found = json.load(f)
    failed = [t for t, r in found['tasks'].items() if r['state'] == 'FAILED']
    logs = ''.join(open(work / 'logs' / f'{name}-{t}.log').read()[-6000:]
                   for t in failed)
    assert result.returncode == 0, (found['tasks'], result.stderr, logs)
    return found

  return work, run


def _compile(work, name, *flags):
  path = kubeflow.compile_pipeline([
      '--pipeline_root', str(work / 'root'), '--data_root', str(work / 'data'),
      '--images_root', str(work / 'data' / 'images'),
      '--image', 'coco-captions-tfx:test', '--blessing_threshold', '0',
      '--output_file', str(work / f'{name}.json'), *flags])
  return path


def _edited_code(work):
  """The project's user code, its model embedding in 96 dimensions."""
  code = work / 'compiling'
  code.mkdir()
  model_dir = os.path.join(ROOT, 'model')
  for name in os.listdir(model_dir):
    if name.endswith('.py'):
      shutil.copy(os.path.join(model_dir, name), code / name)
  hparams = code / 'coco_captions_hparams.py'
  text = hparams.read_text()
  edited = text.replace("        128, TRAINER, 'Size of the image and",
                        "        96, TRAINER, 'Size of the image and")
  assert edited != text
  hparams.write_text(edited)
  return code / 'coco_captions_utils.py'


def _one(report, task, key):
  """The artifact task's output `key` holds in a run."""
  (artifact,) = [a for a in report['artifacts']
                 if a['task'] == task and a['run'] == report['run'] and
                 a['uri'].endswith('/' + key)]
  return artifact


def _embedding_dim(model):
  loaded = tf.saved_model.load(os.path.join(model['uri'], 'Format-Serving'))
  spec = loaded.signatures['embed_captions'].structured_outputs
  return int(next(iter(spec.values())).shape[-1])


@pytest.fixture(scope='module')
def two_runs(pods):
  work, run = pods
  module = _edited_code(work)
  first_spec = _compile(work, 'run1', '--module_file', str(module),
                        '--train_steps', '100')
  shutil.rmtree(work / 'compiling')  # Nothing may need the compiling copy.
  first = run('run1', first_spec)
  second_spec = _compile(work, 'run2', '--user_code', 'image',
                         '--train_steps', '1')
  second = run('run2', second_spec)
  return work, (first_spec, first), (second_spec, second)


def test_the_specs_hold_no_path_of_where_they_were_compiled(two_runs):
  work, (first_spec, _), (second_spec, _) = two_runs
  for path in (first_spec, second_spec):
    with open(path) as f:
      text = f.read()
    assert ROOT not in text and str(work / 'compiling') not in text


def test_every_task_runs_in_the_pods(two_runs):
  _, (first_spec, first), (_, second) = two_runs
  with open(first_spec) as f:
    tasks = json.load(f)['pipelineSpec']['root']['dag']['tasks']
  resolvers = {t for t in tasks if 'resolver' in t}
  assert len(tasks) == 12 and len(resolvers) == 2
  for run in (first, second):
    assert {t: r['state'] for t, r in run['tasks'].items()} == {
        t: 'RESOLVED' if t in resolvers else 'SUCCEEDED' for t in tasks}


def test_the_first_run_trains_the_compiled_code_blesses_and_pushes(two_runs):
  work, (_, first), _ = two_runs
  model = _one(first, 'Trainer', 'model')
  assert _embedding_dim(model) == 96  # The wheel's code, not the image's.
  blessing = _one(first, 'RetrievalEvaluator', 'blessing')
  assert blessing['metadata']['blessed'] == 1
  assert 'no earlier blessed model' in blessing['metadata']['reason']
  assert blessing['metadata']['current_model_id'] == model['name']
  assert _one(first, 'Pusher', 'pushed_model')['metadata']['pushed'] == 1
  (version,) = os.listdir(work / 'root' / 'serving_model')
  assert os.path.isfile(work / 'root' / 'serving_model' / version /
                        'saved_model.pb')


def test_the_second_run_is_judged_against_the_first_and_not_pushed(two_runs):
  work, (_, first), (_, second) = two_runs
  model = _one(second, 'Trainer', 'model')
  assert _embedding_dim(model) == 128  # The image's code.
  blessing = _one(second, 'RetrievalEvaluator', 'blessing')
  assert blessing['metadata']['baseline_model_id'] == (
      _one(first, 'Trainer', 'model')['name'])
  assert blessing['metadata']['blessed'] == 0
  assert 'worse than the latest blessed model' in (
      blessing['metadata']['reason'])
  assert _one(second, 'Pusher', 'pushed_model')['metadata']['pushed'] == 0
  assert len(os.listdir(work / 'root' / 'serving_model')) == 1
