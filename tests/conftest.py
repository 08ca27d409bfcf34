"""Shared fixtures: a tiny dataset and a model trained on it by run_fn."""

import logging

import pytest

import trainer_harness
from coco_captions import progress, synthetic_data

TINY_IMAGES = 20
# Enough passes over 16 train images for the model to tell them apart.
TINY_TRAIN_EPOCHS = 100
TINY_EMBEDDING_DIM = 16


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
  """20 generated images, five captions each."""
  data_dir = str(tmp_path_factory.mktemp('tiny_data'))
  synthetic_data.generate(data_dir, TINY_IMAGES, seed=3)
  return data_dir


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory, tiny_data):
  """(FnArgs, data dir) after run_fn trained on `tiny_data`.

  The SavedModel is at fn_args.serving_model_dir.
  """
  import coco_captions_utils

  work = str(tmp_path_factory.mktemp('tiny_model'))
  examples_uri, graph_uri = trainer_harness.write_transformed_dataset(
      tiny_data, work, image_size=32)
  fn_args = trainer_harness.make_fn_args(
      examples_uri, graph_uri, work, train_steps=None, eval_steps=None,
      custom_config={'batch_size': 8, 'embedding_dim': TINY_EMBEDDING_DIM,
                     # Run exactly: an epoch count a user sets has no
                     # floor of steps (200 here, the floor is 1,000).
                     'image_size': 32, 'train_epochs': TINY_TRAIN_EPOCHS})
  coco_captions_utils.run_fn(fn_args)
  return fn_args, tiny_data


# First: pytest-xdist reads the groups in its own hook.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
  """Under pytest-xdist (`--dist loadgroup`), each test file runs whole on
  one worker, so its module fixtures are made once; the files that use the
  bundled runs below share a worker, so those are made once too."""
  for item in items:
    definitions = item._fixtureinfo.name2fixturedefs.get('runs', ())  # pylint: disable=protected-access
    shared = any(d.func.__module__ == __name__ for d in definitions)
    item.add_marker(pytest.mark.xdist_group(
        'bundled_runs' if shared else item.module.__name__))


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
