"""The settings object: flags, environment variables, Beam pass-through and
every value checked at parse time (no pipeline run)."""

import os
import subprocess
import sys

import pytest

from coco_captions.pipeline import configs
from coco_captions.run import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse(*argv, orchestrator='local', environ=None):
  return settings.parse_flags(list(argv), orchestrator, environ=environ or {})


def _error(*argv, orchestrator='local', environ=None):
  with pytest.raises(settings.SettingsError) as error:
    _parse(*argv, orchestrator=orchestrator, environ=environ)
  return str(error.value)


def test_unknown_flags_are_beam_options_passed_through_verbatim():
  found = _parse(
      '--runner=DirectRunner', '--train_steps=7',
      '--direct_running_mode', 'multi_processing', '--direct_num_workers=0',
      '--temp_location=gs://bucket/tmp', '--pipeline_root=/tmp/out')
  assert found.train_steps == 7
  assert found.pipeline_root == '/tmp/out'
  assert found.beam_args == (
      '--runner=DirectRunner', '--direct_running_mode', 'multi_processing',
      '--direct_num_workers=0', '--temp_location=gs://bucket/tmp')


def test_flags_are_never_taken_as_abbreviations_of_ours():
  # '--pipeline' would abbreviate --pipeline_root with argparse's default.
  assert _error('--pipeline=x') == (
      'unknown flag --pipeline: neither a flag of this runner nor a Beam '
      'pipeline option (see --help)')


@pytest.mark.parametrize('argv, message', [
    (['--train_step=5'], 'unknown flag --train_step; did you mean --train_steps?'),
    (['-train_steps', '5'],
     'unknown flag -train_steps; did you mean --train_steps?'),
    (['--TRAIN_STEPS', '5'],
     'unknown flag --TRAIN_STEPS; did you mean --train_steps?'),
    (['--Data_Root=/d'], 'unknown flag --Data_Root; did you mean --data_root?'),
    (['--data', 'DIR'], 'unknown flag --data: neither a flag of this runner '
     'nor a Beam pipeline option (see --help)'),
    (['--force'], 'unknown flag --force: neither a flag of this runner nor a '
     'Beam pipeline option (see --help)'),
    (['--runner=DirectRunner', '--direct_num_worker=2'],
     'unknown flag --direct_num_worker: neither a flag of this runner nor a '
     'Beam pipeline option (see --help)'),
    (['data/captions'],
     "unexpected argument 'data/captions': this runner takes flags only"),
    (['--train_steps'], 'argument --train_steps: expected one argument'),
])
def test_an_argument_neither_ours_nor_beams_is_one_error(argv, message):
  assert _error(*argv) == message


@pytest.mark.parametrize('argv, message', [
    (['--train_steps=-1'], '--train_steps: -1 is not at least 1'),
    (['--train_steps', '0'], '--train_steps: 0 is not at least 1'),
    (['--train_epochs=0'], '--train_epochs: 0 is not at least 1'),
    (['--eval_steps=2.5'], "--eval_steps: '2.5' is not a whole number"),
    (['--seed=-3'], '--seed: -3 is not at least 0'),
    (['--seed', str(2**32)], f'--seed: {2**32} is more than {2**32 - 1}'),
    # Each number has a range: beyond it, the machine or TensorFlow fails.
    (['--train_steps', str(2**31)],
     f'--train_steps: {2**31} is more than 100000000'),
    (['--image_size', '100000'], '--image_size: 100000 is more than 1024'),
    (['--train_epochs', '10000000'],
     '--train_epochs: 10000000 is more than 1000000'),
    (['--eval_steps', '1' + '0' * 20],
     f'--eval_steps: 1{"0" * 20} is more than 100000000'),
    (['--fine_tune_layers', '10001'],
     '--fine_tune_layers: 10001 is more than 10000'),
    (['--early_stopping_patience', '31'],
     '--early_stopping_patience: 31 is more than 30'),
    (['--blessing_threshold=nan'],
     '--blessing_threshold: nan is not a number from 0 to 1'),
    (['--blessing_threshold=inf'],
     '--blessing_threshold: inf is not a number from 0 to 1'),
    (['--blessing_threshold=1.01'],
     '--blessing_threshold: 1.01 is not a number from 0 to 1'),
    (['--blessing_threshold=-0.1'],
     '--blessing_threshold: -0.1 is not a number from 0 to 1'),
    (['--blessing_threshold=high'],
     "--blessing_threshold: 'high' is not a number"),
    (['--blessing_metric=recall@5'],
     "--blessing_metric: 'recall@5' is not one of text_to_image_recall@1, "
     'text_to_image_recall@5, text_to_image_recall@10, image_to_text_recall@1,'
     ' image_to_text_recall@5, image_to_text_recall@10'),
    (['--bad_images=skip'], "--bad_images: 'skip' is not one of fail, drop"),
    (['--bad_images=DROP'], "--bad_images: 'DROP' is not one of fail, drop"),
    (['--pipeline_name=my pipeline'], "pipeline name 'my pipeline': use "
     'letters, digits, dashes, dots and underscores, starting with a letter '
     'or digit'),
])
def test_every_value_is_checked_at_parse_time(argv, message):
  assert _error(*argv) == message


def test_good_edge_values_are_accepted():
  found = _parse('--blessing_threshold=0', '--seed=0', '--train_steps=1',
                 '--blessing_metric=image_to_text_recall@10')
  assert (found.blessing_threshold, found.hparam('seed'), found.train_steps,
          found.blessing_metric) == (0.0, 0, 1, 'image_to_text_recall@10')
  assert _parse('--blessing_threshold=1').blessing_threshold == 1.0


def test_paths_must_be_of_the_right_kind(tmp_path):
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  assert _error('--pipeline_root', str(a_file)) == (
      f'--pipeline_root: {a_file} is a file, not a directory')
  assert _error('--metadata_path', str(tmp_path)) == (
      f'--metadata_path: {tmp_path} is a directory, not a file')
  assert _error('--serving_model_dir', str(a_file)) == (
      f'--serving_model_dir: {a_file} is a file, not a directory')
  assert _error('--pipeline_root', str(a_file / 'below')) == (
      f'--pipeline_root: {a_file} is a file, not a directory')
  # The default metadata path under a pipeline root that is a file.
  assert _error('--pipeline_root', str(a_file)).startswith('--pipeline_root')


def test_defaults_point_at_the_bundled_data_and_derive_paths(tmp_path,
                                                             monkeypatch):
  monkeypatch.chdir(tmp_path)
  found = _parse('--pipeline_root', 'out')
  assert found.beam_args == ()
  assert found.data_root == configs.DATA_ROOT
  assert found.images_root == os.path.join(configs.DATA_ROOT, 'images')
  assert found.pipeline_root == str(tmp_path / 'out')
  assert found.metadata_path == str(tmp_path / 'out' / 'metadata.sqlite')
  assert found.serving_model_dir == str(tmp_path / 'out' / 'serving_model')
  assert found.module_file == os.path.join(ROOT, 'model', 'coco_captions_utils.py')
  assert found.pipeline_name == 'coco_captions'
  assert found.blessing_threshold == configs.BLESSING_THRESHOLD


def test_uris_are_kept_as_given():
  found = _parse('--images_root', 'gs://bucket/train2014')
  assert found.images_root == 'gs://bucket/train2014'


def test_environment_fills_in_and_flags_win(tmp_path):
  environ = {'COCO_CAPTIONS_TRAIN_STEPS': '9',
             'COCO_CAPTIONS_DATA_ROOT': str(tmp_path),
             'COCO_CAPTIONS_SERVING_DIR': str(tmp_path / 'serving'),
             'COCO_CAPTIONS_NO_CACHE': 'true',
             'COCO_CAPTIONS_BEAM_ARGS': "--direct_num_workers=2 --job_name='a b'",
             'COCO_CAPTIONS_IMAGE': 'for/kubeflow:only',
             'UNRELATED': 'x'}
  found = _parse(environ=environ)
  assert (found.train_steps, found.data_root, found.no_cache) == (
      9, str(tmp_path), True)
  assert found.images_root == str(tmp_path / 'images')
  assert found.serving_model_dir == str(tmp_path / 'serving')
  assert found.beam_args == ('--direct_num_workers=2', '--job_name=a b')
  assert found.image is None  # Not a setting of the local runner.
  found = _parse('--train_steps=3', '--direct_num_workers=4', environ=environ)
  assert found.train_steps == 3
  assert found.beam_args == ('--direct_num_workers=4',)


@pytest.mark.parametrize('environ, message', [
    ({'COCO_CAPTIONS_TRAIN_STEP': '5'},
     'unknown setting COCO_CAPTIONS_TRAIN_STEP; did you mean '
     'COCO_CAPTIONS_TRAIN_STEPS?'),
    ({'COCO_CAPTIONS_COLOUR': 'red'}, 'unknown setting COCO_CAPTIONS_COLOUR'),
    ({'COCO_CAPTIONS_TRAIN_STEPS': '-1'},
     'COCO_CAPTIONS_TRAIN_STEPS: -1 is not at least 1'),
    ({'COCO_CAPTIONS_BLESSING_THRESHOLD': 'nan'},
     'COCO_CAPTIONS_BLESSING_THRESHOLD: nan is not a number from 0 to 1'),
    ({'COCO_CAPTIONS_BAD_IMAGES': 'ignore'},
     "COCO_CAPTIONS_BAD_IMAGES: 'ignore' is not one of fail, drop"),
    ({'COCO_CAPTIONS_NO_CACHE': 'maybe'},
     "COCO_CAPTIONS_NO_CACHE: 'maybe' is not one of 1, true, yes, 0, false, "
     'no'),
    ({'COCO_CAPTIONS_BEAM_ARGS': '--force'},
     'COCO_CAPTIONS_BEAM_ARGS: unknown flag --force: neither a flag of this '
     'runner nor a Beam pipeline option (see --help)'),
    ({'COCO_CAPTIONS_BEAM_ARGS': "--job_name='open"},
     'COCO_CAPTIONS_BEAM_ARGS: No closing quotation'),
])
def test_the_airflow_environment_is_checked_like_flags(environ, message):
  with pytest.raises(settings.SettingsError) as error:
    settings.from_environment('airflow', environ)
  assert str(error.value) == message


def test_airflow_defaults():
  found = settings.from_environment('airflow', {})
  assert found.pipeline_name == 'coco_captions_airflow'
  assert found.pipeline_root == os.path.join(
      os.path.expanduser('~'), 'coco_captions_airflow', 'coco_captions_airflow')
  assert found.metadata_path == os.path.join(found.pipeline_root,
                                             'metadata.sqlite')
  assert not found.force_run and not found.verbose


def test_kubeflow_needs_its_cluster_paths_and_a_kfp_name(tmp_path):
  assert _error(orchestrator='kubeflow') == (
      '--pipeline_root, --data_root, --images_root required (or '
      'COCO_CAPTIONS_PIPELINE_ROOT, COCO_CAPTIONS_DATA_ROOT, '
      'COCO_CAPTIONS_IMAGES_ROOT)')
  paths = ['--pipeline_root=gs://b/p', '--data_root=gs://b/d',
           '--images_root=gs://b/i']
  found = _parse(*paths, orchestrator='kubeflow')
  assert found.pipeline_name == 'coco-captions'
  assert found.metadata_path is None
  assert found.schema_file == '/pipeline/schema/schema.pbtxt'
  assert found.image == 'coco-captions-tfx:latest'
  assert _error(*paths, '--pipeline_name=coco_captions',
                orchestrator='kubeflow').startswith(
                    "pipeline name 'coco_captions': use lower-case letters")
  # --verbose belongs to the local runners only.
  assert _error(*paths, '--verbose', orchestrator='kubeflow').startswith(
      'unknown flag --verbose')


def test_fingerprint_leaves_out_how_a_run_goes():
  plain, verbose = _parse(), _parse('--verbose', '--force_run', '--no_cache')
  assert plain.fingerprint() == verbose.fingerprint()
  assert plain.fingerprint() != _parse('--train_steps=2').fingerprint()
  assert _parse('--direct_num_workers=2').fingerprint()['beam_args'] == [
      '--direct_num_workers=2']


def test_pipeline_args_are_create_pipelines_keywords():
  import inspect
  from coco_captions.pipeline import pipeline
  assert _parse().pipeline_args(None)['bad_images'] == 'fail'
  args = _parse('--seed=4', '--no_cache',
                '--bad_images=drop').pipeline_args('digest')
  assert set(args) < set(inspect.signature(pipeline.create_pipeline).parameters)
  assert args['images_fingerprint'] == 'digest'
  assert args['trainer_config'] == {'seed': 4}
  # 0 is a value a user set (train the whole length), passed on as given.
  assert _parse('--early_stopping_patience=0').pipeline_args(None)[
      'trainer_config'] == {'early_stopping_patience': 0}
  # Unset: nothing passed, the module file's defaults apply.
  assert {k: _parse().pipeline_args(None)[k] for k in (
      'image_config', 'transform_config', 'trainer_config')} == {
          'image_config': {}, 'transform_config': {}, 'trainer_config': {}}
  assert args['enable_cache'] is False
  assert args['bad_images'] == 'drop'


def _runner(*argv, env=None):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'coco_captions_local.py'), *argv],
      capture_output=True, text=True, timeout=120, cwd=ROOT,
      env=dict(os.environ, **(env or {})))


def test_a_bad_flag_is_one_error_line_and_exit_2(tmp_path):
  result = _runner('--blessing_threshold=nan', '--pipeline_root',
                   str(tmp_path / 'out'))
  assert result.returncode == 2
  assert result.stderr == (
      'error: --blessing_threshold: nan is not a number from 0 to 1\n')
  assert result.stdout == ''
  assert not (tmp_path / 'out').exists()
  result = _runner(env={'COCO_CAPTIONS_TRAIN_STEP': '1'})
  assert (result.returncode, result.stderr) == (
      2, 'error: unknown setting COCO_CAPTIONS_TRAIN_STEP; did you mean '
      'COCO_CAPTIONS_TRAIN_STEPS?\n')


def test_help_explains_flags_beam_pass_through_and_environment():
  result = _runner('--help')
  assert result.returncode == 0
  for flag in ('--data_root', '--images_root', '--pipeline_root',
               '--metadata_path', '--module_file', '--train_steps',
               '--eval_steps', '--verbose', 'COCO_CAPTIONS_'):
    assert flag in result.stdout
  assert 'Beam pipeline' in result.stdout


def test_image_encoder_settings_reach_the_image_decoding_and_trainer(
    tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'w.h5').write_bytes(b'weights')
  found = _parse('--image_encoder=mobilenet_v2', '--image_encoder_weights=w.h5',
                 '--fine_tune_layers=20', '--image_size=96')
  args = found.pipeline_args(None)
  assert args['image_config'] == {'image_encoder': 'mobilenet_v2',
                                  'image_size': 96}
  # A relative weights path is the user's, made absolute for the Trainer.
  assert args['trainer_config'] == {
      'image_encoder_weights': str(tmp_path / 'w.h5'), 'fine_tune_layers': 20}
  assert args['transform_config'] == {}
  environ = {'COCO_CAPTIONS_IMAGE_ENCODER': 'resnet50',
             'COCO_CAPTIONS_IMAGE_ENCODER_WEIGHTS': 'none'}
  found = settings.from_environment('airflow', environ)
  assert (found.hparam('image_encoder'),
          found.hparam('image_encoder_weights')) == ('resnet50', 'none')


@pytest.mark.parametrize('argv, message', [
    (['--image_encoder=vgg16'], "--image_encoder: 'vgg16' is not one of "
     'small_cnn, mobilenet_v2, efficientnet_v2_b0, resnet50'),
    (['--image_encoder_weights=imagenet'], "image_encoder_weights 'imagenet': "
     'small_cnn is trained from scratch and takes none; choose a pretrained '
     'encoder (mobilenet_v2, efficientnet_v2_b0, resnet50)'),
    (['--image_encoder=resnet50', '--image_size=16'], 'image_size 16: '
     'resnet50 needs a whole number of at least 32 pixels'),
    (['--image_encoder=resnet50', '--image_encoder_weights=/no/such.h5'],
     'image_encoder_weights /no/such.h5: no such file'),
    (['--fine_tune_layers=-1'], '--fine_tune_layers: -1 is not at least 0'),
    (['--image_size=0'], '--image_size: 0 is not at least 1'),
])
def test_image_encoder_settings_are_checked_at_parse_time(argv, message):
  assert _error(*argv).startswith(message)


@pytest.mark.parametrize('argv, environ', [
    (['--runner=DaskRunner'], {}),
    (['--runner', 'dask'], {}),
    (['--runner=apache_beam.runners.dask.dask_runner.DaskRunner'], {}),
    ([], {'COCO_CAPTIONS_BEAM_ARGS': '--runner daskrunner'}),
])
def test_a_runner_known_to_lose_data_is_refused_at_parse_time(argv, environ):
  message = _error(*argv, environ=environ)
  assert "Beam 2.72's DaskRunner reports success while dropping data" in (
      message)
  assert 'Use the DirectRunner on one machine' in message
  assert '\n' not in message
  if environ:
    assert message.startswith('COCO_CAPTIONS_BEAM_ARGS: --runner=daskrunner:')
  # Any other runner passes.
  assert _parse('--runner=DirectRunner').beam_args == ('--runner=DirectRunner',)


def test_kubeflow_user_code_is_a_wheel_or_the_images_copy():
  needed = ['--pipeline_root=gs://b/p', '--data_root=gs://b/d',
            '--images_root=gs://b/i']
  assert _parse(*needed, orchestrator='kubeflow').user_code == 'wheel'
  assert _parse(*needed, '--user_code=image',
                orchestrator='kubeflow').user_code == 'image'
  assert _error(*needed, '--user_code=docker', orchestrator='kubeflow') == (
      "--user_code: 'docker' is not one of wheel, image")
  assert 'unknown flag --user_code' in _error('--user_code=image')


def test_blessing_significance_is_a_probability_above_zero():
  assert _parse().blessing_significance == configs.BLESSING_SIGNIFICANCE
  assert _parse('--blessing_significance=1').blessing_significance == 1.0
  assert _error('--blessing_significance=0') == (
      '--blessing_significance: 0 is not more than 0')
  assert _error('--blessing_significance=nan') == (
      '--blessing_significance: nan is not a number more than 0, at most 1')
  assert _parse('--blessing_significance=0.05').pipeline_args(None)[
      'blessing_significance'] == 0.05


def test_each_data_root_gets_its_own_pipeline_root_unless_told(tmp_path,
                                                              monkeypatch):
  # A model of the user's data must not be judged against (or pushed beside)
  # the bundled data's, as it would in one shared default root.
  monkeypatch.chdir(tmp_path)
  bundled = _parse().pipeline_root
  assert bundled == os.path.join(configs.OUTPUT_DIR, 'coco_captions')
  mine = _parse('--data_root', str(tmp_path / 'my data')).pipeline_root
  other = _parse('--data_root', str(tmp_path / 'elsewhere' / 'my data')
                 ).pipeline_root
  assert os.path.dirname(mine) == configs.OUTPUT_DIR
  assert os.path.basename(mine).startswith('coco_captions-my_data-')
  assert mine != other and mine != bundled
  # The same data, however it is spelt, the same root.
  assert _parse('--data_root', str(tmp_path / 'my data') + '/').pipeline_root \
      == mine
  assert _parse('--data_root', 'my data').pipeline_root == mine
  assert _parse('--data_root', 'gs://b/csv').pipeline_root.startswith(
      os.path.join(configs.OUTPUT_DIR, 'coco_captions-csv-'))
  assert _parse('--data_root', str(tmp_path / 'x'), '--pipeline_root',
                'given').pipeline_root == str(tmp_path / 'given')


def test_a_huge_value_is_one_bounded_error_line():
  message = _error('--train_steps', '9' * 1_000_000)
  assert len(message) < 400 and message.startswith('--train_steps: 999')
  assert 'more characters' in message
  message = _error('--eval_steps', 'x' * 1_000_000)
  assert len(message) < 400 and 'is not a whole number' in message


@pytest.mark.parametrize('argv, environ, message', [
    (['--direct_num_workers=abc'], {},
     "Beam option --direct_num_workers: invalid int value: 'abc'"),
    (['--runner'], {}, 'Beam option --runner: expected one argument'),
    ([], {'COCO_CAPTIONS_BEAM_ARGS': '--direct_running_mode=threads'},
     'COCO_CAPTIONS_BEAM_ARGS: Beam option --direct_running_mode: invalid '
     "choice: 'threads'"),
    ([], {'COCO_CAPTIONS_DATA_ROOT': ''},
     'COCO_CAPTIONS_DATA_ROOT is set but empty: unset it for the default, or '
     'give it a value'),
    ([], {'COCO_CAPTIONS_BEAM_ARGS': '  '},
     'COCO_CAPTIONS_BEAM_ARGS is set but empty: unset it for the default, or '
     'give it a value'),
])
def test_a_bad_beam_value_or_an_empty_variable_is_one_line(argv, environ,
                                                          message):
  assert _error(*argv, environ=environ).startswith(message)


def _readme_tables():
  """Flag -> default cell of every README table with a default column."""
  with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
    lines = f.read().splitlines()
  tables, current = [], None
  for line in lines:
    if line == '| flag | default | meaning |':
      current = {}
      tables.append(current)
    elif current is not None and line.startswith('| `--'):
      flag, default = [cell.strip() for cell in line.split('|')[1:3]]
      current[flag.strip('`')] = default.replace('`', '')
    elif current is not None and not line.startswith('|---'):
      current = None
  return tables


def test_the_readme_options_tables_match_help():
  shown = {flag: text.replace(configs.PROJECT_DIR + os.sep, '')
           for flag, text in settings.defaults_shown('local').items()}
  tables = _readme_tables()
  # The encoders' table, then every option of the local runner.
  assert [set(t) <= set(shown) for t in tables] == [True, True]
  assert set(tables[1]) == set(shown)
  for table in tables:
    assert {flag: shown[flag] for flag in table} == table
  help_text = ' '.join(_runner('--help').stdout.split())
  for flag, text in settings.defaults_shown('local').items():
    if text != 'off':
      assert f'Default: {" ".join(text.split())}' in help_text, flag


def test_every_hyper_parameter_is_a_checked_flag_and_variable():
  import coco_captions_hparams as hparams
  shown = settings.defaults_shown('local')
  for name, entry in hparams.HPARAMS.items():
    assert f'--{name}' in shown
  assert shown['--batch_size'] == '64'
  assert shown['--learning_rate'] == '0.002'
  assert shown['--max_train_steps'] == '15,000'
  assert shown['--train_epochs'] == ('30, but at least 1,000 and at most '
                                     '15,000 steps (whole passes), stopped '
                                     'early')
  assert _error('--batch_size=1') == '--batch_size: 1 is not at least 2'
  assert _error('--learning_rate=0') == '--learning_rate: 0 is not more than 0'
  assert _error('--temperature=2') == (
      '--temperature: 2 is not a number more than 0, at most 1')
  assert _error('--warmup_fraction=x') == "--warmup_fraction: 'x' is not a number"
  assert _error(environ={'COCO_CAPTIONS_EMBEDDING_DIM': '0'}) == (
      'COCO_CAPTIONS_EMBEDDING_DIM: 0 is not at least 1')


def test_each_hyper_parameter_reaches_the_step_that_reads_it():
  args = _parse('--batch_size=8', '--learning_rate=0.01',
                '--max_caption_tokens=16', '--image_size=48',
                '--train_epochs=3').pipeline_args(None)
  assert (args['image_config'], args['transform_config'],
          args['trainer_config']) == (
              {'image_size': 48}, {'max_caption_tokens': 16},
              {'batch_size': 8, 'learning_rate': 0.01, 'train_epochs': 3})
  found = settings.from_environment(
      'airflow', {'COCO_CAPTIONS_TEMPERATURE': '0.1'})
  assert found.pipeline_args(None)['trainer_config'] == {'temperature': 0.1}
  assert found.hparam('temperature') == 0.1
  assert found.hparam('batch_size') is None


def test_the_hyper_parameters_are_the_module_files_own(tmp_path):
  # A copy of the model code whose table has one more entry: the runner
  # offers it, and passes it to the step it names.
  code = tmp_path / 'code'
  code.mkdir()
  model_dir = os.path.join(ROOT, 'model')
  for name in os.listdir(model_dir):
    if name.endswith('.py'):
      (code / name).write_bytes(open(os.path.join(model_dir, name), 'rb').read())
  table = code / 'coco_captions_hparams.py'
  table.write_text(table.read_text().replace(
      "\n# What preprocessing_fn and run_fn fall back on.",
      "HPARAMS['dropout'] = HParam(0.1, TRAINER, 'Dropout', float, low=0, "
      "high=0.9)\n\n# What preprocessing_fn and run_fn fall back on."))
  module = str(code / 'coco_captions_utils.py')
  found = _parse('--module_file', module, '--dropout=0.2')
  assert found.pipeline_args(None)['trainer_config'] == {'dropout': 0.2}
  assert _error('--module_file', module, '--dropout=1') == (
      '--dropout: 1 is not a number from 0 to 0.9')
  assert settings.defaults_shown('local', module)['--dropout'] == '0.1'
  assert found.fingerprint()['hparams'] == {'trainer_config': {'dropout': 0.2}}
  # The project's own module file has no such hyper-parameter.
  assert _error('--dropout=0.2').startswith('unknown flag --dropout')
  # A module file with no table beside it gets no hyper-parameter flags.
  table.unlink()
  assert _error('--module_file', module, '--seed=1').startswith(
      'unknown flag --seed')
  assert _parse('--module_file', module).hparams == {}
