"""The run history page on hand-built ML Metadata, in both layouts."""

import datetime
import html
import re

import pytest

import hand_built_mlmd as hb
from coco_captions.reporting import report, run_history, run_record


@pytest.fixture(params=('ir', 'airflow'))
def store(request, tmp_path):
  built = hb.HandBuiltStore(hb.in_memory_store(), request.param)
  hb.two_runs(built, str(tmp_path))
  return built.store


def _rows(page):
  """run id -> its row's cells as text, in page order."""
  rows = re.findall(r'<tr data-run-id="([^"]*)">(.*?)</tr>', page, re.S)
  return {html.unescape(run_id): [
      re.sub(r'\s+', ' ', html.unescape(re.sub(r'<[^>]+>', ' ', cell))).strip()
      for cell in re.findall(r'<td[^>]*>(.*?)</td>', row, re.S)]
          for run_id, row in rows}


def test_every_run_newest_first_with_what_it_read_and_pushed(store):
  rows = run_record.read_history(store, 'p')
  assert [r.run_id for r in rows] == ['run-2', 'run-1']
  assert rows[1].pushed_version == hb.PUSHED_VERSION
  assert rows[1].pushed_at == datetime.datetime.fromtimestamp(
      int(hb.PUSHED_VERSION))
  assert rows[0].pushed_version == '' and rows[0].pushed_at is None
  assert rows[0].trained_model.made_in_run == 'run-1'
  assert rows[0].training == hb.TRAINING

  page = run_history.render(rows, {report.report_filename('run-1')},
                            report.report_filename)
  cells = _rows(page)
  assert list(cells) == ['run-2', 'run-1']
  run, _, status, data, code, settings, recall, verdict, model, pushed = (
      cells['run-1'])
  assert (run, status, verdict) == ('run-1', 'complete', 'BLESSED')
  fingerprints = rows[1].fingerprints()
  assert data == (f'{fingerprints["data"]} images {"f" * 12} '
                  '4 eval, 16 train images')
  assert code == hb.CODE_DIGEST[:12]
  assert settings == ('train_steps=5, blessing_metric=text_to_image_recall@5,'
                      ' blessing_threshold=0.3, eval_images=1000; 5 steps of '
                      '16, seed 7')
  assert recall == 'R@1 0.250, R@5 0.750'
  assert model == f'Model #{rows[1].trained_model.artifact_id}'
  assert pushed.startswith(f'version {hb.PUSHED_VERSION} ')
  assert pushed.endswith(f'/serving/{hb.PUSHED_VERSION}')
  # Served from the cache, CsvExampleGen records no fingerprint of its
  # own: the examples it reused carry it.
  assert cells['run-2'][3] == data
  assert cells['run-2'][7] == 'unchanged'
  assert cells['run-2'][8] == (f'Model #{rows[1].trained_model.artifact_id} made in '
                               'run run-1')
  assert cells['run-2'][9] == '—'
  # Only a run whose report exists links to it.
  assert page.count('<a href=') == 1
  assert f'<a href="{report.report_filename("run-1")}">run-1</a>' in page


def test_history_escapes_what_it_prints():
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  run = built.run('<script>alert(1)</script>')
  built.execute(run, 'Trainer', 'FAILED')
  page = run_history.render(run_record.read_history(built.store, 'p'), set(),
                            report.report_filename)
  assert '<script>' not in page
  assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
  assert _rows(page)['<script>alert(1)</script>'][2] == (
      'Trainer did not complete')


def test_the_page_fits_a_laptop_screen_with_a_chart_of_the_metric(tmp_path):
  import headless_chromium
  built = hb.HandBuiltStore(hb.in_memory_store(), 'ir')
  hb.two_runs(built, str(tmp_path / ('long_directory_name' * 4)))
  rows = run_record.read_history(built.store, 'p')
  # As long as real values get: paths, run ids, every setting.
  rows[1].pushed['pushed_destination'] = (
      '/home/someone/projects/coco/tfx_output/coco_captions/serving/serving_model/'
      + hb.PUSHED_VERSION)
  page = run_history.render(rows, set(), report.report_filename)
  assert page.count('<svg') == 1 and 'chance rate' in page
  path = tmp_path / 'index.html'
  path.write_text(page, encoding='utf-8')
  if not headless_chromium.available():
    pytest.fail(f'{headless_chromium.CHROMIUM} is missing; .ci/run installs it')
  with headless_chromium.render(path.as_uri(), width=1400) as browser:
    assert browser.evaluate('document.documentElement.scrollWidth') <= 1400
    assert browser.evaluate(
        'Math.max(...[...document.querySelectorAll("#runs td")].map('
        'td => td.getBoundingClientRect().right))') <= 1400
    assert browser.evaluate(
        'document.querySelectorAll("svg.chart polyline").length') == 2
