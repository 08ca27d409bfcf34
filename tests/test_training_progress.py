"""The Trainer's progress callback: events for the console, log lines
without one."""

import logging

import coco_captions_utils as module
from coco_captions.run.training_progress import TrainingProgress


class _Clock:

  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def test_training_progress_reaches_an_installed_console_as_events(collected):
  # 160 images in batches of 8: 20 steps a pass, 5 passes, 100 steps.
  progress = TrainingProgress(module.TrainingPlan(160, 8, 5))
  progress.on_epoch_begin(1)
  progress.on_train_batch_end(9, {'loss': 2.5})  # Step 30, in pass 2.
  progress.on_test_begin()
  progress.on_epoch_end(1, {'loss': 2.4, 'val_loss': 2.6})
  progress.on_epoch_end(2, {'loss': 2.3})  # No eval this epoch.
  progress.close()
  update = {'kind': 'update', 'task': 'Training', 'unit': 'steps',
            'done': 30, 'total': 100, 'rate': (8, 'examples')}
  assert collected == [
      dict(update, fields={'epoch': '2/5', 'loss': '2.5000'}),
      # While the eval split is measured, the line says so.
      dict(update, fields={'epoch': '2/5', 'loss': '2.5000',
                           'eval loss': 'computing'}),
      # The eval loss joins the fields when it is measured.
      dict(update, fields={'epoch': '2/5', 'loss': '2.5000',
                           'eval loss': '2.6000'}),
      {'kind': 'close', 'task': 'Training', 'unit': 'steps'},
  ]


def test_training_progress_is_logged_every_30_s_without_a_console(caplog):
  caplog.set_level(logging.INFO, logger='absl')
  clock = _Clock()
  progress = TrainingProgress(module.TrainingPlan(160, 8, 5), clock)
  progress.on_epoch_begin(0)
  progress.on_train_batch_end(9, {'loss': 3.0})  # Step 10: the start.
  clock.now = 20
  progress.on_train_batch_end(19, {'loss': 2.5})  # Not 30 s yet.
  progress.on_epoch_begin(1)
  clock.now = 40
  progress.on_train_batch_end(9, {'loss': 2.0})
  progress.on_epoch_end(1, {'loss': 2.1, 'val_loss': 2.2})
  # 20 steps of 8 examples in 40 s: 4 examples/s; 70 steps take 140 s.
  assert [r.getMessage() for r in caplog.records] == [
      'Training: step 30/100, epoch 2/5, loss 2.0000, 4 examples/s, 2:20 left',
      'Training: epoch 2/5, eval loss 2.2000 (train loss 2.1000)',
  ]
