"""The benchmark command end to end on a tiny size: it runs and its report
holds consistent figures. No timing is compared with a threshold."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPONENTS = {'CsvExampleGen', 'ImportSchemaGen', 'latest_blessed_model_resolver',
              'StatisticsGen', 'ExampleValidator', 'AnomaliesGate',
              'GroupCaptionsByImage', 'Transform', 'Trainer',
              'RetrievalEvaluator', 'Pusher'}


@pytest.fixture(scope='module')
def report(tmp_path_factory):
  work = tmp_path_factory.mktemp('bench')
  output = work / 'report.json'
  result = subprocess.run(
      [sys.executable, '-m', 'benchmarks.run', '--sizes', '100',
       '--train_steps', '2', '--eval_steps', '1', '--model_seeds', '5',
       '--work_dir', str(work),
       '--output', str(output)],
      cwd=ROOT, capture_output=True, text=True, timeout=1200)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(output) as f:
    return json.load(f), result.stdout


def test_one_size_cold_then_cached_with_timings_from_ml_metadata(report):
  data, stdout = report
  assert data['machine']['cpus'] >= 1
  (r,) = data['results']
  assert r['captions'] == 100 and r['images'] == 20
  # Every image was read once before the cold run (see read_images).
  assert r['images_read_before_cold_run']['files'] == 20
  assert 0 < r['image_file_kib_mean'] < 10
  assert set(r['cold']['components']) == COMPONENTS
  assert all(c['state'] == 'complete' for c in r['cold']['components'].values())
  # Nothing changed: the CLI answered from its record of the cold run (the
  # benchmark checks what it printed) and started no pipeline.
  assert set(r['unchanged']) == {'wall_seconds', 'peak_rss_tree_mib',
                                 'peak_rss_process_mib'}
  assert 'unchanged re-run, wall s' in stdout
  # --force_run: everything up to Trainer is served from TFX's cache. The
  # resolver runs every time, and once the cold run's model is blessed it is
  # the new baseline, so the evaluator (and Pusher after it) may run again.
  states = {k: c['state'] for k, c in r['cached']['components'].items()}
  assert {k for k, s in states.items() if s != 'cached'} <= {
      'latest_blessed_model_resolver', 'RetrievalEvaluator', 'Pusher'}
  assert states['Transform'] == states['Trainer'] == 'cached'
  assert r['cold']['component_seconds'] == pytest.approx(
      sum(c['seconds'] for c in r['cold']['components'].values()), abs=0.05)
  # Wall time includes start-up, so it is never below the components' sum.
  assert r['cold']['wall_seconds'] >= r['cold']['component_seconds']
  assert r['cached']['component_seconds'] < r['cold']['component_seconds']
  assert 'Group + Transform / tf.data' in stdout
  assert 'Trainer / Keras' in stdout


def test_throughputs_and_ratios_agree_with_their_parts(report):
  (r,) = report[0]['results']
  t, k = r['transform'], r['trainer']
  # GroupCaptionsByImage (which decodes the images) and Transform together.
  components = r['cold']['components']
  assert t['grouping_seconds'] == components['GroupCaptionsByImage']['seconds']
  assert t['seconds'] == components['Transform']['seconds']
  assert t['data_path_seconds'] == pytest.approx(
      t['grouping_seconds'] + t['seconds'])
  assert t['captions_per_s'] == pytest.approx(100 / t['data_path_seconds'],
                                              rel=0.01)
  assert t['ratio_to_tfdata'] == pytest.approx(
      t['captions_per_s'] / t['tfdata_captions_per_s'], rel=0.01)
  # The tf.data loop ran before and after the cold run; Transform is compared
  # with their mean, and the range spans the faster and the slower run.
  before, after = t['tfdata_seconds_before'], t['tfdata_seconds_after']
  assert before > 0 and after > 0
  assert t['tfdata_seconds'] == pytest.approx((before + after) / 2, abs=0.01)
  assert t['tfdata_captions_per_s'] == pytest.approx(
      100 / t['tfdata_seconds'], rel=0.01)
  assert t['tfdata_drift'] == pytest.approx(after / before, rel=0.01)
  low, high = t['ratio_to_tfdata_range']
  assert low <= t['ratio_to_tfdata'] <= high
  assert low == pytest.approx(min(before, after) * t['captions_per_s'] / 100,
                              rel=0.01)
  assert high == pytest.approx(max(before, after) * t['captions_per_s'] / 100,
                               rel=0.01)
  # Two steps of batches of distinct images: all 15-17 train images each.
  training = r['cold']['training']
  assert training['steps'] == r['train_steps'] == 2
  assert 10 <= training['batch_size'] == training['train_images'] <= 20
  assert k['examples_per_s'] == pytest.approx(
      2 * training['batch_size'] / k['seconds'], rel=0.01)
  assert k['ratio_to_keras'] == pytest.approx(
      k['examples_per_s'] / k['keras_examples_per_s'], rel=0.01)


def test_memory_is_measured_over_the_process_tree(report):
  data = report[0]
  (r,) = data['results']
  # TensorFlow alone needs hundreds of MiB.
  assert r['cold']['peak_rss_tree_mib'] > 300
  assert r['cold']['peak_rss_tree_mib'] >= r['cold']['peak_rss_process_mib']
  assert data['peak_rss_largest_process_mib'] >= r['cold']['peak_rss_process_mib'] * 0.9


def test_quality_is_the_evaluators_and_other_seeds_train_again(report):
  (r,) = report[0]['results']
  q = r['quality']
  assert q['num_images'] == r['cold']['image_counts']['eval']
  for k in (1, 5, 10):
    for direction in ('text_to_image', 'image_to_text'):
      assert 0 <= q[f'{direction}_recall@{k}'] <= 1
  assert q['train_steps'] == 2
  assert q['trainer_seconds'] == r['cold']['components']['Trainer']['seconds']
  # The model trained again with seed 5, on the same cached Transform output.
  (again,) = r['quality_by_model_seed'].values()
  assert list(r['quality_by_model_seed']) == ['5']
  assert again['num_images'] == q['num_images'] and again['train_steps'] == 2
  # The decode-each-image-once floor, and Transform's time over it.
  t = r['transform']
  assert t['time_over_images_baseline'] == pytest.approx(
      t['seconds'] / t['images_baseline_seconds'], rel=0.01)
  assert t['images_baseline_per_s'] == pytest.approx(
      r['images'] / t['images_baseline_seconds'], rel=0.01)
  # The floor is the mean of a run before and one after the pipeline's.
  assert t['images_baseline_seconds'] == pytest.approx(
      (t['images_baseline_seconds_before'] +
       t['images_baseline_seconds_after']) / 2, rel=0.01)
  low, high = t['time_over_images_baseline_range']
  assert low <= t['time_over_images_baseline'] <= high
  assert t['grouping_over_images_baseline'] == pytest.approx(
      t['grouping_seconds'] / t['images_baseline_seconds'], rel=0.01)
  assert t['data_path_over_images_baseline'] == pytest.approx(
      t['data_path_seconds'] / t['images_baseline_seconds'], rel=0.01)
  low, high = t['data_path_over_images_baseline_range']
  assert low <= t['data_path_over_images_baseline'] <= high
