"""The local CLI's flags, Beam pass-through and input checks (no pipeline run)."""

import os
import subprocess
import sys

import pytest

import coco_captions_local as cli
from coco_captions import configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_unknown_flags_are_beam_options_passed_through_verbatim():
  args, beam_args = cli.parse_args([
      '--runner=DirectRunner', '--train_steps=7',
      '--direct_running_mode', 'multi_processing', '--direct_num_workers=0',
      '--temp_location=gs://bucket/tmp', '--pipeline_root=/tmp/out',
  ])
  assert args.train_steps == 7
  assert args.pipeline_root == '/tmp/out'
  assert beam_args == [
      '--runner=DirectRunner', '--direct_running_mode', 'multi_processing',
      '--direct_num_workers=0', '--temp_location=gs://bucket/tmp']


def test_beam_flags_are_never_taken_as_abbreviations_of_ours():
  # '--pipeline' would abbreviate --pipeline_root with argparse's default.
  _, beam_args = cli.parse_args(['--pipeline=x', '--module=y'])
  assert beam_args == ['--pipeline=x', '--module=y']


def test_misspelt_own_flag_is_an_error_not_a_beam_option(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.parse_args(['--train_step=5'])
  assert exit_info.value.code == 2
  assert 'did you mean --train_steps' in capsys.readouterr().err


def test_defaults_point_at_the_bundled_data_and_derive_paths(tmp_path,
                                                             monkeypatch):
  monkeypatch.chdir(tmp_path)
  args, beam_args = cli.parse_args(['--pipeline_root', 'out'])
  assert beam_args == []
  assert args.data_root == configs.DATA_ROOT
  assert args.images_root == os.path.join(configs.DATA_ROOT, 'images')
  assert args.pipeline_root == str(tmp_path / 'out')
  assert args.metadata_path == str(tmp_path / 'out' / 'metadata.sqlite')
  assert args.module_file == os.path.join(ROOT, 'coco_captions_utils.py')


def test_uris_are_kept_as_given():
  args, _ = cli.parse_args(['--images_root', 'gs://bucket/train2014'])
  assert args.images_root == 'gs://bucket/train2014'
  assert cli.input_errors(args) == []


def test_each_bad_input_gets_one_clear_line(tmp_path):
  empty = tmp_path / 'empty'
  empty.mkdir()
  args, _ = cli.parse_args([
      '--data_root', str(empty), '--images_root', str(tmp_path / 'nope'),
      '--module_file', str(tmp_path / 'missing.py')])
  assert cli.input_errors(args) == [
      f'data root {empty} has no *.csv file',
      f'images root {tmp_path / "nope"} is not a directory',
      f'module file {tmp_path / "missing.py"} does not exist',
  ]
  args, _ = cli.parse_args(['--data_root', str(tmp_path / 'absent')])
  assert cli.input_errors(args)[0] == (
      f'data root {tmp_path / "absent"} is not a directory')


def test_main_stops_before_tfx_on_bad_input(tmp_path, capsys):
  assert cli.main(['--data_root', str(tmp_path / 'absent'),
                   '--pipeline_root', str(tmp_path / 'out')]) == 2
  err = capsys.readouterr().err
  assert err.startswith('error: data root') and 'Traceback' not in err
  assert not (tmp_path / 'out').exists()


def test_help_explains_flags_and_beam_pass_through():
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'), '--help'],
      capture_output=True, text=True, timeout=60, cwd=str(ROOT))
  assert result.returncode == 0
  for flag in ('--data_root', '--images_root', '--pipeline_root',
               '--metadata_path', '--module_file', '--train_steps',
               '--eval_steps', '--verbose'):
    assert flag in result.stdout
  assert 'Beam pipeline' in result.stdout


def _data_dir(tmp_path, header, rows=()):
  data = tmp_path / 'data'
  (data / 'images').mkdir(parents=True)
  (data / 'captions.csv').write_text('\n'.join([header, *rows]) + '\n')
  return data


def test_csv_without_the_coco_columns_is_one_clear_line(tmp_path):
  data = _data_dir(tmp_path, 'image_id,id,caption,image_name')
  args, _ = cli.parse_args(['--data_root', str(data)])
  assert cli.input_errors(args) == [
      f'{data / "captions.csv"} lacks the column(s) image_url, image_license '
      '(a COCO captions CSV has image_id,id,caption,image_url,image_name,'
      'image_license)']


def test_unreadable_csv_is_one_clear_line(tmp_path):
  data = _data_dir(tmp_path, 'x')
  (data / 'captions.csv').write_bytes(b'\xff\xfe\x00broken')
  args, _ = cli.parse_args(['--data_root', str(data)])
  (error,) = cli.input_errors(args)
  assert error.startswith(f'cannot read {data / "captions.csv"}: ')


def test_module_file_must_define_both_functions(tmp_path):
  module = tmp_path / 'module.py'
  module.write_text('def preprocessing_fn(inputs):\n  return inputs\n')
  args, _ = cli.parse_args(['--module_file', str(module)])
  assert cli.input_errors(args) == [f'module file {module} defines no run_fn()']
  module.write_text('def broken(:\n')
  (error,) = cli.input_errors(args)
  assert error.startswith(f'module file {module} cannot be read as Python')


def test_a_second_run_on_the_same_root_is_refused(tmp_path):
  from coco_captions import recovery
  root = str(tmp_path / 'root')
  with recovery.RunLock(root):
    with pytest.raises(recovery.RunInProgressError,
                       match=f'another run \\(pid {os.getpid()}\\)'):
      with recovery.RunLock(root):
        pass
  assert not os.path.exists(os.path.join(root, '.run.lock'))


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path):
  from coco_captions import recovery
  dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                        capture_output=True, text=True).stdout.strip()
  (tmp_path / '.run.lock').write_text(dead)
  with recovery.RunLock(str(tmp_path)) as lock:
    assert open(lock.path).read() == str(os.getpid())
