"""The console summary's lines for each kind of run."""

import os

import pytest

import hand_built_mlmd as hb
from coco_captions.reporting import run_record, run_summary


@pytest.fixture
def metadata_path(tmp_path):
  path = str(tmp_path / 'metadata.sqlite')
  hb.two_runs(hb.HandBuiltStore(hb.sqlite_store(path), 'ir'),
              str(tmp_path / 'artifacts'))
  return path


def _lines(summary, log_path=None):
  return run_summary.render(summary, '/m.sqlite', log_path).split('\n')


def test_blessed_and_pushed(metadata_path):
  summary = run_record.read_run(metadata_path, 'p', 'run-1')
  lines = _lines(summary, '/logs/run.log')
  assert lines[0] == 'Pipeline p, run run-1'
  assert lines[1].split() == ['component', 'status', 'seconds']
  assert [line.split()[:2] for line in lines[2:11]] == [
      [c, 'complete'] for c in (
          'CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen',
          'ExampleValidator', 'GroupCaptionsByImage', 'Transform', 'Trainer',
          'RetrievalEvaluator', 'Pusher')]
  assert lines[11].split()[0] == 'total'
  text = '\n'.join(lines[12:])
  assert text.startswith(
      'Rows (captions): 20 eval, 80 train\n'
      'Data anomalies: \n'
      f'  eval: {hb.EVAL_ANOMALY}\n'
      'Images: 4 eval, 16 train\n'
      'Trainer: 5 epochs over 16 train images, 5 steps of 16 distinct images, '
      'in 3 s\n'
      'Loss: train 2.500, eval 1.300 (first epoch: train 3.700)\n'
      'Evaluation of the exported model on 4 eval images and their 20 '
      'captions:\n'
      '  text to image: R@1 0.250 (chance 0.125), R@5 0.750 (chance 0.500)\n'
      '  image to text: R@1 0.500 (chance 0.200)\n'
      'Model BLESSED: text_to_image_recall@5 0.750 clears the threshold 0.300\n'
      f'Pushed to:           /serving/{hb.PUSHED_VERSION}\n'
      'Model (SavedModel):  ')
  assert lines[-3].startswith('Schema:')
  assert lines[-2:] == ['ML Metadata:         /m.sqlite',
                        'Log:                 /logs/run.log']
  # The command that opens the run's TensorBoard logs, runnable as printed.
  (tensorboard,) = [l for l in lines if l.startswith('TensorBoard:')]
  command = tensorboard.split()[1:]
  assert command[1:] == ['--logdir', summary.output('Trainer', 'model_run')]
  assert os.access(command[0], os.X_OK), command


def test_unchanged_model_is_not_pushed_again(metadata_path):
  lines = _lines(run_record.read_run(metadata_path, 'p'))
  assert lines[0] == 'Pipeline p, run run-2'
  assert 'Model unchanged: this model is already the latest blessed model' in (
      lines)
  assert 'Not pushed again: the serving directory already has it.' in lines
  assert not any(line.startswith('Pushed to:') for line in lines)
  assert lines[-1] == 'ML Metadata:         /m.sqlite'


def test_not_blessed_model_is_kept_as_an_artifact(metadata_path):
  summary = run_record.read_run(metadata_path, 'p', 'run-1')
  summary.blessing = dict(summary.blessing, blessed=0, reason='too low')
  summary.pushed = {'pushed': 0}
  lines = _lines(summary)
  assert 'Model NOT BLESSED: too low' in lines
  assert 'Not pushed: the model is kept as an artifact only.' in lines


def test_failed_run_lists_its_components_and_no_model(tmp_path):
  path = str(tmp_path / 'metadata.sqlite')
  built = hb.HandBuiltStore(hb.sqlite_store(path), 'ir')
  run = built.run('r')
  built.execute(run, 'CsvExampleGen', 'COMPLETE',
                outputs=[('examples', built.artifact('Examples', '/x'))])
  built.execute(run, 'Trainer', 'FAILED')
  lines = _lines(run_record.read_run(path, 'p'))
  assert [line.split()[:2] for line in lines[2:4]] == [
      ['CsvExampleGen', 'complete'], ['Trainer', 'failed']]
  # Nothing past the table but where the metadata is: no counts, no model.
  assert lines[4].split()[0] == 'total'
  assert lines[5:] == ['ML Metadata:         /m.sqlite']


def test_rows_dropped_with_their_bad_images_are_said(tmp_path):
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  run = built.run('r')
  uri = str(tmp_path / 'GroupCaptionsByImage' / 'image_examples' / '6')
  examples = built.artifact(
      'Examples', uri, train_images=16, eval_images=3, train_bad_images=0,
      eval_bad_images=1, train_dropped_rows=0, eval_dropped_rows=5)
  built.execute(run, 'GroupCaptionsByImage',
                outputs=[('image_examples', examples)])
  lines = run_summary.render(
      run_record.read_run(built.store, 'p'), '/m').splitlines()
  assert ('Dropped (--bad_images=drop): 1 bad image(s) and their 5 caption '
          'row(s), not trained or evaluated on; listed in '
          f'{tmp_path / "GroupCaptionsByImage" / "bad_images" / "6"}') in lines


def test_early_stopping_says_where_it_stopped_and_which_weights_it_kept():
  training = {
      'planned_epochs': 336, 'early_stopping_patience': 5,
      'phases': [{'phase': 'train', 'epochs': [0, 104], 'early_stopping': {
          'stopped_early': True, 'planned_end': 336, 'kept_epoch': 48,
          'kept_eval_loss': 2.98}}]}
  assert run_summary._stopping_lines(training) == [
      'Early stopping: stopped early at epoch 104 of at most 336: the eval '
      'loss had not improved for 5 evaluations; kept the weights of epoch '
      '48, eval loss 2.980']
  ran = dict(training['phases'][0], epochs=[0, 42], early_stopping={
      'stopped_early': False, 'planned_end': 42, 'kept_epoch': 37,
      'kept_eval_loss': 0.389})
  assert run_summary._stopping_lines(dict(training, phases=[ran])) == [
      'Early stopping: ran its whole length, 42 epochs; kept the weights of '
      'epoch 37, eval loss 0.389']
  # A length the user set, or a run from before early stopping: no line.
  assert run_summary._stopping_lines({'phases': [{'phase': 'train'}]}) == []
