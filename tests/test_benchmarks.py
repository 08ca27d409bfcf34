"""The benchmark's parts: sizes, dataset cache, scaling fit, memory sampler,
and the two plain baselines on a tiny dataset (figures, not timings)."""

import argparse
import csv
import json
import math
import os
import subprocess
import sys

import pytest

import trainer_harness
from benchmarks import baselines
from benchmarks import run as bench


def test_sizes_are_sorted_integers_and_bad_ones_are_refused():
  assert bench.parse_sizes('100000,10000') == [10000, 100000]
  for bad in ('ten', '', '10'):
    with pytest.raises(argparse.ArgumentTypeError):
      bench.parse_sizes(bad)


def test_growth_exponent_recovers_the_power_of_an_exact_power_law():
  sizes = [1000, 10000, 100000]
  assert bench.growth_exponent(sizes, [n * 0.01 for n in sizes]) == 1.0
  assert bench.growth_exponent(sizes, [(n / 1000) ** 2 for n in sizes]) == 2.0
  assert bench.growth_exponent([1000], [3.0]) is None


def _result(captions, seconds):
  return {'captions': captions,
          'cold': {'wall_seconds': seconds + 30,
                   'components': {'Transform': {'seconds': seconds},
                                  'Pusher': {'seconds': 0.0}}}}


def test_scaling_reports_marginal_cost_per_thousand_captions():
  s = bench.scaling([_result(10000, 20.0), _result(100000, 110.0)])
  assert s['marginal_seconds_per_1k_captions']['Transform'] == [1.0]
  assert s['marginal_seconds_per_1k_captions']['Pusher'] == [0.0]
  # A component that takes no time has no exponent rather than a crash.
  assert s['exponent']['Pusher'] is None
  assert s['exponent']['Transform'] == pytest.approx(math.log(5.5) / math.log(10),
                                                     abs=1e-3)


def test_dataset_is_generated_once_and_trimmed_to_an_odd_size(tmp_path):
  path = bench.dataset_dir(str(tmp_path), 30, seed=1)
  csv_path = os.path.join(path, 'captions.csv')
  first = os.stat(csv_path).st_mtime_ns
  assert bench.dataset_dir(str(tmp_path), 30, seed=1) == path
  assert os.stat(csv_path).st_mtime_ns == first  # Not regenerated.
  assert len(os.listdir(os.path.join(path, 'images'))) == 6
  odd = bench.dataset_dir(str(tmp_path), 27, seed=1)
  bench._trim_csv(odd, 27)  # pylint: disable=protected-access
  with open(os.path.join(odd, 'captions.csv'), newline='') as f:
    assert len(list(csv.DictReader(f))) == 27


def test_coco_sized_images_are_a_dataset_of_their_own(tmp_path):
  small = bench.dataset_dir(str(tmp_path), 10, seed=1)
  coco = bench.dataset_dir(str(tmp_path), 10, seed=1, coco_sized_images=True)
  assert coco != small and coco.endswith('_coco')
  # COCO train2014 averages about 160 KB a file; the small images are ~1.5 KB.
  coco_read, small_read = bench.read_images(coco), bench.read_images(small)
  assert coco_read['files'] == small_read['files'] == 2
  assert 100 * 1024 < coco_read['bytes'] / 2 < 250 * 1024
  assert small_read['bytes'] / 2 < 10 * 1024


def test_read_images_reads_every_byte_of_every_image(tmp_path):
  images = tmp_path / 'images'
  images.mkdir()
  sizes = [0, 1, (1 << 20) + 7, 3 * (1 << 20)]  # Empty, tiny, chunk-crossing.
  for i, size in enumerate(sizes):
    (images / f'{i}.jpg').write_bytes(os.urandom(size))
  (images / 'sub').mkdir()  # Not an image file: skipped.
  read = bench.read_images(str(tmp_path), threads=3)
  assert read['files'] == len(sizes)
  assert read['bytes'] == sum(sizes)


def test_tree_memory_sees_a_grandchild_allocation():
  # The child starts a grandchild that holds 300 MiB; only a tree-wide sample
  # sees it, since the child itself stays small.
  grandchild = ('import time; b = bytearray(300 * 2**20); '
                'b[::4096] = b"x" * len(b[::4096]); time.sleep(1.5)')
  child = (f'import subprocess, sys; '
           f'subprocess.run([sys.executable, "-c", {grandchild!r}])')
  process = subprocess.Popen([sys.executable, '-c', child])
  with bench.TreeMemory(process.pid, interval=0.05) as memory:
    process.wait()
  assert memory.max_processes >= 2
  assert memory.peak_process_bytes >= 300 * 2**20
  assert memory.peak_total_bytes >= memory.peak_process_bytes


def test_tfdata_baseline_does_preprocessing_fn_work_on_every_row(tiny_data):
  result = baselines.tfdata_baseline(
      tiny_data, os.path.join(tiny_data, 'images'), image_size=32)
  assert result['rows'] == 100
  # Each of the 20 distinct images is decoded once, as Transform does.
  assert result['images'] == 20
  assert result['captions_per_s'] == pytest.approx(
      result['rows'] / result['seconds'])
  # Synthetic captions use a few dozen words and are under 32 tokens.
  assert 20 < result['vocabulary_size'] < 100
  assert 5 < result['caption_length'] < 32


def test_keras_baseline_trains_the_module_model_on_transformed_data(
    tiny_model, tmp_path):
  fn_args, _ = tiny_model
  result = baselines.keras_baseline(
      fn_args.transform_output, os.path.dirname(os.path.dirname(
          fn_args.train_files[0])), train_steps=3, batch_size=4)
  assert result['steps'] == 3 and result['batch_size'] == 4
  # Steps x batch images are held in memory, one example each (the train
  # split has 16).
  assert result['rows_in_memory'] == 12
  assert result['examples_per_s'] == pytest.approx(12 / result['seconds'])


def test_images_baseline_decodes_each_distinct_image_once(tiny_data):
  result = baselines.images_baseline(
      tiny_data, os.path.join(tiny_data, 'images'), image_size=32)
  assert result['images'] == 20
  assert result['images_per_s'] == pytest.approx(20 / result['seconds'])


def test_fingerprint_baseline_times_both_ways_over_every_file(tmp_path):
  (tmp_path / 'images' / 'sub').mkdir(parents=True)
  (tmp_path / 'captions.csv').write_bytes(b'x' * 10)
  (tmp_path / 'images' / 'a.jpg').write_bytes(b'y' * 100)
  (tmp_path / 'images' / 'sub' / 'b.jpg').write_bytes(b'z' * 1000)
  result = baselines.fingerprint_baseline(str(tmp_path),
                                          str(tmp_path / 'images'))
  assert (result['files'], result['bytes']) == (3, 1110)
  assert result['hash_over_stat'] == pytest.approx(
      result['hash_seconds'] / result['stat_seconds'])


def _full_result(captions, transform_seconds):
  result = _result(captions, transform_seconds)
  result['cold']['peak_rss_tree_mib'] = 100.0 + captions / 1000
  result['cached'] = {'peak_rss_tree_mib': 50.0}
  return result


def test_the_report_is_written_after_each_size_and_says_if_complete(tmp_path):
  output = str(tmp_path / 'out' / 'report.json')
  first = [_full_result(10000, 20.0)]
  bench.write_report(bench.build_report(first, ['--sizes', '10000,100000'], [],
                                        0.0, complete=False), output)
  with open(output) as f:
    partial = json.load(f)
  assert not partial['complete'] and partial['scaling'] is None
  assert partial['command'] == 'python -m benchmarks.run --sizes 10000,100000'
  both = first + [_full_result(100000, 110.0)]
  report = bench.build_report(both, [], ['--direct_num_workers=2'], 0.0,
                              complete=True)
  assert report['complete'] and report['pipeline_args'] == ['--direct_num_workers=2']
  assert report['peak_rss_tree_mib'] == 200.0
  assert report['scaling']['marginal_seconds_per_1k_captions']['Transform'] == [1.0]


def _encoder_result(name, size, transform_s, train_s, fine_tune_s=None):
  seconds = {'train' if name == 'small_cnn' else 'heads': train_s}
  if fine_tune_s:
    seconds['fine_tune'] = fine_tune_s
  return {'image_encoder': name, 'image_size': size, 'images': 100,
          'parameters': 10**6, 'transform_seconds': transform_s,
          'transform_images_per_s': 100 / transform_s,
          'train_seconds': seconds,
          'train_examples_per_s': {p: 320 / s for p, s in seconds.items()}}


def test_encoders_are_compared_with_the_mean_of_the_small_cnns_runs(
    monkeypatch, tmp_path):
  # The small CNN runs first and last: Transform 10 s then 15 s (10 and
  # 6.667 images/s, mean 8.333), training 1 s then 2 s (320 and 160
  # examples/s, mean 240).
  results = iter([
      _encoder_result('small_cnn', 64, 10, 1),
      _encoder_result('resnet50', 224, 50, 8, 16),
      _encoder_result('small_cnn', 64, 15, 2)])
  calls = []
  monkeypatch.setattr(bench, 'run_baseline',
                      lambda *args: calls.append(args) or next(results))
  monkeypatch.setattr(bench, 'dataset_dir', lambda *_: str(tmp_path))
  monkeypatch.setattr(bench, 'read_images', lambda _: {})
  out = bench.benchmark_encoders(['resnet50'], str(tmp_path), 100, 0, 10, 32,
                                 20)
  assert [c[c.index('--image_encoder') + 1] for c in calls] == [
      'small_cnn', 'resnet50', 'small_cnn']
  resnet = out['encoders']['resnet50']
  # 2 images/s over 8.333; 40 and 20 examples/s over 240.
  assert resnet['transform_ratio_to_small_cnn'] == pytest.approx(0.24)
  assert resnet['train_ratio_to_small_cnn'] == {
      'heads': pytest.approx(1 / 6, abs=1e-4),
      'fine_tune': pytest.approx(1 / 12, abs=1e-4)}
  assert out['small_cnn_drift'] == {'transform': 1.5, 'train': 2.0}
  table = bench.format_encoder_table(out)
  assert 'resnet50' in table and '0.24' in table and '0.167' in table


def test_encoder_baseline_measures_transform_and_both_phases(tiny_data):
  result = baselines.encoder_baseline(
      tiny_data, os.path.join(tiny_data, 'images'), 'mobilenet_v2', 32,
      train_steps=2, batch_size=8, fine_tune_layers=5)
  assert result['images'] == 20 and result['image_size'] == 32
  assert set(result['train_examples_per_s']) == {'heads', 'fine_tune'}
  assert result['transform_images_per_s'] == pytest.approx(
      20 / result['transform_seconds'])
  assert result['train_examples_per_s']['heads'] == pytest.approx(
      2 * 8 / result['train_seconds']['heads'])
