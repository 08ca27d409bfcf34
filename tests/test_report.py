"""The run report's pieces on tiny inputs, and a page of them in Chromium."""

import base64
import csv
import glob
import hashlib
import io
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_metadata.proto.v0 import statistics_pb2

import headless_chromium
import report_checks
from coco_captions.pipeline import evaluator
from coco_captions.reporting import charts, facets, pages, report, report_data, run_record
from test_evaluator import _write_raw_split


def test_token_stats_count_lengths_and_out_of_vocabulary_tokens():
  # Vocabulary ids 1..5; 6 and 7 are OOV buckets; 0 pads.
  stats = report_data.token_stats([[1, 2, 3, 0, 0], [4, 6, 0, 0, 0], [7, 5, 2]], 5)
  assert stats.captions == 3
  assert stats.lengths == {2: 1, 3: 2}
  assert stats.tokens == 8 and stats.oov_tokens == 2
  assert stats.coverage == pytest.approx(6 / 8)


def _words(caption):
  """The module file's cleaning, in Python: apostrophes join, others split."""
  return re.findall(r'[^\W_]+', re.sub(r"['\u2019]", '', caption.lower()))


def test_caption_statistics_agree_with_the_raw_captions(tiny_model):
  fn_args, data_dir = tiny_model
  examples_uri = os.path.dirname(os.path.dirname(fn_args.train_files[0]))
  vocabulary, stats = report_data.caption_statistics(fn_args.transform_output,
                                                examples_uri)
  assert list(stats) == ['train', 'eval']
  with open(vocabulary.path) as f:
    known = set(f.read().split())
  assert len(known) == vocabulary.size
  assert vocabulary.most_frequent[0] in known
  with open(os.path.join(data_dir, 'captions.csv')) as f:
    rows = list(csv.DictReader(f))
  # The harness's split: eval is image_id % 5 == 0; the vocabulary is train's.
  for split, keep in (('train', lambda i: i % 5 != 0),
                      ('eval', lambda i: i % 5 == 0)):
    words = [_words(r['caption'])[:vocabulary.caption_length]
             for r in rows if keep(int(r['image_id']))]
    s = stats[split]
    assert s.captions == len(words)
    assert s.tokens == sum(len(w) for w in words)
    assert s.oov_tokens == sum(t not in known for w in words for t in w)
    assert sum(s.lengths.values()) == len(words)
  assert stats['train'].oov_tokens == 0


def _rewritten(path):
  """Moves `path`'s modification time a second on, as a rewrite would."""
  stat = os.stat(path)
  os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_caption_statistics_are_remembered_for_the_same_artifacts(
    tiny_model, tmp_path, monkeypatch):
  # A run served from TFX's cache reports on the same Transform outputs.
  fn_args, _ = tiny_model
  examples = str(tmp_path / 'examples')
  shutil.copytree(
      os.path.dirname(os.path.dirname(fn_args.train_files[0])), examples)
  graph = fn_args.transform_output
  memo = str(tmp_path / 'reports')
  fresh = report_data.caption_statistics(graph, examples)
  reads = []
  read = report_data.caption_statistics
  monkeypatch.setattr(report_data, 'caption_statistics',
                      lambda *args: reads.append(args) or read(*args))

  def remembered(memo_dir=memo):
    return report_data.remembered_caption_statistics(memo_dir, graph, examples)

  assert remembered() == remembered() == fresh
  assert len(reads) == 1
  # Outputs rewritten under the same URI are read again.
  (eval_file,) = glob.glob(os.path.join(examples, 'Split-eval', '*'))
  _rewritten(eval_file)
  assert remembered() == fresh
  assert len(reads) == 2
  # An unreadable memo is read past; without a memo dir nothing is kept.
  with open(os.path.join(memo, report_data.CAPTION_STATISTICS_MEMO), 'w') as f:
    f.write('{"key": ')
  assert remembered() == fresh
  assert remembered(None) == remembered(None) == fresh
  assert len(reads) == 5


def test_loss_curves_of_a_real_training_run(tiny_model):
  fn_args, _ = tiny_model
  curves = report_data.loss_curves(fn_args.model_run_dir)
  assert set(curves) == {'train', 'validation'}
  with open(os.path.join(fn_args.model_run_dir, 'training.json')) as f:
    training = json.load(f)
  assert [loss for _, loss in curves['train']] == pytest.approx(
      training['loss'])
  assert curves['validation'][-1][1] == pytest.approx(
      training['eval_loss'][-1])


def test_loss_curves_read_every_epoch(tmp_path):
  for name, losses in (('train', [3.0, 2.0, 1.5]), ('validation', [3.2, 2.6])):
    writer = tf.summary.create_file_writer(str(tmp_path / name))
    with writer.as_default():
      for epoch, loss in enumerate(losses):
        tf.summary.scalar('epoch_loss', loss, step=epoch)
        tf.summary.scalar('epoch_learning_rate', 0.001, step=epoch)
    writer.close()
  curves = report_data.loss_curves(str(tmp_path))
  assert curves['train'] == [(0, 3.0), (1, 2.0), (2, 1.5)]
  assert curves['validation'] == [(0, pytest.approx(3.2)),
                                  (1, pytest.approx(2.6))]
  assert report_data.loss_curves(str(tmp_path / 'absent')) == {}


def test_line_chart_is_svg_with_every_point():
  svg = charts.svg_line_chart({'training': [(1, 4.2), (2, 3.1), (3, 0.9)],
                               'eval': [(1, 4.0), (2, 3.7), (3, 3.9)]},
                              'epoch', 'loss')
  root = ET.fromstring(svg)
  assert len(root.findall('polyline')) == 2
  assert len(root.findall('circle')) == 6
  y_labels = [float(t.text) for t in root.findall('text')
              if t.text and re.fullmatch(r'[\d.]+', t.text)]
  assert max(y_labels) >= 4.2
  with pytest.raises(ValueError, match='nothing to plot'):
    charts.svg_line_chart({}, 'x', 'y')


def test_histogram_has_a_bar_per_group_and_value():
  svg = charts.svg_histogram({'train': {3: 2, 5: 6}, 'eval': {4: 1}},
                             'tokens per caption')
  root = ET.fromstring(svg)
  bars = [r for r in root.findall('rect') if r.find('title') is not None]
  assert len(bars) == 2 * 3  # values 3, 4, 5 for each group
  titles = {r.find('title').text for r in bars}
  assert 'train: 6 captions of 5 tokens' in titles
  assert 'eval: 0 captions of 3 tokens' in titles


def test_thumbnail_is_a_small_png_data_uri():
  source = io.BytesIO()
  Image.new('RGB', (640, 480), (200, 10, 10)).save(source, format='JPEG')
  uri = report_data.thumbnail_uri(source.getvalue())
  assert uri.startswith('data:image/png;base64,')
  image = Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1])))
  assert image.format == 'PNG' and image.size == (96, 72)


def _statistics(name, count):
  stats = statistics_pb2.DatasetFeatureStatisticsList()
  dataset = stats.datasets.add(name=name, num_examples=count)
  feature = dataset.features.add()
  feature.path.step.append('image_id')
  feature.type = statistics_pb2.FeatureNameStatistics.INT
  feature.num_stats.common_stats.num_non_missing = count
  feature.num_stats.mean = 7.0
  feature.num_stats.max = 12.0
  return stats


def test_facets_proto_is_tfdvs_train_against_eval():
  proto = facets.facets_proto(_statistics('', 12), _statistics('', 3))
  combined = statistics_pb2.DatasetFeatureStatisticsList.FromString(
      base64.b64decode(proto))
  assert [(d.name, d.num_examples) for d in combined.datasets] == [
      ('train', 12), ('eval', 3)]


def test_vendored_browser_code_is_unmodified():
  # The vendor README lists each file's sha256; the files are never edited.
  vendor = os.path.dirname(os.path.dirname(facets.FACETS_BUNDLE))
  with open(os.path.join(vendor, 'README.md')) as f:
    readme = f.read()
  for path in (facets.FACETS_BUNDLE, facets.WEBCOMPONENTS_POLYFILL):
    with open(path, 'rb') as f:
      digest = hashlib.sha256(f.read()).hexdigest()
    assert f'{digest}  {os.path.relpath(path, vendor)}' in readme
  # Fonts it would fetch are dropped when it is inlined.
  assert '@font-face' not in facets.facets_bundle()


@pytest.fixture(scope='module')
def eval_pool(tiny_data, tmp_path_factory):
  """(pool, its raw rows, the split directory it was read from)."""
  with open(os.path.join(tiny_data, 'captions.csv')) as f:
    rows = [r for r in csv.DictReader(f) if int(r['image_id']) % 5 == 0]
  split_dir = str(tmp_path_factory.mktemp('report_examples') / 'Split-eval')
  _write_raw_split(split_dir, rows)
  return evaluator.load_pool(split_dir, max_images=1000), rows, split_dir


def test_retrieval_examples_mark_the_true_image_and_own_captions(
    tiny_model, eval_pool):
  fn_args, data_dir = tiny_model
  pool, rows, _ = eval_pool
  captions, images, image_bytes = report_data.retrieval_examples(
      fn_args.serving_model_dir, pool, os.path.join(data_dir, 'images'),
      num_captions=2, num_images=2, top_images=3, top_captions=4)
  image_of = {r['caption']: r['image_name'] for r in rows}
  assert len(captions) == 2 and len(images) == 2
  for q in captions:
    assert q.true_image == image_of[q.caption]
    assert len(q.hits) == 3
    scores = [s for _, s in q.hits]
    assert scores == sorted(scores, reverse=True)
  for q in images:
    assert len(q.hits) == 4
    for caption, _, own in q.hits:
      assert own == (image_of[caption] == q.image)
  shown = {n for q in captions for n, _ in q.hits} | {
      q.true_image for q in captions} | {q.image for q in images}
  assert set(image_bytes) == shown
  with open(os.path.join(data_dir, 'images', q.image), 'rb') as f:
    assert image_bytes[q.image] == f.read()


def test_retrieval_examples_are_remembered_for_the_same_model_and_images(
    tiny_model, eval_pool, tmp_path, monkeypatch):
  # A run served from TFX's cache has the same model, eval split and images.
  fn_args, data_dir = tiny_model
  pool, _, split_dir = eval_pool
  images, model = str(tmp_path / 'images'), str(tmp_path / 'model')
  shutil.copytree(os.path.join(data_dir, 'images'), images)
  shutil.copytree(fn_args.serving_model_dir, model)
  memo = str(tmp_path / 'reports')
  calls = []
  compute = report_data.retrieval_examples
  monkeypatch.setattr(report_data, 'retrieval_examples',
                      lambda *args: calls.append(args) or compute(*args))

  def remembered(memo_dir=memo):
    return report_data.remembered_retrieval_examples(
        memo_dir, model, split_dir, pool, images)

  first = remembered()
  assert remembered() == first  # Queries, scores and thumbnails alike.
  assert len(calls) == 1
  captions, image_queries, thumbnails = first
  assert captions and image_queries
  assert all(uri.startswith('data:image/png;base64,')
             for uri in thumbnails.values())
  # An image of the pool replaced in place is embedded again.
  path = os.path.join(images, pool.image_names[0])
  _rewritten(path)
  assert remembered() == first
  assert len(calls) == 2
  # So is a retrained model written under the same URI.
  (variables,) = glob.glob(os.path.join(model, 'variables', '*.index'))
  _rewritten(variables)
  assert remembered() == first
  assert len(calls) == 3
  # Without a memo dir nothing is kept.
  assert remembered(None) == remembered(None) == first
  assert len(calls) == 5


def test_report_without_a_run_is_one_clear_line(tmp_path, capsys):
  assert report.main(['--pipeline_root', str(tmp_path / 'absent')]) == 2
  assert capsys.readouterr().err == (
      f'error: pipeline root {tmp_path / "absent"} is not a directory\n')
  assert report.main(['--pipeline_root', str(tmp_path), '--verbose']) == 2
  assert capsys.readouterr().err == (
      f'error: no ML Metadata at {tmp_path / "metadata.sqlite"}\n')


def test_remote_reference_checker_finds_each_kind():
  page = '''<img src="https://example.com/a.png"><link href='//cdn/x.css'>
  <div style="background: url( http://x/y.png )"></div><style>@import "https://f/g.css";</style>
  <script src="data:text/javascript,1"></script><img src="data:image/png;base64,AA">
  <a href="#lineage">local</a><svg><text>see http://example.com</text></svg>'''
  found = report_checks.remote_references(page)
  assert len(found) == 4, found
  assert report_checks.non_local_requests(
      ['file:///r.html', 'data:image/png;base64,AA', 'about:srcdoc',
       'https://cdnjs.example/x.js']) == ['https://cdnjs.example/x.js']


def _chromium_or_skip():
  if not headless_chromium.available():
    if os.environ.get('CI'):
      pytest.fail(f'{headless_chromium.CHROMIUM} is missing; .ci/run installs it')
    pytest.skip(f'no {headless_chromium.CHROMIUM} (apt-get install chromium)')


def test_report_pieces_render_offline_in_chromium(tmp_path):
  """Facets Overview from the vendored build, thumbnails and charts, offline."""
  _chromium_or_skip()
  proto = facets.facets_proto(_statistics('', 12), _statistics('', 3))
  source = io.BytesIO()
  Image.new('RGB', (64, 48), (10, 120, 200)).save(source, format='PNG')
  thumb = report_data.thumbnail_uri(source.getvalue())
  page = ('<!doctype html><html><head><meta charset="utf-8"><title>t</title>'
          '</head><body>' +
          pages.render('facets.html.j2', facets=facets.overview(proto)) +
          f'<img src="{thumb}"><img src="{thumb}">' +
          charts.svg_line_chart({'a': [(1, 1.0), (2, 0.5)]}, 'x', 'y') +
          '</body></html>')
  assert report_checks.remote_references(page) == []
  path = tmp_path / 'pieces.html'
  path.write_text(page)
  with headless_chromium.render(path.as_uri()) as browser:
    assert browser.wait_for(report_checks.FACETS_RENDERED, 60), browser.errors()
    assert browser.evaluate(report_checks.IMAGES) == {'total': 2, 'rendered': 2}
    assert 'image_id' in browser.evaluate(report_checks.FACETS_TEXT)
    assert browser.errors() == []
    assert report_checks.non_local_requests(browser.requested_urls()) == []
    browser.screenshot(str(tmp_path / 'pieces.png'))
  with Image.open(tmp_path / 'pieces.png') as shot:
    assert shot.format == 'PNG' and shot.size[0] >= 800


EVIL = '<script>alert(1)</script>'
ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;'


def _evil_record():
  """A run whose every name and text is markup: a split, a component, the
  blessing's reason, artifact URIs."""
  ref = run_record.ArtifactRef('anomalies', 'ExampleAnomalies', 3, EVIL, EVIL)
  return run_record.RunRecord(
      pipeline_name=EVIL, run_id=EVIL,
      components=[
          run_record.ComponentRun('ExampleValidator', 1, 'COMPLETE', 1.0,
                                  {'anomalies': [EVIL]}),
          run_record.ComponentRun(EVIL, 2, 'FAILED', 1.0, {})],
      split_counts={EVIL: 3}, training=None, anomalies={EVIL: [EVIL]},
      evaluation={'text_to_image_recall@1': 0.5,
                  'text_to_image_chance@1': 0.25, 'num_images': 4.0,
                  'num_captions': 20.0, 'blessing_metric': EVIL,
                  'blessing_threshold': 0.3},
      blessing={'blessed': 1, 'current_model_id': 9, 'reason': EVIL,
                'baseline_model': EVIL},
      pushed={'pushed': 1, 'pushed_destination': EVIL, 'pushed_version': EVIL},
      lineage=[run_record.LineageRow(EVIL, 'COMPLETE', 1, [ref], [ref])],
      failure=f'error: {EVIL} failed: OSError: {EVIL}')


def test_report_data_says_why_each_part_is_missing(tmp_path):
  record = _evil_record()
  record.components.append(run_record.ComponentRun(
      'Trainer', 3, 'FAILED', 1.0, {'model_run': [str(tmp_path)]}))
  data = report_data.read_report_data(record, memo_dir=str(tmp_path))
  assert (data.captions, data.loss, data.examples) == (None, None, None)
  assert data.missing == {
      'captions': 'Transform did not run in this run',
      'loss': 'the Trainer\'s TensorBoard logs hold no epoch_loss',
      'examples': 'Trainer (failed) has no model output'}
  _, missing = report.render(record, data, '/m.sqlite')
  assert missing['Model: loss'] == data.missing['loss']
  assert missing['Examples'] == data.missing['examples']


def test_a_caption_query_ranks_its_true_image():
  hits = [('a.jpg', 0.9), ('b.jpg', 0.5)]
  assert report_data.CaptionQuery('c', 'b.jpg', hits).rank == 2
  assert report_data.CaptionQuery('c', 'x.jpg', hits).rank is None


def test_a_failed_runs_report_says_why_at_the_top():
  page, _ = report.render(_evil_record(), report_data.ReportData(), 'title')
  header = page.split('<section')[0]
  assert (f'<pre class="failure">error: {ESCAPED} failed: OSError: '
          f'{ESCAPED}</pre>') in header


def test_every_text_of_the_report_is_escaped():
  page, missing = report.render(_evil_record(), report_data.ReportData(), EVIL)
  sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page,
                             re.S))
  assert EVIL not in page and '<script' not in page
  assert ESCAPED in page.split('<section')[0]  # Title and status.
  for anchor, times in (('run', 3), ('anomalies', 2), ('metrics', 0),
                        ('blessing', 4), ('lineage', 3)):
    assert sections[anchor].count(ESCAPED) >= times, anchor
  assert 'Model: blessing' not in missing and 'Lineage' not in missing
  assert missing['Data: statistics'] == 'StatisticsGen did not run in this run'


def test_captions_and_image_names_in_the_examples_are_escaped():
  thumbnail = 'data:image/png;base64,AA=='
  data = report_data.ReportData(examples=report_data.RetrievalExamples(
      pool_images=2, top_images=1, top_captions=1,
      caption_queries=[report_data.CaptionQuery(EVIL, EVIL, [('a.jpg', 0.5)])],
      image_queries=[report_data.ImageQuery(EVIL, [(EVIL, 0.25, True)])],
      thumbnails={EVIL: thumbnail, 'a.jpg': thumbnail}))
  page, missing = report.render(_evil_record(), data, EVIL)
  assert 'Examples' not in missing
  assert '<script' not in page
  body = page.split('<section id="examples">')[1]
  # The caption, the true image's name (alt, title), the image query's name
  # (alt, title, label) and caption.
  body = body.split('</section>')[0]
  assert body.count(ESCAPED) == 1 + 2 + 3 + 1
  assert body.count('class="thumb"') == 3
  assert '<li class="own">' + ESCAPED in body


def test_report_defaults_to_the_one_pipeline_in_the_store(tmp_path, capsys):
  # An Airflow DAG's pipeline is named after its DAG id.
  import hand_built_mlmd as hb
  store = hb.sqlite_store(str(tmp_path / 'metadata.sqlite'))
  first = hb.HandBuiltStore(store, 'airflow', 'dag_id')
  first.execute(first.run('manual__1'), 'Trainer', 'FAILED')
  assert report.main(['--pipeline_root', str(tmp_path), '--verbose']) == 0
  out = capsys.readouterr().out
  assert out.startswith(
      f'Report:              {tmp_path / "reports" / "run-manual__1.html"}\n')
  assert (tmp_path / 'reports' / 'index.html').is_file()
  hb.HandBuiltStore(store, 'airflow', 'other')
  assert report.main(['--pipeline_root', str(tmp_path), '--verbose']) == 2
  assert capsys.readouterr().err == (
      'error: ML Metadata holds the pipelines dag_id, other; pass '
      '--pipeline_name\n')
