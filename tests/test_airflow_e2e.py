"""The pipeline as an Airflow 2 DAG: parsed by Airflow, run by Airflow.

The DAG file is installed as `tfx pipeline create --engine airflow` installs
it (tests/test_tfx_cli_e2e.py): a copy in a DAGs folder away from the
checkout, so nothing can be found beside it. A real apache-airflow install
(the `airflow` extra) loads that folder through a DagBag, as the scheduler
does, from another directory and without PYTHONPATH; the parse must read
none of the data. Then it runs the DAG twice with `dag.test()` (no
scheduler needed) on a tiny dataset, and `python -m
coco_captions.reporting.report` writes the report of the last run from the
Airflow runner's metadata, which headless Chromium opens.
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import markupsafe
import pytest

from coco_captions.data import synthetic_data
from coco_captions.reporting import mlmd

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE_NAME = 'coco_airflow_test'
BEAM_ARGS = ['--direct_running_mode=multi_processing',
             '--direct_num_workers=1', '--job_name=coco captions']


@pytest.fixture(scope='module')
def airflow_run(tmp_path_factory):
  """(what tests/airflow_dag_run.py saw, the settings it ran with)."""
  work = tmp_path_factory.mktemp('airflow')
  synthetic_data.generate(str(work / 'data'), 20, seed=3)
  env = dict(
      os.environ,
      AIRFLOW_HOME=str(work / 'airflow_home'),
      AIRFLOW__CORE__LOAD_EXAMPLES='False',
      # Importing TFX alone can take longer than Airflow's default 30 s limit
      # for parsing a DAG file (see README).
      AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT='300',
      COCO_CAPTIONS_PIPELINE_NAME=PIPELINE_NAME,
      COCO_CAPTIONS_DATA_ROOT=str(work / 'data'),
      COCO_CAPTIONS_PIPELINE_ROOT=str(work / 'pipeline'),
      COCO_CAPTIONS_TRAIN_STEPS='5',
      COCO_CAPTIONS_EVAL_STEPS='2',
      COCO_CAPTIONS_BLESSING_THRESHOLD='0',
      # 4 eval images cannot tell a model from chance: no such test here.
      COCO_CAPTIONS_BLESSING_SIGNIFICANCE='1',
      # Quoted the way a user writes it in a shell.
      COCO_CAPTIONS_BEAM_ARGS=(
          "--direct_running_mode=multi_processing --direct_num_workers=1 "
          "--job_name='coco captions'"))
  env.pop('PYTHONPATH', None)
  airflow = os.path.join(os.path.dirname(sys.executable), 'airflow')
  migrate = subprocess.run([airflow, 'db', 'migrate'], env=env, cwd=str(work),
                           capture_output=True, text=True, timeout=300)
  assert migrate.returncode == 0, migrate.stdout + migrate.stderr
  dags = work / 'airflow_home' / 'dags'
  (dags / PIPELINE_NAME).mkdir(parents=True, exist_ok=True)
  shutil.copy(os.path.join(ROOT, 'coco_captions_airflow.py'),
              dags / PIPELINE_NAME / 'coco_captions_airflow.py')
  out, log = work / 'seen.json', work / 'airflow.log'
  with open(log, 'w') as log_file:
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'airflow_dag_run.py'),
         str(out), str(dags), '2'], env=env, cwd=str(work), stdout=log_file,
        stderr=subprocess.STDOUT, timeout=1500)
  assert result.returncode == 0, log.read_text()[-8000:]
  with open(out) as f:
    return json.load(f), work


def _expected_tasks(work):
  """Component id -> sorted upstream ids, from create_pipeline() itself."""
  from coco_captions.pipeline import configs, pipeline
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name=PIPELINE_NAME, pipeline_root=str(work / 'expected'),
      data_root=str(work / 'data'), images_root=str(work / 'data' / 'images'),
      module_file=configs.MODULE_FILE,
      serving_model_dir=str(work / 'expected' / 'serving'))
  return {c.id: sorted(u.id for u in c.upstream_nodes)
          for c in tfx_pipeline.components}


def test_dag_file_imports_without_errors(airflow_run):
  parse = airflow_run[0]['parse']
  assert parse['import_errors'] == {}
  assert parse['dag_ids'] == [PIPELINE_NAME]


def test_parsing_the_dag_file_reads_no_data(airflow_run):
  # Airflow parses it every 30 s or so: the data is checked and fingerprinted
  # in the tasks (CsvExampleGen's executor, GroupCaptionsByImage's launcher).
  assert airflow_run[0]['parse']['data_read'] == []


def test_dag_tasks_and_dependencies_match_the_pipeline(airflow_run):
  seen, work = airflow_run
  expected = _expected_tasks(work)
  assert len(expected) == 11
  assert seen['parse']['tasks'] == expected


def test_beam_options_reach_every_task_unchanged(airflow_run):
  for task, args in airflow_run[0]['parse']['beam_args'].items():
    assert args == BEAM_ARGS, task


def _executions(metadata_path):
  """run id -> {component id: state}, from the legacy launchers' records."""
  store = mlmd.connect(metadata_path)
  runs = {}
  for execution in store.get_executions():
    props = execution.properties
    runs.setdefault(props['run_id'].string_value, {})[
        props['component_id'].string_value] = props['state'].string_value
  return runs


def test_airflow_runs_the_pipeline_then_reuses_it(airflow_run):
  seen, work = airflow_run
  first, second = seen['runs']
  components = sorted(seen['parse']['tasks'])
  for run in (first, second):
    assert run['state'] == 'success', (
        run, (work / 'airflow.log').read_text()[-8000:])
    assert run['tasks'] == {c: 'success' for c in components}

  executions = _executions(str(work / 'pipeline' / 'metadata.sqlite'))
  assert sorted(executions) == sorted([first['run_id'], second['run_id']])
  # Every component really ran the first time (the resolver only looks up).
  assert executions[first['run_id']] == dict(
      {c: 'complete' for c in components},
      latest_blessed_model_resolver='cached')
  # Nothing changed: the second run reuses everything up to the model.
  second_states = executions[second['run_id']]
  for component in ('CsvExampleGen', 'ImportSchemaGen', 'StatisticsGen',
                    'ExampleValidator', 'AnomaliesGate', 'GroupCaptionsByImage',
                    'Transform', 'Trainer'):
    assert second_states[component] == 'cached', component

  # The first model was blessed (threshold 0, no baseline) and pushed once.
  versions = os.listdir(work / 'pipeline' / 'serving_model')
  assert len(versions) == 1
  assert os.path.isfile(
      work / 'pipeline' / 'serving_model' / versions[0] / 'saved_model.pb')


@pytest.fixture(scope='module')
def airflow_report(airflow_run):
  """(the report CLI's output, the page it wrote) after both DAG runs."""
  _, work = airflow_run
  result = subprocess.run(
      [sys.executable, '-m', 'coco_captions.reporting.report', '--pipeline_root',
       str(work / 'pipeline')],
      cwd=str(work), capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stdout + result.stderr
  (line,) = [l for l in result.stdout.splitlines() if l.startswith('Report:')]
  with open(line.split(None, 1)[1], encoding='utf-8') as f:
    return result.stdout, f.read()


def _section(page, anchor):
  match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
  assert match, anchor
  return match.group(1)


def _latest_properties(store, type_name):
  """Custom properties of the newest artifact of `type_name`, read raw."""
  artifact = max(store.get_artifacts_by_type(type_name), key=lambda a: a.id)
  return {k: getattr(v, v.WhichOneof('value'))
          for k, v in artifact.custom_properties.items()
          if v.WhichOneof('value') in ('int_value', 'double_value',
                                       'string_value')}, artifact.uri


def test_report_after_airflow_shows_the_figures_in_ml_metadata(
    airflow_run, airflow_report):
  from coco_captions.reporting import report
  from tensorflow_metadata.proto.v0 import statistics_pb2
  seen, work = airflow_run
  output, page = airflow_report
  first, second = (run['run_id'] for run in seen['runs'])
  reports = work / 'pipeline' / report.REPORTS_SUBDIR
  assert f'Report:              {reports / report.report_filename(second)}' in (
      output)
  assert '(partial)' not in output and 'Not available' not in page

  store = mlmd.connect(str(work / 'pipeline' / 'metadata.sqlite'))
  evaluation, _ = _latest_properties(store, 'ModelEvaluation')
  metrics = _section(page, 'metrics')
  for direction in ('text_to_image', 'image_to_text'):
    for k in (1, 5, 10):
      assert f'{evaluation[f"{direction}_recall@{k}"]:.3f}' in metrics
  blessing, _ = _latest_properties(store, 'ModelBlessing')
  assert str(markupsafe.escape(blessing['reason'])) in _section(page, 'blessing')
  assert 'unchanged' in _section(page, 'blessing')
  _, statistics_uri = _latest_properties(store, 'ExampleStatistics')
  for split in ('train', 'eval'):
    stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(
        (Path(statistics_uri) / f'Split-{split}' / 'FeatureStats.pb')
        .read_bytes())
    count = sum(d.num_examples for d in stats.datasets)
    assert f'<td class="num">{count}</td>' in _section(page, 'statistics')
  # The second run's cached Trainer points at the first run's model.
  assert re.search(rf'Model #\d+</td><td>run {re.escape(first)}</td>',
                   _section(page, 'lineage'))

  history = (reports / 'index.html').read_text()
  assert [html.unescape(r) for r in re.findall(
      r'<tr data-run-id="([^"]*)">', history)] == [second, first]
  assert f'version {os.listdir(work / "pipeline" / "serving_model")[0]}' in (
      history)


def test_report_after_airflow_opens_offline_in_chromium(
    airflow_report, tmp_path):
  import headless_chromium
  import report_checks
  _, page = airflow_report
  assert report_checks.remote_references(page) == []
  thumbnails = page.count('class="thumb"')
  assert thumbnails > 0 and page.count('<img ') == thumbnails
  path = tmp_path / 'airflow_report.html'
  path.write_text(page, encoding='utf-8')
  if not headless_chromium.available():
    pytest.fail(f'{headless_chromium.CHROMIUM} is missing; .ci/run installs it')
  with headless_chromium.render(path.as_uri()) as browser:
    assert browser.wait_for(report_checks.FACETS_RENDERED, 90), browser.errors()
    assert browser.evaluate(report_checks.IMAGES) == {
        'total': thumbnails, 'rendered': thumbnails}
    assert 'image_id' in browser.evaluate(report_checks.FACETS_TEXT)
    assert browser.errors() == []
    assert report_checks.non_local_requests(browser.requested_urls()) == []
