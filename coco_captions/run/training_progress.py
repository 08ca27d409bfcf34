"""The Trainer's progress: a Keras callback that reports steps, epochs, the
loss and the eval loss as training goes (`TrainingProgress`).

The module file's `run_fn` uses it; the events go to the progress logger
(coco_captions.run.progress), which the local runner's console draws as one
live line.
"""

import math
import time

from absl import logging
# TFT is Keras 2 only; `tf_keras` is Keras 2 under TF 2.16.
import tf_keras as keras

from coco_captions.run import progress

# Where nothing draws them (Airflow, Kubeflow), a log line at most this often.
LOG_SECONDS = 30.0


class TrainingProgress(keras.callbacks.Callback):
  """Reports training as it goes: step and epoch out of the total, the
  running loss, examples/s, the time left and the last eval loss.

  The numbers go as events to the progress logger (`progress.send`) where a
  handler draws them (the local runner's console); elsewhere a plain line is
  logged at most every `log_seconds` seconds, and one at every eval.

  `plan` is the module file's `TrainingPlan`: `total_steps`,
  `steps_per_epoch`, `keras_steps_per_epoch` and `batch_size` are read.
  """

  def __init__(self, plan, clock=time.monotonic,
               log_seconds: float = LOG_SECONDS):
    super().__init__()
    self._plan = plan
    self._clock = clock
    self._log_seconds = log_seconds
    self._passes = math.ceil(plan.total_steps / plan.steps_per_epoch)
    self._keras_epoch = 0
    self._step = 0
    # Shown after the step: epoch, running loss, the last eval loss.
    self._fields = {}
    self._first = None
    self._logged = None

  def _send(self, kind: str, message: str, **values):
    progress.send(message, progress.event(kind, 'Training', unit='steps',
                                          **values))

  def _epoch(self) -> str:
    current = min(max(1, math.ceil(self._step / self._plan.steps_per_epoch)),
                  self._passes)
    return f'{current}/{self._passes}'

  def _send_update(self):
    self._send(progress.UPDATE, f'Training: step {self._step}', done=self._step,
               total=self._plan.total_steps,
               rate=(self._plan.batch_size, 'examples'),
               fields=dict(self._fields))

  def line(self, now: float) -> str:
    """The plain progress line at `now` (the fallback's)."""
    text = 'Training: ' + ', '.join(
        [f'step {self._step}/{self._plan.total_steps}'] +
        [f'{k} {v}' for k, v in self._fields.items()])
    started, first_step = self._first
    if now > started and self._step > first_step:
      steps_per_second = (self._step - first_step) / (now - started)
      left = (self._plan.total_steps - self._step) / steps_per_second
      text += (f', {steps_per_second * self._plan.batch_size:.0f} examples/s,'
               f' {int(left) // 60}:{int(left) % 60:02d} left')
    return text

  def on_epoch_begin(self, epoch, logs=None):
    self._keras_epoch = epoch

  def on_train_batch_end(self, batch, logs=None):
    # With several steps per execution, `batch` is the last step's index.
    self._step = self._keras_epoch * self._plan.keras_steps_per_epoch + batch + 1
    self._fields.update(epoch=self._epoch(), loss=f'{float(logs["loss"]):.4f}')
    now = self._clock()
    if self._first is None:
      self._first = self._logged = (now, self._step)
    if progress.sink_installed():
      self._send_update()
    elif now - self._logged[0] >= self._log_seconds:
      self._logged = (now, self._step)
      logging.info('%s', self.line(now))

  def on_test_begin(self, logs=None):
    # Steps stop while the eval split is measured; say why.
    if progress.sink_installed() and self._first is not None:
      self._fields['eval loss'] = 'computing'
      self._send_update()

  def on_epoch_end(self, epoch, logs=None):
    if not logs or 'val_loss' not in logs:
      return
    self._fields['eval loss'] = f'{float(logs["val_loss"]):.4f}'
    if progress.sink_installed():
      self._send_update()
    else:
      logging.info('Training: epoch %s, eval loss %s (train loss %.4f)',
                   self._epoch(), self._fields['eval loss'],
                   float(logs['loss']))

  def stopped_early(self, epoch: float):
    """Says on the progress line that training ended before its length."""
    self._fields['stopped early'] = f'at epoch {epoch:g}'
    if progress.sink_installed():
      self._send_update()
    else:
      logging.info('%s', self.line(self._clock()))

  def close(self):
    """Ends the progress line: after the last phase (one `fit` each)."""
    if progress.sink_installed():
      self._send(progress.CLOSE, 'Training: done')
