"""The run report of real pipeline runs, opened in headless Chromium.

Uses the four runs of the bundled data that tests/test_pipeline_e2e.py also
uses (the session fixture `runs`): A cold, B cached up to Trainer, C a worse
model, D all cached.
"""

import html
import os
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

import headless_chromium
import report_checks
from coco_captions.reporting import report, report_data

pytestmark = pytest.mark.e2e


def _report_path(output):
  lines = [line for line in output.splitlines() if line.startswith('Report:')]
  assert len(lines) == 1, output
  return lines[0].split(None, 1)[1]


def _section(page, anchor):
  match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
  assert match, anchor
  return match.group(1)


def _read(path):
  with open(path, encoding='utf-8') as f:
    return f.read()


def test_every_run_prints_the_path_of_its_complete_report(runs):
  paths, outputs, summaries = runs
  reports = os.path.join(paths['pipeline_root'], report.REPORTS_SUBDIR)
  for output, summary in zip(outputs, summaries):
    path = _report_path(output)
    assert path == os.path.join(reports, report.report_filename(summary.run_id))
    assert os.path.isfile(path)
    assert '(partial)' not in output and 'Report not written' not in output
  assert _read(os.path.join(reports, report.LATEST)) == _read(
      _report_path(outputs[-1]))


def test_report_shows_the_runs_own_figures(runs):
  _, outputs, (a, *_) = runs
  page = _read(_report_path(outputs[0]))
  assert html.escape(a.blessing['reason']) in _section(page, 'blessing')
  metrics = _section(page, 'metrics')
  for direction in ('text_to_image', 'image_to_text'):
    for k in (1, 5, 10):
      assert f'{a.evaluation[f"{direction}_recall@{k}"]:.3f}' in metrics
      assert f'{a.evaluation[f"{direction}_chance@{k}"]:.3f}' in metrics
  statistics = _section(page, 'statistics')
  for split in ('train', 'eval'):
    assert f'<td class="num">{a.split_counts[split]}</td>' in statistics
  assert 'none' in _section(page, 'anomalies')
  # One point per Keras epoch for the training loss (12 steps each on the
  # bundled data, up to 84 of them) and one per measurement of the eval loss
  # (up to 30); early stopping ends both at the same measurement.
  loss = ET.fromstring(re.search(r'<svg.*</svg>', _section(page, 'loss'),
                                 re.S).group(0))
  assert len(loss.findall('polyline')) == 2
  keras_epochs, evaluations = (len(a.training['loss']),
                               len(a.training['eval_loss']))
  assert a.training['steps'] == 12 * keras_epochs
  assert a.training['eval_epochs'][-1] == a.training['loss_epochs'][-1]
  assert 6 <= evaluations <= 30 and keras_epochs <= 84
  assert len(loss.findall('circle')) == keras_epochs + evaluations
  coverage = _section(page, 'captions')
  assert f'<td class="num">{a.split_counts["eval"]}</td>' in coverage
  assert 'vocabulary coverage' in coverage


def test_lineage_points_cached_components_at_the_run_that_made_them(runs):
  _, outputs, (a, b, c, _) = runs
  cached = _section(_read(_report_path(outputs[1])), 'lineage')
  for artifact in ('Examples', 'TransformGraph', 'Model'):
    assert re.search(rf'{artifact} #\d+</td><td>run {re.escape(a.run_id)}</td>',
                     cached), artifact
  retrained = _section(_read(_report_path(outputs[2])), 'lineage')
  assert re.search(r'Model #\d+</td><td>this run</td>', retrained)
  assert re.search(rf'TransformGraph #\d+</td><td>run {re.escape(a.run_id)}'
                   '</td>', retrained)
  assert c.output('Trainer', 'model') in retrained


def test_report_opens_offline_in_chromium_with_every_image(
    runs, tmp_path_factory):
  _, outputs, _ = runs
  path = _report_path(outputs[0])
  page = _read(path)
  assert report_checks.remote_references(page) == []
  examples = _section(page, 'examples')
  missed = examples.count('true image not in the top')
  expected = (report_data.EXAMPLE_CAPTIONS * report_data.TOP_IMAGES + missed +
              report_data.EXAMPLE_IMAGES)
  assert examples.count('class="thumb"') == expected
  assert page.count('<img ') == expected

  if not headless_chromium.available():
    pytest.fail(f'{headless_chromium.CHROMIUM} is missing; .ci/run installs it')
  shot = str(tmp_path_factory.mktemp('report') / 'report.png')
  with headless_chromium.render('file://' + path) as browser:
    assert browser.wait_for(report_checks.FACETS_RENDERED, 90), browser.errors()
    assert browser.evaluate(report_checks.IMAGES) == {
        'total': expected, 'rendered': expected}
    facets = browser.evaluate(report_checks.FACETS_TEXT)
    for feature in ('caption', 'image_id', 'image_name'):
      assert feature in facets
    assert browser.errors() == []
    assert report_checks.non_local_requests(browser.requested_urls()) == []
    browser.screenshot(shot)
  print(f'screenshot: {shot}')
  with Image.open(shot) as image:
    # The whole page, Facets and the examples included, not one window.
    assert image.format == 'PNG'
    assert image.size[0] >= 1000 and image.size[1] > 3000
