"""Shared fixtures, each made once for all xdist workers (a tiny dataset, a
model trained on it by run_fn, the Dockerfile's image), and the workers'
schedule."""

import fcntl
import json
import logging
import os
import shutil

import pytest

import trainer_harness
from coco_captions.data import synthetic_data
from coco_captions.run import progress

TINY_IMAGES = 20
# Enough passes over 16 train images for the model to tell them apart.
TINY_TRAIN_EPOCHS = 100
TINY_EMBEDDING_DIM = 16


def _once(tmp_path_factory, name, make):
  """The directory `name` after `make(directory)`, made once for all the test
  processes of the session (xdist's workers): the first makes it, the others
  wait for it. Its users only read it."""
  base = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    base = base.parent  # The workers' common directory, this session's.
  directory, done = base / name, base / f'{name}.done'
  with open(base / f'{name}.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not done.exists():
      shutil.rmtree(directory, ignore_errors=True)
      directory.mkdir()
      make(str(directory))
      done.touch()
  return str(directory)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
  """20 generated images, five captions each."""
  return _once(tmp_path_factory, 'tiny_data', lambda directory: (
      synthetic_data.generate(directory, TINY_IMAGES, seed=3)))


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory, tiny_data):
  """(FnArgs, data dir) after run_fn trained on `tiny_data`.

  The SavedModel is at fn_args.serving_model_dir.
  """
  import coco_captions_utils

  def fn_args(work):
    return trainer_harness.make_fn_args(
        os.path.join(work, 'examples'), os.path.join(work, 'transform_graph'),
        work, train_steps=None, eval_steps=None,
        custom_config={'batch_size': 8, 'embedding_dim': TINY_EMBEDDING_DIM,
                       # Run exactly: an epoch count a user sets has no
                       # floor of steps (200 here, the floor is 1,000).
                       'image_size': 32, 'train_epochs': TINY_TRAIN_EPOCHS})

  def train(work):
    trainer_harness.write_transformed_dataset(tiny_data, work, image_size=32)
    coco_captions_utils.run_fn(fn_args(work))

  return fn_args(_once(tmp_path_factory, 'tiny_model', train)), tiny_data


_PODS_IMPORT = (
    'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor',
    'tfx.orchestration.kubeflow.v2.file_based_example_gen.driver',
    'tfx.components.transform.executor', 'tfx.components.trainer.executor',
    'tfx.components.statistics_gen.executor', 'coco_captions.pipeline.grouping',
    'coco_captions.pipeline.evaluator')


@pytest.fixture(scope='session')
def image(tmp_path_factory):
  """The Dockerfile's image (tests/image_env.py), built once for every test
  process of the session."""
  import image_env

  def build(directory):
    built = image_env.build(os.path.join(directory, 'image'),
                            compiled=_PODS_IMPORT)
    with open(os.path.join(directory, 'image.json'), 'w') as f:
      json.dump(built._asdict(), f)

  with open(os.path.join(_once(tmp_path_factory, 'image', build),
                         'image.json')) as f:
    return image_env.Image(**json.load(f))


# The test files that share the session fixture `runs` below.
_BUNDLED_RUNS_FILES = ('test_pipeline_e2e.py', 'test_report_e2e.py')


# The longest test files (--durations, BENCHMARKS.md "The test suite"),
# longest first: started first, so that no worker is left with one of them
# while the others have finished.
_LONGEST_FIRST = ('test_kubeflow_pods_e2e.py', 'test_tfx_cli_e2e.py',
                  'test_portable_runner_e2e.py',
                  'test_bad_data_and_recovery_e2e.py', 'bundled_runs',
                  'test_learning_e2e.py', 'test_benchmarks_e2e.py',
                  'test_concurrent_runs_e2e.py', 'test_hostile_input_e2e.py')


def _priority(scope: str, tests: int):
  """Sort key of a test file: the longest known first, then the other
  end-to-end files, then the rest by their number of tests."""
  name = os.path.basename(scope)
  if name in _LONGEST_FIRST:
    return (0, _LONGEST_FIRST.index(name), 0)
  return (1 if name.endswith('_e2e.py') else 2, 0, -tests)


def pytest_xdist_auto_num_workers(config):
  """`-n auto`: a worker more than the cores, at most 4 (an e2e run takes
  2-3 GiB). The e2e tests spend part of their time waiting on the processes
  they start (pods, workers, services), which leaves a core idle."""
  del config
  return min(len(os.sched_getaffinity(0)) + 1, 4)


def pytest_xdist_make_scheduler(config, log):
  """Under pytest-xdist, each test file runs whole on one worker, so its
  module fixtures are made once; the files that use the bundled runs share
  a worker, so those are made once too. The longest files start first."""
  from xdist.scheduler import LoadScopeScheduling  # pylint: disable=import-outside-toplevel

  class FileScheduling(LoadScopeScheduling):

    def _split_scope(self, nodeid):
      path = nodeid.split('::', 1)[0]
      if os.path.basename(path) in _BUNDLED_RUNS_FILES:
        return 'bundled_runs'
      return path

    def _assign_work_unit(self, node):
      ordered = sorted(self.workqueue.items(),
                       key=lambda item: _priority(item[0], len(item[1])))
      self.workqueue.clear()
      self.workqueue.update(ordered)
      super()._assign_work_unit(node)

  return FileScheduling(config, log)


@pytest.fixture(scope='session')
def runs(tmp_path_factory):
  """The bundled data through the CLI four times (e2e_runs.bundled_runs).

  Session-scoped so the pipeline and report e2e tests share one set of runs.
  """
  import e2e_runs
  return e2e_runs.bundled_runs(tmp_path_factory.mktemp('e2e'))


@pytest.fixture
def collected():
  """The progress events sent while the test runs, as a console would."""
  events = []

  class Collect(logging.Handler):

    def emit(self, record):
      events.append(record.progress)

  logger = logging.getLogger(progress.LOGGER)
  handler, level = Collect(), logger.level
  logger.addHandler(handler)
  logger.setLevel(logging.INFO)
  yield events
  logger.removeHandler(handler)
  logger.setLevel(level)
