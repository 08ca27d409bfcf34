"""Every path, knob and derived default of a run, in one checked object.

Runners build `Settings` from their flags (`from_flags`) or, where there are
no flags (the Airflow DAG file, a runner file run by TFX's CLI), from
`COCO_CAPTIONS_<NAME>` environment variables (`from_environment`). Flags win
over the environment. Every value is checked here, when it is parsed: a bad
one is one `SettingsError` line naming the flag or variable, before anything
runs.

Arguments a CLI does not own are Beam pipeline options, passed to every
component's Beam pipeline unchanged, as Beam's examples do; one that Beam does
not know either (a misspelling, a single dash, a stray path) is an error.
"""

import argparse
import contextlib
import dataclasses
import difflib
import hashlib
import importlib.util
import logging
import math
import os
import re
import shlex
import sys
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from coco_captions.pipeline import configs
from coco_captions.pipeline.retrieval import KS

ENV_PREFIX = 'COCO_CAPTIONS_'
ORCHESTRATORS = ('local', 'beam', 'airflow', 'kubeflow')
BLESSING_METRICS = tuple(f'{direction}_recall@{k}'
                         for direction in ('text_to_image', 'image_to_text')
                         for k in KS)
# keras.utils.set_random_seed takes what NumPy's seed does.
_MAX_SEED = 2**32 - 1
# Upper bounds of the other numbers, each far beyond any real run and below
# what TensorFlow or the machine would fail on: steps stay 32-bit integers,
# an image side of 1,024 pixels is 3 MiB decoded (64 of them to a batch).
MAX_STEPS = 100_000_000
MAX_EPOCHS = 1_000_000
MAX_IMAGE_SIZE = 1024
# Training measures the eval loss at most this often (the module file's).
_MAX_EVALUATIONS = 30
MAX_FINE_TUNE_LAYERS = 10_000
BEAM_ARGS_ENV = ENV_PREFIX + 'BEAM_ARGS'
# Where Kubeflow's pods get the user code (coco_captions_kubeflow.py).
USER_CODE_CHOICES = ('wheel', 'image')
# KFP v2 pipeline names: lower-case letters, digits and dashes.
_KFP_NAME = frozenset('abcdefghijklmnopqrstuvwxyz0123456789-')
# Airflow DAG ids, MLMD context names and TFX CLI folders all take these.
_NAME = _KFP_NAME | frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZ_.')


class SettingsError(ValueError):
  """A flag or environment variable with a bad value; the message says which."""


@dataclasses.dataclass(frozen=True)
class Settings:
  """What a runner needs; local paths are absolute, URIs as given."""
  orchestrator: str  # One of ORCHESTRATORS.
  pipeline_name: str
  pipeline_root: str
  data_root: str
  images_root: str
  # ML Metadata SQLite file; None for Kubeflow, whose cluster supplies it.
  metadata_path: Optional[str]
  serving_model_dir: str
  module_file: str
  schema_file: str
  train_epochs: Optional[int] = None
  train_steps: Optional[int] = None
  eval_steps: Optional[int] = None
  seed: Optional[int] = None
  early_stopping_patience: Optional[int] = None
  blessing_metric: str = configs.BLESSING_METRIC
  blessing_threshold: float = configs.BLESSING_THRESHOLD
  blessing_significance: float = configs.BLESSING_SIGNIFICANCE
  bad_images: str = 'fail'
  # None: the module file's default (coco_captions_encoders beside it).
  image_encoder: Optional[str] = None
  image_encoder_weights: Optional[str] = None
  fine_tune_layers: Optional[int] = None
  image_size: Optional[int] = None
  no_cache: bool = False
  beam_args: Tuple[str, ...] = ()
  # How a local run goes, not what it computes.
  force_run: bool = False
  verbose: bool = False
  # Kubeflow only: the container image and where the compiled JSON goes.
  image: Optional[str] = None
  output_file: Optional[str] = None
  user_code: Optional[str] = None

  def fingerprint(self) -> Dict[str, Any]:
    """The settings a run's results depend on (see coco_captions.run.up_to_date)."""
    found = dataclasses.asdict(self)
    for name in ('force_run', 'verbose', 'no_cache'):
      del found[name]
    found['beam_args'] = list(self.beam_args)
    return found

  def pipeline_args(self, images_fingerprint: Optional[str]) -> Dict[str, Any]:
    """Keyword arguments of `pipeline.create_pipeline` but the metadata
    connection, which the orchestrator decides."""
    return dict(
        pipeline_name=self.pipeline_name,
        pipeline_root=self.pipeline_root,
        data_root=self.data_root,
        images_root=self.images_root,
        images_fingerprint=images_fingerprint,
        module_file=self.module_file,
        serving_model_dir=self.serving_model_dir,
        train_epochs=self.train_epochs,
        train_steps=self.train_steps,
        eval_steps=self.eval_steps,
        transform_config=_given(image_encoder=self.image_encoder,
                                image_size=self.image_size),
        trainer_config={'seed': self.seed, **_given(
            early_stopping_patience=self.early_stopping_patience,
            image_encoder_weights=self.image_encoder_weights,
            fine_tune_layers=self.fine_tune_layers)},
        beam_pipeline_args=list(self.beam_args),
        enable_cache=not self.no_cache,
        blessing_metric=self.blessing_metric,
        blessing_threshold=self.blessing_threshold,
        blessing_significance=self.blessing_significance,
        schema_file=self.schema_file,
        bad_images=self.bad_images)


def _given(**values) -> Dict[str, Any]:
  return {k: v for k, v in values.items() if v is not None}


def _whole_number(low: int, high: Optional[int] = None):
  def parse(text: str) -> int:
    try:
      value = int(text)
    except ValueError:
      raise SettingsError(f'{_shown(text)} is not a whole number') from None
    if value < low:
      raise SettingsError(f'{_shown(str(value))} is not at least {low}')
    if high is not None and value > high:
      raise SettingsError(f'{_shown(str(value))} is more than {high}')
    return value
  return parse


def _shown(text: str) -> str:
  """A value as an error line shows it: quoted where not a number, and no
  longer than a line (a value can be a million characters)."""
  from coco_captions import paths  # pylint: disable=import-outside-toplevel
  return paths.bounded(text if text.lstrip('-').isdigit() else repr(text))


def _fraction(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise SettingsError(f'{text!r} is not a number') from None
  if not (math.isfinite(value) and 0 <= value <= 1):
    raise SettingsError(f'{text} is not a number from 0 to 1')
  return value


def _probability(text: str) -> float:
  value = _fraction(text)
  if value == 0:
    raise SettingsError(f'{text} is not more than 0')
  return value


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
  def parse(text: str) -> str:
    if text not in choices:
      raise SettingsError(f'{text!r} is not one of {", ".join(choices)}')
    return text
  return parse


_metric = _choice(BLESSING_METRICS)
_bad_images = _choice(configs.BAD_IMAGES_CHOICES)


def _switch(text: str) -> bool:
  lowered = text.strip().lower()
  if lowered in ('1', 'true', 'yes'):
    return True
  if lowered in ('0', 'false', 'no'):
    return False
  raise SettingsError(f'{text!r} is not one of 1, true, yes, 0, false, no')


def _text(text: str) -> str:
  return text


@dataclasses.dataclass(frozen=True)
class _Option:
  name: str
  help: str
  parse: Callable[[str], Any] = _text
  switch: bool = False
  orchestrators: Tuple[str, ...] = ORCHESTRATORS
  env_name: Optional[str] = None

  @property
  def flag(self) -> str:
    return '--' + self.name

  @property
  def env(self) -> str:
    return ENV_PREFIX + (self.env_name or self.name.upper())


_RUNS_HERE = ('local', 'beam', 'airflow')
_LOCAL = ('local', 'beam')
_OPTIONS = (
    _Option('data_root', 'Directory of COCO captions CSV files (columns '
            'image_id, id, caption, image_url, image_name, image_license); '
            'only *.csv is read. Default: the bundled synthetic dataset '
            '(Kubeflow: required)'),
    _Option('images_root', 'Directory or URI (anything TensorFlow reads, e.g. '
            'gs://bucket/train2014) that image_name is relative to. '
            'Default: DATA_ROOT/images (Kubeflow: required)'),
    _Option('pipeline_root', 'Where artifacts, ML Metadata, pushed models '
            'and logs go. Default: ./tfx_output/coco_captions for the bundled '
            'data, ./tfx_output/coco_captions-NAME-HASH for a data root named '
            'NAME, so that models of other data never become each other\'s '
            'baseline (Airflow: ~/coco_captions_airflow/PIPELINE_NAME; '
            'Kubeflow: required)'),
    _Option('metadata_path', 'SQLite file for ML Metadata. Default: '
            f'PIPELINE_ROOT/{configs.METADATA_FILENAME}',
            orchestrators=_RUNS_HERE),
    _Option('module_file', 'TFX module file with preprocessing_fn and run_fn. '
            f'Default: {configs.MODULE_FILE}'),
    _Option('schema_file', 'The curated schema the data must match; any '
            'anomaly stops the run before Transform. Default: '
            f'{configs.SCHEMA_FILE} (Kubeflow: /pipeline/schema/schema.pbtxt '
            'in the image)'),
    _Option('pipeline_name', 'Name recorded in ML Metadata. Default: '
            f'{configs.PIPELINE_NAME} (Airflow: {configs.PIPELINE_NAME}_airflow, '
            'the DAG id; Kubeflow: coco-captions)'),
    _Option('train_epochs', 'Passes over the train split\'s images, run '
            'exactly (no early stopping unless --early_stopping_patience is '
            'given too); the steps follow from the split\'s size and the '
            'batch size. Default: the module file\'s, at most 30 epochs and '
            '15,000 steps but at least 1,000 steps, stopped early; 1 to '
            f'{MAX_EPOCHS:,}', _whole_number(1, MAX_EPOCHS)),
    _Option('train_steps', 'Train for exactly this many steps instead of '
            f'--train_epochs (as it, no early stopping unless asked); 1 to '
            f'{MAX_STEPS:,}', _whole_number(1, MAX_STEPS)),
    _Option('early_stopping_patience', 'Stop training once the eval loss '
            'has not improved for this many evaluations in a row (up to 30 '
            'in a run) and keep the weights of the best; 0: train the whole '
            'length. Default: the module file\'s (5) for its default length, '
            f'0 with --train_epochs or --train_steps; 0 to {_MAX_EVALUATIONS}',
            _whole_number(0, _MAX_EVALUATIONS)),
    _Option('seed', 'Seed of the model\'s initial weights, the shuffling and '
            'the caption drawn for each image: the same seed and data give '
            'the same model. Default: the module file\'s (0)',
            _whole_number(0, _MAX_SEED)),
    _Option('eval_steps', 'At most this many eval batches each time the eval '
            'loss is measured (up to 30 times in a run). Default: the whole '
            'eval split up to 4,096 images (64 batches); 1 to '
            f'{MAX_STEPS:,}', _whole_number(1, MAX_STEPS)),
    _Option('serving_model_dir', 'Where blessed models are pushed, one '
            'numbered version each (as TF Serving expects). Default: '
            f'PIPELINE_ROOT/{configs.SERVING_SUBDIR}', env_name='SERVING_DIR'),
    _Option('blessing_metric', 'Evaluation metric that decides blessing: '
            'text_to_image_recall@K or image_to_text_recall@K, K in '
            f'{", ".join(map(str, KS))}. Default: {configs.BLESSING_METRIC}',
            _metric),
    _Option('blessing_threshold', 'The lowest value of the blessing metric '
            '(0 to 1) for a model to be blessed and pushed; it must also not '
            'be worse than the latest blessed model. Default: '
            f'{configs.BLESSING_THRESHOLD}', _fraction),
    _Option('blessing_significance', 'The metric must also be above its '
            'chance rate on the eval pool: a one-sided binomial test over '
            'the eval images must give a p-value below this (more than 0, at '
            'most 1; 1 turns the test off). A pool too small for any model '
            f'to pass blesses nothing. Default: {configs.BLESSING_SIGNIFICANCE}',
            _probability),
    _Option('bad_images', 'What to do with caption rows whose image is '
            'missing, empty, not a file, too large, undecodable or outside '
            'IMAGES_ROOT: fail '
            '(stop before Transform, naming every bad image and its rows) or '
            'drop (leave those rows out; they are counted and listed in '
            'PIPELINE_ROOT/GroupCaptionsByImage/bad_images/). Default: fail',
            _bad_images),
    _Option('image_encoder', 'The image tower: small_cnn (trained from '
            'scratch), or a pretrained tf_keras.applications encoder: '
            'mobilenet_v2, efficientnet_v2_b0, resnet50 (see README, "Training '
            'on real COCO photos"). Default: small_cnn'),
    _Option('image_encoder_weights', 'A pretrained encoder\'s starting '
            'weights: imagenet (Keras downloads them where the Trainer runs), '
            'none, or a weights file (local path or gs://...). Default: '
            'imagenet'),
    _Option('fine_tune_layers', 'After training the heads on the frozen '
            'encoder, also train its top N layers at a tenth of the learning '
            f'rate. Default: 0; 0 to {MAX_FINE_TUNE_LAYERS:,}',
            _whole_number(0, MAX_FINE_TUNE_LAYERS)),
    _Option('image_size', 'Side in pixels Transform stores images at and the '
            'model reads. Default: the encoder\'s (64 for small_cnn, 224 for '
            f'the others); 1 to {MAX_IMAGE_SIZE:,}',
            _whole_number(1, MAX_IMAGE_SIZE)),
    _Option('no_cache', 'Run every component even if its inputs are '
            'unchanged since an earlier run.', _switch, switch=True),
    _Option('force_run', 'Run the pipeline even when nothing changed since '
            'the last run in PIPELINE_ROOT (data files, code, settings, ML '
            'Metadata), which is otherwise answered at once with that run\'s '
            'results. Components whose inputs are unchanged are still reused '
            'from cache.', _switch, switch=True, orchestrators=_LOCAL),
    _Option('verbose', 'Show TensorFlow/Beam/TFX logs on the console instead '
            'of only in the log file.', _switch, switch=True,
            orchestrators=_LOCAL),
    _Option('image', 'Container image with this project installed (see '
            'Dockerfile). Default: coco-captions-tfx:latest',
            orchestrators=('kubeflow',)),
    _Option('output_file', 'Where the compiled pipeline JSON is written. '
            'Default: coco_captions_pipeline.json',
            orchestrators=('kubeflow',)),
    _Option('user_code', 'Where the pods get the module file and the .py '
            'files beside it: wheel (compiling uploads them as wheels to '
            'PIPELINE_ROOT/_wheels, which must be writable from here; the '
            'pods run the code compiled) or image (compiling writes nothing; '
            'the pods run the copy the image holds under /pipeline, so '
            'rebuild the image after editing it). Default: wheel',
            _choice(USER_CODE_CHOICES), orchestrators=('kubeflow',)),
)
_KUBEFLOW_REQUIRED = ('pipeline_root', 'data_root', 'images_root')


def _options(orchestrator: str) -> List[_Option]:
  if orchestrator not in ORCHESTRATORS:
    raise ValueError(f'orchestrator {orchestrator!r} is not one of '
                     f'{ORCHESTRATORS}')
  return [o for o in _OPTIONS if orchestrator in o.orchestrators]


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are SettingsErrors, not usage dumps."""

  def error(self, message):
    raise SettingsError(message)


def build_parser(orchestrator: str = 'local',
                 description: Optional[str] = None) -> argparse.ArgumentParser:
  """The flags of the runner for `orchestrator` (values are checked later)."""
  parser = _Parser(
      description=description,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      # Beam options must never be mistaken for abbreviations of ours.
      allow_abbrev=False,
      epilog=f'Every flag can also be set as {ENV_PREFIX}<FLAG IN CAPITALS>\n'
      f'(--serving_model_dir as {ENV_PREFIX}SERVING_DIR), Beam options as\n'
      f'{BEAM_ARGS_ENV}; flags win. Any other flag is a Beam pipeline option.')
  for option in _options(orchestrator):
    if option.switch:
      parser.add_argument(option.flag, action='store_const', const='1',
                          default=None, help=option.help)
    else:
      parser.add_argument(option.flag, default=None, help=option.help,
                          metavar=option.name.upper())
  return parser


def from_flags(argv: Optional[Sequence[str]] = None,
               orchestrator: str = 'local',
               description: Optional[str] = None,
               environ: Optional[Mapping[str, str]] = None) -> Settings:
  """Settings from a runner's command line, the environment filling in.

  Prints one `error:` line and exits with status 2 on a bad value.
  """
  try:
    return parse_flags(argv, orchestrator, description, environ)
  except SettingsError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


def parse_flags(argv: Optional[Sequence[str]] = None,
                orchestrator: str = 'local',
                description: Optional[str] = None,
                environ: Optional[Mapping[str, str]] = None) -> Settings:
  """`from_flags`, raising SettingsError instead of exiting."""
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = build_parser(orchestrator, description)
  flags, rest = parser.parse_known_args(argv)
  raw = _environment(orchestrator, os.environ if environ is None else environ)
  for option in _options(orchestrator):
    value = getattr(flags, option.name)
    if value is not None:
      raw[option.name] = (option.flag, value)
  beam_args = _beam_args(rest, parser) if rest else None
  return _build(orchestrator, raw, beam_args)


def from_environment(orchestrator: str = 'airflow',
                     environ: Optional[Mapping[str, str]] = None) -> Settings:
  """Settings from COCO_CAPTIONS_* variables alone; raises SettingsError."""
  raw = _environment(orchestrator, os.environ if environ is None else environ)
  return _build(orchestrator, raw, None)


def _environment(orchestrator: str,
                 environ: Mapping[str, str]) -> Dict[str, Tuple[str, str]]:
  """Name -> (variable, text) of the set variables that `orchestrator` reads.

  A COCO_CAPTIONS_ variable that no runner knows is an error: a misspelt
  one would otherwise leave its default in place without a word.
  """
  known = {o.env: o for o in _OPTIONS}
  known[BEAM_ARGS_ENV] = None
  for name in sorted(environ):
    if name.startswith(ENV_PREFIX) and name not in known:
      close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
      hint = f'; did you mean {close[0]}?' if close else ''
      raise SettingsError(f'unknown setting {name}{hint}')
  raw = {}
  for option in _options(orchestrator):
    if option.env in environ:
      raw[option.name] = (option.env, _set_value(option.env, environ))
  if BEAM_ARGS_ENV in environ:
    raw['beam_args'] = (BEAM_ARGS_ENV, _set_value(BEAM_ARGS_ENV, environ))
  return raw


def _set_value(name: str, environ: Mapping[str, str]) -> str:
  """A variable's value; SettingsError where it is set but empty, which
  would otherwise leave the default in place without a word."""
  if not environ[name].strip():
    raise SettingsError(f'{name} is set but empty: unset it for the default, '
                        'or give it a value')
  return environ[name]


def _beam_args(args: List[str], parser: argparse.ArgumentParser) -> List[str]:
  """`args` if every one is a Beam pipeline option; else SettingsError."""
  ours = [s for action in parser._actions for s in action.option_strings]  # pylint: disable=protected-access
  for arg in args:
    if not arg.startswith('-'):
      continue
    name = arg.split('=', 1)[0]
    normal = '--' + name.lstrip('-').lower()
    close = ([normal] if normal in ours else
             difflib.get_close_matches(normal, ours, n=1, cutoff=0.85))
    if close:
      raise SettingsError(f'unknown flag {name}; did you mean {close[0]}?')
  unknown = unknown_beam_args(args)
  if unknown:
    raise SettingsError(_unknown_message(unknown[0]))
  problem = runner_problem(args)
  if problem:
    raise SettingsError(problem)
  return list(args)


# Beam runners that report success while losing data, and why.
_REFUSED_RUNNERS = {
    'daskrunner': "Beam 2.72's DaskRunner reports success while dropping "
                  'data (CsvExampleGen completes with no train split)',
}


def runner_problem(args: Sequence[str]) -> Optional[str]:
  """Why the Beam runner `args` name cannot be used, or None."""
  runner = None
  for i, arg in enumerate(args):
    if arg.startswith('--runner='):
      runner = arg.split('=', 1)[1]
    elif arg == '--runner' and i + 1 < len(args):
      runner = args[i + 1]
  # As Beam resolves names: any case, 'Runner' optional, or a class path.
  name = (runner or '').lower().rsplit('.', 1)[-1]
  why = _REFUSED_RUNNERS.get(name, _REFUSED_RUNNERS.get(name + 'runner'))
  if why is None:
    return None
  return (f'--runner={runner}: {why}. Use the DirectRunner on one machine '
          '(--direct_running_mode=multi_processing --direct_num_workers=0) '
          'or a cluster runner (Dataflow, Flink, Spark, PortableRunner)')


def _unknown_message(arg: str) -> str:
  if arg.startswith('-'):
    return (f'unknown flag {arg.split("=", 1)[0]}: neither a flag of this '
            'runner nor a Beam pipeline option (see --help)')
  return f'unexpected argument {arg!r}: this runner takes flags only'


def unknown_beam_args(args: Sequence[str]) -> List[str]:
  """The items of `args` that no Beam pipeline option accepts, in order."""
  with _quietly():
    from apache_beam.options import pipeline_options  # pylint: disable=import-outside-toplevel
  # What PipelineOptions.get_all_options parses with, which drops the rest;
  # a bad value is one line, not Beam's usage of every option.
  class Parser(pipeline_options._BeamArgumentParser):  # pylint: disable=protected-access

    def error(self, message):
      raise SettingsError('Beam option ' + re.sub(r'^argument ', '', message))

  parser = Parser(allow_abbrev=False)
  classes = {}
  for cls in pipeline_options.PipelineOptions.__subclasses__():
    classes.setdefault(str(cls), cls)
  for cls in classes.values():
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  _, unknown = parser.parse_known_args(list(args))
  return unknown


@contextlib.contextmanager
def _quietly():
  """Keeps Beam's import-time warnings off the console."""
  root = logging.getLogger()
  handlers = root.handlers[:]
  logging.disable(logging.WARNING)
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      yield
  finally:
    logging.disable(logging.NOTSET)
    root.handlers[:] = handlers


def _build(orchestrator: str, raw: Dict[str, Tuple[str, str]],
           beam_args: Optional[List[str]]) -> Settings:
  """Checks and converts `raw` (name -> (where, text)); fills in defaults."""
  values: Dict[str, Any] = {}
  for option in _options(orchestrator):
    if option.name in raw:
      where, text = raw[option.name]
      try:
        values[option.name] = option.parse(text)
      except SettingsError as e:
        raise SettingsError(f'{where}: {e}') from None
  if beam_args is None and 'beam_args' in raw:
    try:
      beam_args = shlex.split(raw['beam_args'][1])
    except ValueError as e:
      raise SettingsError(f'{BEAM_ARGS_ENV}: {e}') from None
    try:
      unknown = unknown_beam_args(beam_args)
    except SettingsError as e:
      raise SettingsError(f'{BEAM_ARGS_ENV}: {e}') from None
    if unknown:
      raise SettingsError(f'{BEAM_ARGS_ENV}: {_unknown_message(unknown[0])}')
    problem = runner_problem(beam_args)
    if problem:
      raise SettingsError(f'{BEAM_ARGS_ENV}: {problem}')
  values['beam_args'] = tuple(beam_args or ())

  if orchestrator == 'kubeflow':
    missing = [n for n in _KUBEFLOW_REQUIRED if n not in values]
    if missing:
      raise SettingsError(', '.join(f'--{n}' for n in missing) + ' required '
                          f'(or {", ".join(ENV_PREFIX + n.upper() for n in missing)})')
  _defaults(orchestrator, values)
  _check_name(orchestrator, values['pipeline_name'])
  _check_paths(values, raw)
  _check_encoder(orchestrator, values)
  return Settings(orchestrator=orchestrator, **values)


def _defaults(orchestrator: str, values: Dict[str, Any]) -> None:
  """Fills in what was not given, in place; local paths made absolute."""
  kubeflow = orchestrator == 'kubeflow'
  values.setdefault('pipeline_name', {
      'airflow': configs.PIPELINE_NAME + '_airflow',
      # KFP v2 names allow only [a-z0-9-].
      'kubeflow': configs.PIPELINE_NAME.replace('_', '-'),
  }.get(orchestrator, configs.PIPELINE_NAME))
  values.setdefault('data_root', configs.DATA_ROOT)
  values.setdefault('pipeline_root', os.path.join(
      os.path.expanduser('~'), 'coco_captions_airflow', values['pipeline_name'])
                    if orchestrator == 'airflow' else
                    default_pipeline_root(values['data_root']))
  values.setdefault('images_root', os.path.join(values['data_root'],
                                                configs.IMAGES_SUBDIR))
  values.setdefault('serving_model_dir', os.path.join(
      values['pipeline_root'], configs.SERVING_SUBDIR))
  values.setdefault('module_file', configs.MODULE_FILE)
  # Kubeflow's pods read the schema from the image (see Dockerfile).
  values.setdefault('schema_file', '/pipeline/schema/schema.pbtxt'
                    if kubeflow else configs.SCHEMA_FILE)
  if kubeflow:
    values['metadata_path'] = None
    values.setdefault('image', 'coco-captions-tfx:latest')
    values.setdefault('user_code', 'wheel')
    values['output_file'] = os.path.abspath(
        values.get('output_file', 'coco_captions_pipeline.json'))
    # The rest are paths in the cluster, not here.
    values['module_file'] = os.path.abspath(values['module_file'])
    return
  for name in ('data_root', 'images_root', 'pipeline_root', 'module_file',
               'serving_model_dir', 'schema_file'):
    values[name] = _absolute(values[name])
  values['metadata_path'] = _absolute(values.get('metadata_path') or os.path.join(
      values['pipeline_root'], configs.METADATA_FILENAME))


def default_pipeline_root(data_root: str) -> str:
  """Where a local run on `data_root` keeps its outputs unless told: the
  bundled data's under ./tfx_output/coco_captions, any other data's beside
  it, named after its folder and a digest of its absolute path or URI."""
  where = _absolute(data_root).rstrip('/')
  if where == configs.DATA_ROOT:
    return os.path.join(configs.OUTPUT_DIR, configs.PIPELINE_NAME)
  name = re.sub(r'[^A-Za-z0-9_.]+', '_', os.path.basename(where))[:40]
  digest = hashlib.sha256(where.encode()).hexdigest()[:8]
  return os.path.join(configs.OUTPUT_DIR,
                      f'{configs.PIPELINE_NAME}-{name or "data"}-{digest}')


def _absolute(path: str) -> str:
  """Local paths become absolute (components may not share our cwd); URIs stay."""
  return path if '://' in path else os.path.abspath(path)


def _encoders_table(module_file: str):
  """coco_captions_encoders beside the module file, or None if it has none.

  Loaded from there, not imported: the table belongs to that module file, and
  a DAG file installed elsewhere cannot import it.
  """
  path = os.path.join(os.path.dirname(module_file), 'coco_captions_encoders.py')
  if '://' in path or not os.path.isfile(path):
    return None
  spec = importlib.util.spec_from_file_location('coco_captions_encoders', path)
  table = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(table)
  return table


def _check_encoder(orchestrator: str, values: Dict[str, Any]) -> None:
  """The image encoder settings, checked against the module file's table."""
  names = ('image_encoder', 'image_encoder_weights', 'fine_tune_layers',
           'image_size')
  if all(values.get(n) is None for n in names):
    return
  weights = values.get('image_encoder_weights')
  local = orchestrator != 'kubeflow'
  if local and weights and '://' not in weights and weights not in (
      'imagenet', 'none'):
    values['image_encoder_weights'] = weights = os.path.abspath(weights)
  table = _encoders_table(values['module_file'])
  if table is None:
    return  # A module file of the user's own checks its settings itself.
  errors = table.settings_errors(
      values.get('image_encoder'), weights, values.get('fine_tune_layers'),
      values.get('image_size'), check_files=local)
  if errors:
    raise SettingsError(errors[0])


def _check_name(orchestrator: str, name: str) -> None:
  allowed = _KFP_NAME if orchestrator == 'kubeflow' else _NAME
  if not name or set(name) - allowed or name[0] in '-.':
    kinds = ('lower-case letters, digits and dashes' if orchestrator ==
             'kubeflow' else 'letters, digits, dashes, dots and underscores')
    raise SettingsError(f'pipeline name {name!r}: use {kinds}, starting '
                        'with a letter or digit')


def _check_paths(values: Dict[str, Any],
                 raw: Dict[str, Tuple[str, str]]) -> None:
  """Output paths that cannot be what they name fail now, not mid-run."""
  for name, directory in (('pipeline_root', True), ('serving_model_dir', True),
                          ('metadata_path', False)):
    path = values.get(name)
    if not path or '://' in path:
      continue
    where = raw[name][0] if name in raw else f'--{name} (default)'
    if os.path.exists(path) and os.path.isdir(path) != directory:
      raise SettingsError(
          f'{where}: {path} is a {"directory" if directory is False else "file"}'
          f', not a {"directory" if directory else "file"}')
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
      parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
      raise SettingsError(f'{where}: {parent} is a file, not a directory')
