"""Every path, knob and derived default of a run, in one checked object.

Where a setting goes:

  * a hyper-parameter of the model (read by `preprocessing_fn` or `run_fn`):
    an entry of `HPARAMS` in model/coco_captions_hparams.py, beside the
    module file, with its default, range and help line. This module loads
    that table from beside the module file in use and makes each entry a
    flag and a variable; the value a user sets reaches the custom_config of
    the step the entry names.
  * anything else (paths, blessing, bad images, a runner's own): an
    `_Option` in `_OPTIONS` below, with its default, and a parameter of
    `coco_captions.pipeline.pipeline.create_pipeline` that receives it
    (`Settings.pipeline_args`).

Either way the flag `--NAME`, the variable `COCO_CAPTIONS_<NAME>` and the help
line with its "Default: ..." are generated here. Runners build `Settings`
from their flags (`from_flags`) or, where there are no flags (the Airflow DAG
file, a runner file run by TFX's CLI), from the variables
(`from_environment`). Flags win over the environment. Every value is checked
when it is parsed: a bad one is one `SettingsError` line naming the flag or
variable, before anything runs.

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
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from coco_captions import features, paths
from coco_captions.pipeline import configs
from coco_captions.pipeline.retrieval import KS

ENV_PREFIX = 'COCO_CAPTIONS_'
ORCHESTRATORS = ('local', 'beam', 'airflow', 'kubeflow')
BLESSING_METRICS = tuple(f'{direction}_recall@{k}'
                         for direction in ('text_to_image', 'image_to_text')
                         for k in KS)
# Steps stay 32-bit integers in TFX's TrainArgs, far beyond any real run.
MAX_STEPS = 100_000_000
BEAM_ARGS_ENV = ENV_PREFIX + 'BEAM_ARGS'
# Where Kubeflow's pods get the user code (coco_captions_kubeflow.py).
USER_CODE_CHOICES = ('wheel', 'image')
# KFP v2 pipeline names: lower-case letters, digits and dashes.
_KFP_NAME = frozenset('abcdefghijklmnopqrstuvwxyz0123456789-')
# Airflow DAG ids, MLMD context names and TFX CLI folders all take these.
_NAME = _KFP_NAME | frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZ_.')
# The model's tables, loaded from beside the module file.
HPARAMS_FILE = 'coco_captions_hparams.py'
ENCODERS_FILE = 'coco_captions_encoders.py'
# A hyper-parameter's reader (coco_captions_hparams) -> the create_pipeline
# argument that carries it.
_CONFIG_OF_READER = {'images': 'image_config',
                     'transform': 'transform_config',
                     'trainer': 'trainer_config'}


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
  blessing_metric: str
  blessing_threshold: float
  blessing_significance: float
  bad_images: str
  train_steps: Optional[int] = None
  eval_steps: Optional[int] = None
  # The model's hyper-parameters a user set, by the create_pipeline argument
  # that carries them (image_config, transform_config, trainer_config);
  # unset ones take the module file's defaults.
  hparams: Dict[str, Dict[str, Any]] = dataclasses.field(default_factory=dict)
  no_cache: bool = False
  beam_args: Tuple[str, ...] = ()
  # How a local run goes, not what it computes.
  force_run: bool = False
  verbose: bool = False
  # Kubeflow only: the container image and where the compiled JSON goes.
  image: Optional[str] = None
  output_file: Optional[str] = None
  user_code: Optional[str] = None

  def hparam(self, name: str) -> Any:
    """The value a user set for hyper-parameter `name`, or None."""
    for config in self.hparams.values():
      if name in config:
        return config[name]
    return None

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
        train_steps=self.train_steps,
        eval_steps=self.eval_steps,
        **{name: dict(self.hparams.get(name, {}))
           for name in _CONFIG_OF_READER.values()},
        beam_pipeline_args=list(self.beam_args),
        enable_cache=not self.no_cache,
        blessing_metric=self.blessing_metric,
        blessing_threshold=self.blessing_threshold,
        blessing_significance=self.blessing_significance,
        schema_file=self.schema_file,
        bad_images=self.bad_images)


# --- Parsing one value ---------------------------------------------------------


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
  return paths.bounded(text if text.lstrip('-').isdigit() else repr(text))


def _number(low: Optional[float] = None, high: Optional[float] = None,
            above: Optional[float] = None) -> Callable[[str], float]:
  """A parser of finite numbers from `low` (or more than `above`) to `high`."""
  def parse(text: str) -> float:
    try:
      value = float(text)
    except ValueError:
      raise SettingsError(f'{_shown(text)} is not a number') from None
    shown = paths.bounded(text)
    if not math.isfinite(value) or (low is not None and value < low) or (
        high is not None and value > high):
      raise SettingsError(f'{shown} is not a number '
                          f'{_range_text(float, low, high, above)}')
    if above is not None and value <= above:
      raise SettingsError(f'{shown} is not more than {above:g}')
    return value
  return parse


def _range_text(kind: type, low=None, high=None, above=None) -> str:
  """'from 1 to 1,000', 'more than 0, at most 1': a range as help says it."""
  def number(value):
    return f'{value:,}' if kind is int else f'{value:g}'
  if above is not None:
    return f'more than {number(above)}' + (
        f', at most {number(high)}' if high is not None else '')
  if low is not None and high is not None:
    return f'from {number(low)} to {number(high)}'
  return f'at least {number(low)}' if low is not None else ''


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
  def parse(text: str) -> str:
    if text not in choices:
      raise SettingsError(f'{text!r} is not one of {", ".join(choices)}')
    return text
  return parse


def _switch(text: str) -> bool:
  lowered = text.strip().lower()
  if lowered in ('1', 'true', 'yes'):
    return True
  if lowered in ('0', 'false', 'no'):
    return False
  raise SettingsError(f'{text!r} is not one of 1, true, yes, 0, false, no')


def _text(text: str) -> str:
  return text


# --- The settings ---------------------------------------------------------------


def _by_runner(others: Any, **runners: Any) -> Dict[str, Any]:
  """A default that differs by orchestrator: `others` but for `runners`."""
  return {o: runners.get(o, others) for o in ORCHESTRATORS}


@dataclasses.dataclass(frozen=True)
class _Option:
  """A flag and its variable.

  `default` is its value when unset (a `_by_runner` dict where it differs by
  runner). `derived` says the default in words where it follows from other
  settings (`_defaults`, or the module file, computes it). `hparam`: the
  create_pipeline argument that carries a hyper-parameter of the module
  file; '' for the pipeline's own settings.
  """
  name: str
  help: str
  parse: Callable[[str], Any] = _text
  default: Any = None
  derived: Any = None
  range: str = ''
  switch: bool = False
  orchestrators: Tuple[str, ...] = ORCHESTRATORS
  env_name: Optional[str] = None
  hparam: str = ''

  @property
  def flag(self) -> str:
    return '--' + self.name

  @property
  def env(self) -> str:
    return ENV_PREFIX + (self.env_name or self.name.upper())

  def default_for(self, orchestrator: str) -> Any:
    """The value an unset option takes, None where derived or unset."""
    if isinstance(self.default, dict):
      return self.default[orchestrator]
    return self.default

  def default_text(self, orchestrator: str) -> str:
    """The default as --help and the README say it."""
    if self.switch:
      return 'off'
    if orchestrator == 'kubeflow' and self.name in _KUBEFLOW_REQUIRED:
      return 'none (required)'
    if self.derived:
      derived = self.derived
      return derived[orchestrator] if isinstance(derived, dict) else derived
    value = self.default_for(orchestrator)
    if value is None:
      return 'none'
    if isinstance(value, float):
      return f'{value:g}'
    return f'{value:,}' if isinstance(value, int) else str(value)

  def help_line(self, orchestrator: str) -> str:
    if self.switch:
      return self.help + '.'
    return (f'{self.help}. Default: {self.default_text(orchestrator)}' +
            (f'; {self.range}' if self.range else ''))


def _whole(low: int, high: int) -> Dict[str, Any]:
  """`parse` and `range` of an _Option taking whole numbers from low to high."""
  return {'parse': _whole_number(low, high),
          'range': _range_text(int, low, high)}


_RUNS_HERE = ('local', 'beam', 'airflow')
_LOCAL = ('local', 'beam')
_KUBEFLOW_REQUIRED = ('pipeline_root', 'data_root', 'images_root')
# Pipeline roots of local runs: ./tfx_output/coco_captions[-NAME-HASH].
_OUTPUT = os.path.join('.', os.path.basename(configs.OUTPUT_DIR),
                       configs.PIPELINE_NAME)
_OPTIONS = (
    _Option('data_root', 'Directory of COCO captions CSV files (columns '
            f'{", ".join(features.CSV_COLUMNS)}); only {configs.CSV_PATTERN} '
            'is read', default=configs.DATA_ROOT),
    _Option('images_root', 'Directory or URI (anything TensorFlow reads, e.g. '
            'gs://bucket/train2014) that image_name is relative to',
            derived=f'DATA_ROOT/{configs.IMAGES_SUBDIR}'),
    _Option('pipeline_root', 'Where artifacts, ML Metadata, pushed models '
            'and logs go; one per data root unless given, so that models of '
            'other data never become each other\'s baseline',
            derived=_by_runner(
                f'{_OUTPUT} for the bundled data, {_OUTPUT}-NAME-HASH for a '
                'data root named NAME',
                airflow='~/coco_captions_airflow/PIPELINE_NAME')),
    _Option('metadata_path', 'SQLite file for ML Metadata',
            derived=f'PIPELINE_ROOT/{configs.METADATA_FILENAME}',
            orchestrators=_RUNS_HERE),
    _Option('module_file', 'TFX module file with preprocessing_fn and '
            f'run_fn; {HPARAMS_FILE} beside it declares the model\'s '
            'hyper-parameters (the flags below)', default=configs.MODULE_FILE),
    _Option('schema_file', 'The curated schema the data must match; any '
            'anomaly stops the run before Transform',
            # Kubeflow's pods read the schema from the image (Dockerfile).
            default=_by_runner(configs.SCHEMA_FILE,
                               kubeflow='/pipeline/schema/schema.pbtxt')),
    _Option('pipeline_name', 'Name recorded in ML Metadata (Airflow: the '
            'DAG id)', default=_by_runner(
                configs.PIPELINE_NAME,
                airflow=configs.PIPELINE_NAME + '_airflow',
                # KFP v2 names allow only [a-z0-9-].
                kubeflow=configs.PIPELINE_NAME.replace('_', '-'))),
    _Option('train_steps', 'Train for exactly this many steps instead of '
            'train_epochs (as it, no early stopping unless asked)',
            derived='none (train_epochs decides)', **_whole(1, MAX_STEPS)),
    _Option('eval_steps', 'At most this many eval batches each time the eval '
            'loss is measured',
            derived='the eval split, up to max_eval_images images',
            **_whole(1, MAX_STEPS)),
    _Option('serving_model_dir', 'Where blessed models are pushed, one '
            'numbered version each (as TF Serving expects)',
            derived=f'PIPELINE_ROOT/{configs.SERVING_SUBDIR}',
            env_name='SERVING_DIR'),
    _Option('blessing_metric', 'Evaluation metric that decides blessing: '
            'text_to_image_recall@K or image_to_text_recall@K, K in '
            f'{", ".join(map(str, KS))}', _choice(BLESSING_METRICS),
            default=configs.BLESSING_METRIC),
    _Option('blessing_threshold', 'The lowest value of the blessing metric '
            'for a model to be blessed and pushed; it must also not be worse '
            'than the latest blessed model', _number(0, 1),
            default=configs.BLESSING_THRESHOLD, range=_range_text(float, 0, 1)),
    _Option('blessing_significance', 'The metric must also be above its '
            'chance rate on the eval pool: a one-sided binomial test over '
            'the eval images must give a p-value below this (1 turns the '
            'test off). A pool too small for any model to pass blesses '
            'nothing', _number(high=1, above=0),
            default=configs.BLESSING_SIGNIFICANCE,
            range=_range_text(float, high=1, above=0)),
    _Option('bad_images', 'What to do with caption rows whose image is '
            'missing, empty, not a file, too large, undecodable or outside '
            'IMAGES_ROOT: fail (stop before Transform, naming every bad '
            'image and its rows) or drop (leave those rows out; they are '
            'counted and listed in PIPELINE_ROOT/GroupCaptionsByImage/'
            'bad_images/)', _choice(configs.BAD_IMAGES_CHOICES),
            default=configs.BAD_IMAGES),
    _Option('no_cache', 'Run every component even if its inputs are '
            'unchanged since an earlier run', _switch, switch=True),
    _Option('force_run', 'Run the pipeline even when nothing changed since '
            'the last run in PIPELINE_ROOT (data files, code, settings, ML '
            'Metadata), which is otherwise answered at once with that run\'s '
            'results. Components whose inputs are unchanged are still reused '
            'from cache', _switch, switch=True, orchestrators=_LOCAL),
    _Option('verbose', 'Show TensorFlow/Beam/TFX logs on the console instead '
            'of only in the log file', _switch, switch=True,
            orchestrators=_LOCAL),
    _Option('image', 'Container image with this project installed (see '
            'Dockerfile)', default='coco-captions-tfx:latest',
            orchestrators=('kubeflow',)),
    _Option('output_file', 'Where the compiled pipeline JSON is written',
            default='coco_captions_pipeline.json',
            orchestrators=('kubeflow',)),
    _Option('user_code', 'Where the pods get the module file and the .py '
            'files beside it: wheel (compiling uploads them as wheels to '
            'PIPELINE_ROOT/_wheels, which must be writable from here; the '
            'pods run the code compiled) or image (compiling writes nothing; '
            'the pods run the copy the image holds under /pipeline, so '
            'rebuild the image after editing it)', _choice(USER_CODE_CHOICES),
            default='wheel', orchestrators=('kubeflow',)),
)


def _hparam_options(table: Optional[ModuleType]) -> List[_Option]:
  """An _Option for each hyper-parameter of the module file's table."""
  if table is None:
    return []
  found = []
  for name, entry in table.HPARAMS.items():
    if entry.choices:
      parse, shown = _choice(entry.choices), f'one of {", ".join(entry.choices)}'
    elif entry.type is int:
      parse = _whole_number(entry.low, entry.high)
      shown = _range_text(int, entry.low, entry.high)
    elif entry.type is float:
      parse = _number(entry.low, entry.high, entry.above)
      shown = _range_text(float, entry.low, entry.high, entry.above)
    else:
      parse, shown = _text, ''
    found.append(_Option(
        name, entry.help, parse, default=entry.default,
        derived=entry.default_text and entry.default_text.format(
            **table.DEFAULTS), range=shown,
        hparam=_CONFIG_OF_READER[entry.reader]))
  return found


def _options(orchestrator: str,
             table: Optional[ModuleType] = None) -> List[_Option]:
  if orchestrator not in ORCHESTRATORS:
    raise ValueError(f'orchestrator {orchestrator!r} is not one of '
                     f'{ORCHESTRATORS}')
  return [o for o in _OPTIONS if orchestrator in o.orchestrators
          ] + _hparam_options(table)


def _hparams_table(module_file: str) -> Optional[ModuleType]:
  """coco_captions_hparams beside the module file (with the encoders table
  it imports as its `encoders`), or None where it has none.

  Loaded from there, not imported: the tables belong to that module file, and
  a DAG file installed elsewhere cannot import them. Neither imports
  TensorFlow.
  """
  directory = os.path.dirname(module_file)
  if '://' in module_file or not os.path.isfile(
      os.path.join(directory, HPARAMS_FILE)):
    return None
  path = os.path.join(directory, HPARAMS_FILE)
  names = [HPARAMS_FILE, ENCODERS_FILE]
  before = {n[:-3]: sys.modules.pop(n[:-3]) for n in names
            if n[:-3] in sys.modules}
  try:
    # The encoders table first, so that the hparams table's import of it
    # finds this one.
    for name in reversed(names):
      spec = importlib.util.spec_from_file_location(
          name[:-3], os.path.join(directory, name))
      module = importlib.util.module_from_spec(spec)
      sys.modules[name[:-3]] = module
      spec.loader.exec_module(module)
  except (ImportError, OSError, SyntaxError, NameError, AttributeError) as e:
    raise SettingsError(f'{path}: cannot load it'
                        f' ({type(e).__name__}: {e})') from None
  finally:
    for name in names:
      sys.modules.pop(name[:-3], None)
    sys.modules.update(before)
  unknown = sorted({e.reader for e in module.HPARAMS.values()} -
                   set(_CONFIG_OF_READER))
  if unknown:
    raise SettingsError(f'{path}: unknown reader {unknown[0]!r}, not one of '
                        f'{", ".join(_CONFIG_OF_READER)}')
  return module


def _module_file(argv: Sequence[str], environ: Mapping[str, str]) -> str:
  """The module file the flags or the environment name, before the rest is
  parsed: its hyper-parameters table decides the other flags."""
  parser = _Parser(add_help=False, allow_abbrev=False)
  parser.add_argument('--module_file')
  given = parser.parse_known_args(list(argv))[0].module_file
  variable = ENV_PREFIX + 'MODULE_FILE'
  if given is None and variable in environ:
    given = _set_value(variable, environ)
  return _absolute(given) if given else configs.MODULE_FILE


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are SettingsErrors, not usage dumps."""

  def error(self, message):
    raise SettingsError(message)


def build_parser(orchestrator: str = 'local',
                 description: Optional[str] = None,
                 module_file: str = configs.MODULE_FILE
                 ) -> argparse.ArgumentParser:
  """The flags of the runner for `orchestrator` with `module_file`'s
  hyper-parameters (values are checked later)."""
  return _parser(orchestrator, description, _hparams_table(module_file))


def _parser(orchestrator: str, description: Optional[str],
            table: Optional[ModuleType]) -> argparse.ArgumentParser:
  parser = _Parser(
      description=description,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      # Beam options must never be mistaken for abbreviations of ours.
      allow_abbrev=False,
      epilog=f'Every flag can also be set as {ENV_PREFIX}<FLAG IN CAPITALS>\n'
      f'(--serving_model_dir as {ENV_PREFIX}SERVING_DIR), Beam options as\n'
      f'{BEAM_ARGS_ENV}; flags win. Any other flag is a Beam pipeline option.')
  model = parser.add_argument_group(
      'model hyper-parameters',
      f'Declared in {HPARAMS_FILE} beside the module file; unset ones take '
      'its defaults.')
  for option in _options(orchestrator, table):
    where = model if option.hparam else parser
    if option.switch:
      where.add_argument(option.flag, action='store_const', const='1',
                         default=None, help=option.help_line(orchestrator))
    else:
      where.add_argument(option.flag, default=None,
                         help=option.help_line(orchestrator),
                         metavar=option.name.upper())
  return parser


def defaults_shown(orchestrator: str = 'local',
                   module_file: str = configs.MODULE_FILE) -> Dict[str, str]:
  """Flag -> its default as `--help` says it (the README's tables match)."""
  return {o.flag: o.default_text(orchestrator) for o in _options(
      orchestrator, _hparams_table(module_file))}


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
  environ = os.environ if environ is None else environ
  table = _hparams_table(_module_file(argv, environ))
  parser = _parser(orchestrator, description, table)
  flags, rest = parser.parse_known_args(argv)
  raw = _environment(orchestrator, environ, table)
  for option in _options(orchestrator, table):
    value = getattr(flags, option.name)
    if value is not None:
      raw[option.name] = (option.flag, value)
  beam_args = _beam_args(rest, parser) if rest else None
  return _build(orchestrator, raw, beam_args, table)


def from_environment(orchestrator: str = 'airflow',
                     environ: Optional[Mapping[str, str]] = None) -> Settings:
  """Settings from COCO_CAPTIONS_* variables alone; raises SettingsError."""
  environ = os.environ if environ is None else environ
  table = _hparams_table(_module_file([], environ))
  raw = _environment(orchestrator, environ, table)
  return _build(orchestrator, raw, None, table)


def _environment(orchestrator: str, environ: Mapping[str, str],
                 table: Optional[ModuleType]) -> Dict[str, Tuple[str, str]]:
  """Name -> (variable, text) of the set variables that `orchestrator` reads.

  A COCO_CAPTIONS_ variable that no runner knows is an error: a misspelt
  one would otherwise leave its default in place without a word.
  """
  known = {o.env: o for o in _OPTIONS + tuple(_hparam_options(table))}
  known[BEAM_ARGS_ENV] = None
  for name in sorted(environ):
    if name.startswith(ENV_PREFIX) and name not in known:
      close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.8)
      hint = f'; did you mean {close[0]}?' if close else ''
      raise SettingsError(f'unknown setting {name}{hint}')
  raw = {}
  for option in _options(orchestrator, table):
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
           beam_args: Optional[List[str]],
           table: Optional[ModuleType]) -> Settings:
  """Checks and converts `raw` (name -> (where, text)); fills in defaults."""
  values: Dict[str, Any] = {}
  hparams: Dict[str, Dict[str, Any]] = {}
  for option in _options(orchestrator, table):
    if option.name in raw:
      where, text = raw[option.name]
      try:
        value = option.parse(text)
      except SettingsError as e:
        raise SettingsError(f'{where}: {e}') from None
      if option.hparam:
        hparams.setdefault(option.hparam, {})[option.name] = value
      else:
        values[option.name] = value
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
  if table is not None:
    _check_encoder(orchestrator, hparams, table.encoders)
  return Settings(orchestrator=orchestrator, hparams=hparams, **values)


def _defaults(orchestrator: str, values: Dict[str, Any]) -> None:
  """Fills in what was not given, in place; local paths made absolute."""
  for option in _options(orchestrator):
    default = option.default_for(orchestrator)
    if default is not None:
      values.setdefault(option.name, default)
  # The derived ones (`_Option.derived` says each in words).
  values.setdefault('pipeline_root', os.path.join(
      os.path.expanduser('~'), 'coco_captions_airflow', values['pipeline_name'])
                    if orchestrator == 'airflow' else
                    default_pipeline_root(values['data_root']))
  values.setdefault('images_root', os.path.join(values['data_root'],
                                                configs.IMAGES_SUBDIR))
  values.setdefault('serving_model_dir', os.path.join(
      values['pipeline_root'], configs.SERVING_SUBDIR))
  if orchestrator == 'kubeflow':
    values['metadata_path'] = None
    values['output_file'] = os.path.abspath(values['output_file'])
    # The rest are paths in the cluster, not here.
    values['module_file'] = os.path.abspath(values['module_file'])
    return
  for name in ('data_root', 'images_root', 'pipeline_root', 'module_file',
               'serving_model_dir', 'schema_file'):
    values[name] = _absolute(values[name])
  values['metadata_path'] = _absolute(values.get('metadata_path') or os.path.join(
      values['pipeline_root'], configs.METADATA_FILENAME))


def _check_encoder(orchestrator: str, hparams: Dict[str, Dict[str, Any]],
                   encoders: ModuleType) -> None:
  """The image encoder settings, checked against the module file's table."""
  given = {k: v for config in hparams.values() for k, v in config.items()}
  weights = given.get('image_encoder_weights')
  local = orchestrator != 'kubeflow'
  if local and weights and '://' not in weights and weights not in (
      encoders.IMAGENET, encoders.NO_WEIGHTS):
    # A relative path is the user's: made absolute for the Trainer.
    weights = os.path.abspath(weights)
    for config in hparams.values():
      if 'image_encoder_weights' in config:
        config['image_encoder_weights'] = weights
  errors = encoders.settings_errors(
      given.get('image_encoder'), weights, given.get('fine_tune_layers'),
      given.get('image_size'), check_files=local)
  if errors:
    raise SettingsError(errors[0])


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
