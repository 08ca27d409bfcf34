"""The default settings learn on a generated dataset of 2,000 images.

The bundled 300 images are too few to tell a model that learns from one that
memorises; this runs the real pipeline (CLI, LocalDagRunner) with every
default on 2,000 generated images (10,000 captions) and requires retrieval far
above chance on the RetrievalEvaluator's pool of ~400 held-out images.
"""

import math
import os
import subprocess
import sys

import pytest

from coco_captions.data import synthetic_data
from coco_captions.pipeline import configs
from coco_captions.reporting import run_record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = 2000


@pytest.fixture(scope='module')
def learned(tmp_path_factory):
  base = tmp_path_factory.mktemp('learning')
  data_root = str(base / 'data')
  synthetic_data.generate(data_root, IMAGES, seed=7, show_progress=False)
  pipeline_root = str(base / 'pipeline')
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'),
       '--data_root', data_root, '--pipeline_root', pipeline_root],
      cwd=ROOT, capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]
  return run_record.read_run(
      os.path.join(pipeline_root, configs.METADATA_FILENAME),
      configs.PIPELINE_NAME)


@pytest.mark.e2e
def test_default_training_follows_the_data(learned):
  t = learned.training
  train_images = learned.image_counts['train']
  assert t['train_images'] == train_images
  assert t['batch_size'] == 64
  assert t['steps_per_epoch'] == train_images // 64
  # 30 epochs of ~25 steps fall short of the 1,000-step floor: at most that
  # many, and fewer where the eval loss stopped improving (early stopping).
  assert t['planned_epochs'] == math.ceil(1000 / t['steps_per_epoch']) > 30
  assert t['epochs'] <= t['planned_epochs']
  assert t['steps'] == t['epochs'] * t['steps_per_epoch']
  stopping = t['phases'][0]['early_stopping']
  assert stopping['kept_eval_loss'] == min(t['eval_loss'])
  # The loss fell far below a batch of 64 at chance, log(64) = 4.16.
  assert t['loss'][-1] < 1.5 and t['eval_loss'][-1] < 2.5, t


@pytest.mark.e2e
def test_default_settings_retrieve_far_above_chance(learned):
  e = learned.evaluation
  eval_images = learned.image_counts['eval']
  assert e['num_images'] == eval_images and 300 < eval_images < 500
  assert e['num_captions'] == 5 * eval_images
  # Chance: R@1 = 1 / ~400, R@5 = 5 / ~400.
  assert e['text_to_image_recall@1'] >= 0.2, e
  assert e['text_to_image_recall@5'] >= 0.5, e
  assert e['image_to_text_recall@1'] >= 0.4, e
  assert learned.blessing['blessed'] == 1
