"""Benchmarks the whole pipeline on synthetic datasets of several sizes.

  python -m benchmarks.run --sizes 10000,100000,414000
  python -m benchmarks.run --sizes 200 --train_steps 2 --model_seeds ''   # a quick check
  python -m benchmarks.run --sizes 10000,100000 --coco_sized_images

For each size (number of captions; five per image, so size/5 images) it:
  1. generates the dataset once, kept under WORK_DIR/data/ for later runs;
  2. reads every image once, so that the pipeline and the baselines all find
     them in the OS's page cache, not only those that run second; then runs
     the pipeline CLI cold (fresh pipeline root); then again with nothing
     changed, which the CLI answers from its record of the last run without
     starting TFX ("unchanged"); then once more with --force_run, which goes
     through TFX and is served from its cache ("cached"). Each runs in a child
     process whose whole process tree's memory is sampled; per-component wall
     times come from ML Metadata;
  3. runs the plain baselines (benchmarks/baselines.py): preprocessing as a
     tf.data loop on the same CSV, once before the cold run and once after,
     and model.fit on the same transformed data in memory, and reports the
     pipeline's throughput as a ratio of theirs. The machines are shared and
     their speed moves within minutes; the tf.data loop on both sides of the
     cold run shows how much (`tfdata_drift`), and Transform is compared with
     the mean of the two.
  4. records the model's quality as the RetrievalEvaluator measured it on
     its pool (the 1,000 eval images with the lowest ids, every caption of
     them a query): recall@1/5/10 both ways, beside the Trainer's seconds,
     epochs and steps; at the smallest size, the model is trained again with
     each of --model_seeds (Transform cached) for the spread over seeds;
  5. decodes each distinct image once with tf.data on all cores, the least
     work any pipeline must do, and reports Transform's time over it.
Then it fits how time grows with size (log-log slope), prints a table and
writes everything to WORK_DIR/results.json (or --output).

The generated images are small (96-160 px) and flat, cheap to read. With
--coco_sized_images they are JPEGs of COCO's size and file size instead (640 px
on the longest side, ~160 KiB; coco_captions/data/synthetic_data.py), kept apart
under WORK_DIR/data/captionsN_seedS_coco.

Flags it does not know go to the pipeline CLI unchanged (Beam options, or
e.g. --eval_steps).

  python -m benchmarks.run --encoders small_cnn,mobilenet_v2,efficientnet_v2_b0,resnet50

measures instead what each image encoder costs at its image size, on one
generated dataset (--encoder_images images): Transform's images/s (the module
file's preprocessing_fn on tf.Transform/Beam) and training examples/s with
the encoder frozen and with its top --fine_tune_layers layers unfrozen
(benchmarks/baselines.py `encoder`). The small CNN runs first and last; every
encoder's figures are also given as a ratio of the small CNN's mean, which
keeps the comparison fair on a shared machine whose speed drifts.
"""

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from coco_captions.pipeline import configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, 'coco_captions_local.py')
CAPTIONS_PER_IMAGE = 5
PIPELINE_NAME = 'coco_benchmark'
# The plain Keras loop's throughput settles within this many steps; the
# Trainer's tens of thousands at COCO scale would only double the benchmark.
KERAS_BASELINE_STEPS = 1000
# What the RetrievalEvaluator measured: recall both ways, its chance rates and
# the pool, the 1,000 eval images with the lowest ids.
QUALITY_KEYS = tuple(
    f'{direction}_{what}@{k}' for direction in ('text_to_image',
                                                'image_to_text')
    for what in ('recall', 'chance') for k in (1, 5, 10)) + (
        'num_images', 'num_captions')


class TreeMemory:
  """Samples the resident memory of a process and all its descendants.

  `peak_total_bytes` is the largest sum over the tree seen at one sample;
  `peak_process_bytes` the largest single process. Sampling can miss a short
  spike, so the caller also reads getrusage's exact per-process peak.
  """

  def __init__(self, pid: int, interval: float = 0.2):
    self.pid = pid
    self.interval = interval
    self.peak_total_bytes = 0
    self.peak_process_bytes = 0
    self.max_processes = 0
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()

  def _sample(self):
    import psutil
    try:
      root = psutil.Process(self.pid)
    except psutil.NoSuchProcess:
      return
    while not self._stop.is_set():
      try:
        processes = [root] + root.children(recursive=True)
      except psutil.NoSuchProcess:
        return
      sizes = []
      for process in processes:
        try:
          sizes.append(process.memory_info().rss)
        except psutil.NoSuchProcess:
          pass
      if sizes:
        self.peak_total_bytes = max(self.peak_total_bytes, sum(sizes))
        self.peak_process_bytes = max(self.peak_process_bytes, max(sizes))
        self.max_processes = max(self.max_processes, len(sizes))
      self._stop.wait(self.interval)


def _mib(n: float) -> float:
  return round(n / 2**20, 1)


def _suffix(coco_sized_images: bool) -> str:
  return '_coco' if coco_sized_images else ''


def dataset_dir(work_dir: str, size: int, seed: int,
                coco_sized_images: bool = False) -> str:
  """Generates (once) and returns the dataset of `size` captions."""
  path = os.path.join(work_dir, 'data', f'captions{size}_seed{seed}'
                      f'{_suffix(coco_sized_images)}')
  done = os.path.join(path, '.complete')
  if not os.path.exists(done):
    from coco_captions.data import synthetic_data
    shutil.rmtree(path, ignore_errors=True)
    num_images = math.ceil(size / CAPTIONS_PER_IMAGE)
    start = time.perf_counter()
    synthetic_data.generate(path, num_images, seed=seed,
                            coco_sized_images=coco_sized_images)
    print(f'  generated {num_images} images in '
          f'{time.perf_counter() - start:.1f} s: {path}', flush=True)
    with open(done, 'w') as f:
      f.write(f'{num_images}\n')
  return path


def _trim_csv(path: str, size: int) -> None:
  """Keeps the first `size` captions (size need not be a multiple of 5)."""
  csv_path = os.path.join(path, 'captions.csv')
  with open(csv_path, encoding='utf-8') as f:
    lines = f.readlines()
  if len(lines) - 1 > size:
    with open(csv_path, 'w', encoding='utf-8') as f:
      f.writelines(lines[:size + 1])


def run_pipeline(data_root: str, pipeline_root: str,
                 train_steps: Optional[int], extra_args: Sequence[str],
                 unchanged: bool = False) -> Dict[str, Any]:
  """Runs the pipeline CLI once; returns wall time, memory and MLMD timings.

  With `unchanged`, the run must be answered from the record of the last run
  (nothing changed); only its wall time and memory are returned.
  """
  from coco_captions.reporting import run_record
  command = [sys.executable, CLI, '--data_root', data_root,
             '--pipeline_root', pipeline_root, '--pipeline_name', PIPELINE_NAME,
             *(['--train_steps', str(train_steps)] if train_steps else []),
             *extra_args]
  start = time.perf_counter()
  process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
  with TreeMemory(process.pid) as memory:
    output, _ = process.communicate()
  wall = time.perf_counter() - start
  if process.returncode != 0:
    raise RuntimeError(f'pipeline exited {process.returncode}:\n'
                       f'{output[-4000:]}')
  if unchanged:
    if not output.startswith('Nothing changed since run'):
      raise RuntimeError(f'the re-run with nothing changed ran the pipeline:\n'
                         f'{output[-4000:]}')
    return {'wall_seconds': round(wall, 2),
            'peak_rss_tree_mib': _mib(memory.peak_total_bytes),
            'peak_rss_process_mib': _mib(memory.peak_process_bytes)}
  summary = run_record.read_run(
      os.path.join(pipeline_root, configs.METADATA_FILENAME), PIPELINE_NAME)
  components = {c.component_id: {'state': c.state.lower(),
                                 'seconds': round(c.seconds, 2)}
                for c in summary.components}
  result = {
      'wall_seconds': round(wall, 2),
      'component_seconds': round(sum(c.seconds for c in summary.components), 2),
      'components': components,
      'peak_rss_tree_mib': _mib(memory.peak_total_bytes),
      'peak_rss_process_mib': _mib(memory.peak_process_bytes),
      'max_processes': memory.max_processes,
      'split_counts': summary.split_counts,
  }
  if summary.image_counts:
    result['image_counts'] = summary.image_counts
  if summary.training:
    result['training'] = {k: v for k, v in summary.training.items()
                          if k not in ('loss', 'eval_loss')}
    result['training']['final_loss'] = summary.training['loss'][-1]
    result['training']['final_eval_loss'] = summary.training['eval_loss'][-1]
  if summary.evaluation:
    result['evaluation'] = {k: summary.evaluation[k] for k in QUALITY_KEYS
                            if k in summary.evaluation}
  if summary.components and 'Transform' in components:
    result['transformed_examples'] = summary.output(
        'Transform', 'transformed_examples')
    result['transform_graph'] = summary.output('Transform', 'transform_graph')
  return result


def run_baseline(*args: str) -> Dict[str, Any]:
  """Runs `python -m benchmarks.baselines ARGS`; returns its JSON line."""
  command = [sys.executable, '-m', 'benchmarks.baselines', *args]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
  if result.returncode != 0:
    raise RuntimeError(f'baseline {args[0]} exited {result.returncode}:\n'
                       f'{result.stderr[-4000:]}')
  return json.loads(result.stdout.strip().splitlines()[-1])


def read_images(data_root: str, threads: int = 8) -> Dict[str, Any]:
  """Reads every image file once, so that the OS keeps them in its page cache.

  The pipeline's Transform is the first to read the images and the tf.data
  baseline reads them minutes later: without this, Transform alone would pay
  for reading them from disk (at COCO's size, 160 KiB an image, that was a
  quarter of a millisecond a caption here), and the ratio would compare a cold
  read with a warm one. Returns the bytes read, the seconds it took (disk or
  cache, whichever held them). Images that outgrow the page cache are still
  partly read from disk by both (on this project's VMs ~11 GiB stayed cached:
  61% of the 12.6 GiB of 414k COCO-sized images). The caller reads the
  files' mean size from it too.
  """
  from concurrent.futures import ThreadPoolExecutor
  with os.scandir(os.path.join(data_root, 'images')) as entries:
    paths = [e.path for e in entries if e.is_file()]

  def _read(path):
    total = 0
    with open(path, 'rb') as f:
      while True:
        chunk = f.read(1 << 20)
        if not chunk:
          return total
        total += len(chunk)

  start = time.perf_counter()
  with ThreadPoolExecutor(threads) as pool:
    total = sum(pool.map(_read, paths, chunksize=64))
  seconds = time.perf_counter() - start
  return {'files': len(paths), 'bytes': total, 'mib': _mib(total),
          'seconds': round(seconds, 2),
          'mib_per_s': round(_mib(total) / seconds, 1) if seconds else None}


def quality(run: Dict[str, Any]) -> Dict[str, Any]:
  """A run's retrieval quality and what its training took."""
  training = run.get('training', {})
  return {**run.get('evaluation', {}),
          'trainer_seconds': run['components']['Trainer']['seconds'],
          'train_steps': training.get('steps'),
          'train_epochs': training.get('epochs'),
          'train_images': training.get('train_images')}


def benchmark_size(size: int, work_dir: str, seed: int,
                   train_steps: Optional[int], extra_args: Sequence[str],
                   coco_sized_images: bool = False,
                   model_seeds: Sequence[int] = ()) -> Dict[str, Any]:
  """Every figure for one dataset size."""
  print(f'== {size} captions' + (', COCO-sized images' if coco_sized_images
                                 else ''), flush=True)
  data_root = dataset_dir(work_dir, size, seed, coco_sized_images)
  if size % CAPTIONS_PER_IMAGE:
    _trim_csv(data_root, size)
  pipeline_root = os.path.join(work_dir, 'runs',
                               f'captions{size}{_suffix(coco_sized_images)}')
  shutil.rmtree(pipeline_root, ignore_errors=True)
  images_read = read_images(data_root)
  print(f'  read {images_read["files"]} images ({images_read["mib"]:.0f} MiB) '
        f'in {images_read["seconds"]:.1f} s', flush=True)
  tfdata_args = ('tfdata', '--data_root', data_root,
                 '--images_root', os.path.join(data_root, 'images'))
  images_before = run_baseline('images', *tfdata_args[1:])
  print(f'  distinct-image decode baseline {images_before["seconds"]:.1f} s',
        flush=True)
  tfdata_before = run_baseline(*tfdata_args)
  print(f'  tf.data baseline {tfdata_before["seconds"]:.1f} s', flush=True)
  cold = run_pipeline(data_root, pipeline_root, train_steps, extra_args)
  print(f'  cold run {cold["wall_seconds"]:.1f} s', flush=True)
  unchanged = run_pipeline(data_root, pipeline_root, train_steps, extra_args,
                           unchanged=True)
  print(f'  unchanged re-run {unchanged["wall_seconds"]:.1f} s', flush=True)
  cached = run_pipeline(data_root, pipeline_root, train_steps,
                        [*extra_args, '--force_run'])
  print(f'  cached run (--force_run) {cached["wall_seconds"]:.1f} s',
        flush=True)

  seeds = {}
  for model_seed in model_seeds:
    again = run_pipeline(data_root, pipeline_root, train_steps,
                         [*extra_args, '--seed', str(model_seed)])
    seeds[str(model_seed)] = quality(again)
    print(f'  model seed {model_seed}: text->image R@5 '
          f'{seeds[str(model_seed)].get("text_to_image_recall@5", 0):.3f}',
          flush=True)

  rows = sum(cold['split_counts'].values())
  images = images_before['images']
  transform_s = cold['components']['Transform']['seconds']
  # Where each distinct image is read, checked and decoded, once.
  grouping_s = cold['components']['GroupCaptionsByImage']['seconds']
  data_path_s = grouping_s + transform_s
  trainer_s = cold['components']['Trainer']['seconds']
  tfdata_after = run_baseline(*tfdata_args)
  print(f'  tf.data baseline {tfdata_after["seconds"]:.1f} s', flush=True)
  images_after = run_baseline('images', *tfdata_args[1:])
  print(f'  distinct-image decode baseline {images_after["seconds"]:.1f} s',
        flush=True)
  # The floor's mean over its runs before and after the cold run: the host's
  # speed moves by a third between runs on a shared machine.
  images_runs_s = (images_before['seconds'], images_after['seconds'])
  images_s = sum(images_runs_s) / 2
  training = cold['training']
  keras = run_baseline('keras', '--transform_graph', cold['transform_graph'],
                       '--examples', cold['transformed_examples'],
                       '--train_steps',
                       str(min(training['steps'], KERAS_BASELINE_STEPS)),
                       '--batch_size', str(training['batch_size']))
  print(f'  Keras baseline {keras["seconds"]:.1f} s', flush=True)
  data_path_cps = rows / data_path_s
  tfdata_runs_s = (tfdata_before['seconds'], tfdata_after['seconds'])
  tfdata_s = sum(tfdata_runs_s) / 2
  tfdata_cps = tfdata_before['rows'] / tfdata_s
  trainer_eps = training['steps'] * training['batch_size'] / trainer_s
  return {
      'captions': rows,
      'images': images,
      'coco_sized_images': coco_sized_images,
      'image_file_kib_mean': round(
          images_read['bytes'] / max(images_read['files'], 1) / 1024, 1),
      'images_read_before_cold_run': images_read,
      'train_steps': training['steps'],
      'quality': quality(cold),
      # The same data and pipeline, the model trained with other seeds.
      'quality_by_model_seed': seeds,
      'cold': cold,
      'unchanged': unchanged,
      'cached': cached,
      'transform': {
          'seconds': transform_s,
          'grouping_seconds': grouping_s,
          # GroupCaptionsByImage and Transform: every caption tokenised and
          # every distinct image read, checked and decoded once.
          'data_path_seconds': data_path_s,
          'captions_per_s': round(data_path_cps, 3),
          'distinct_images_per_s': round(images / grouping_s, 3),
          # The floor: each distinct image decoded once by tf.data, all cores.
          'images_baseline_seconds': round(images_s, 3),
          'images_baseline_seconds_before': round(images_runs_s[0], 3),
          'images_baseline_seconds_after': round(images_runs_s[1], 3),
          'images_baseline_per_s': round(images / images_s, 3),
          # Transform's time over the floor's: 1 is as fast as it can be.
          'time_over_images_baseline': round(transform_s / images_s, 3),
          # Against the floor's slower and its faster run.
          'time_over_images_baseline_range': [
              round(transform_s / seconds, 3)
              for seconds in sorted(images_runs_s, reverse=True)],
          # The component that decodes the images, and both together.
          'grouping_over_images_baseline': round(grouping_s / images_s, 3),
          'data_path_over_images_baseline': round(data_path_s / images_s, 3),
          'data_path_over_images_baseline_range': [
              round(data_path_s / seconds, 3)
              for seconds in sorted(images_runs_s, reverse=True)],
          # The loop's mean over its runs before and after the cold run.
          'tfdata_seconds': round(tfdata_s, 3),
          'tfdata_seconds_before': round(tfdata_before['seconds'], 3),
          'tfdata_seconds_after': round(tfdata_after['seconds'], 3),
          # How much the host's speed moved across the cold run: 1 is none.
          'tfdata_drift': round(
              tfdata_after['seconds'] / tfdata_before['seconds'], 3),
          'tfdata_captions_per_s': round(tfdata_cps, 3),
          # Ratios keep six places: a small one (0.0396) rounded to three
          # (0.040) would be 1% off the throughputs it is made of.
          # GroupCaptionsByImage + Transform against the loop doing the same.
          'ratio_to_tfdata': round(data_path_cps / tfdata_cps, 6),
          # Against the loop's faster and its slower run.
          'ratio_to_tfdata_range': [
              round(data_path_cps * seconds / tfdata_before['rows'], 6)
              for seconds in sorted(tfdata_runs_s)],
      },
      'trainer': {
          'seconds': trainer_s,
          'examples_per_s': round(trainer_eps, 3),
          'keras_seconds': round(keras['seconds'], 2),
          'keras_examples_per_s': round(keras['examples_per_s'], 3),
          'ratio_to_keras': round(trainer_eps / keras['examples_per_s'], 6),
      },
  }


def growth_exponent(sizes: List[int], seconds: List[float]) -> Optional[float]:
  """Least-squares slope of log(seconds) on log(size): 1 is linear."""
  points = [(math.log(n), math.log(s)) for n, s in zip(sizes, seconds) if s > 0]
  if len(points) < 2:
    return None
  mean_x = sum(x for x, _ in points) / len(points)
  mean_y = sum(y for _, y in points) / len(points)
  sxx = sum((x - mean_x) ** 2 for x, _ in points)
  sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
  return round(sxy / sxx, 3) if sxx else None


def scaling(results: List[Dict[str, Any]]) -> Dict[str, Any]:
  """How cold-run and per-component times grow with the number of captions."""
  sizes = [r['captions'] for r in results]
  series = {'cold_wall': [r['cold']['wall_seconds'] for r in results]}
  for name in results[0]['cold']['components']:
    series[name] = [r['cold']['components'].get(name, {}).get('seconds', 0)
                    for r in results]
  out = {'exponent': {k: growth_exponent(sizes, v) for k, v in series.items()}}
  # Seconds per 1000 more captions between consecutive sizes: the marginal
  # cost, which fixed start-up costs do not blur.
  out['marginal_seconds_per_1k_captions'] = {
      k: [round((b - a) / (n2 - n1) * 1000, 3)
          for (n1, a), (n2, b) in zip(zip(sizes, v), zip(sizes[1:], v[1:]))]
      for k, v in series.items()}
  return out


def machine() -> Dict[str, Any]:
  import importlib.metadata as md
  versions = {}
  for package in ('tfx', 'tensorflow', 'tensorflow-transform', 'apache-beam'):
    try:
      versions[package] = md.version(package)
    except md.PackageNotFoundError:
      pass
  with open('/proc/meminfo') as f:
    mem_kib = int(f.readline().split()[1])
  return {'cpus': os.cpu_count(), 'memory_gib': round(mem_kib / 2**20, 1),
          'python': platform.python_version(), 'platform': platform.platform(),
          'versions': versions}


def format_table(report: Dict[str, Any]) -> str:
  """The figures per size, one column each."""
  results = report['results']
  rows = [('captions', lambda r: f'{r["captions"]}'),
          ('images', lambda r: f'{r["images"]}'),
          ('image file KiB, mean',
           lambda r: f'{r.get("image_file_kib_mean", 0):.1f}'),
          ('cold run, wall s', lambda r: f'{r["cold"]["wall_seconds"]:.1f}'),
          ('cold, components s', lambda r: f'{r["cold"]["component_seconds"]:.1f}')]
  for name in results[0]['cold']['components']:
    rows.append((f'  {name} s', lambda r, n=name:
                 f'{r["cold"]["components"].get(n, {}).get("seconds", 0):.1f}'))
  rows += [
      ('unchanged re-run, wall s',
       lambda r: f'{r["unchanged"]["wall_seconds"]:.1f}'),
      ('cached (--force_run), wall s',
       lambda r: f'{r["cached"]["wall_seconds"]:.1f}'),
      ('cached, components s',
       lambda r: f'{r["cached"]["component_seconds"]:.1f}'),
      ('Group + Transform captions/s',
       lambda r: f'{r["transform"]["captions_per_s"]:.0f}'),
      ('Group distinct images/s',
       lambda r: f'{r["transform"]["distinct_images_per_s"]:.0f}'),
      ('tf.data s, before / after',
       lambda r: f'{r["transform"]["tfdata_seconds_before"]:.1f}/'
                 f'{r["transform"]["tfdata_seconds_after"]:.1f}'),
      ('tf.data captions/s (mean)',
       lambda r: f'{r["transform"]["tfdata_captions_per_s"]:.0f}'),
      ('Group + Transform / tf.data',
       lambda r: f'{r["transform"]["ratio_to_tfdata"]:.2f}'),
      ('  against its faster, slower run', lambda r: '{:.2f}-{:.2f}'.format(
          *r['transform']['ratio_to_tfdata_range'])),
      ('Trainer examples/s', lambda r: f'{r["trainer"]["examples_per_s"]:.0f}'),
      ('Keras fit examples/s',
       lambda r: f'{r["trainer"]["keras_examples_per_s"]:.0f}'),
      ('Trainer / Keras', lambda r: f'{r["trainer"]["ratio_to_keras"]:.2f}'),
      ('peak RSS, tree MiB', lambda r: f'{max(r["cold"]["peak_rss_tree_mib"], r["cached"]["peak_rss_tree_mib"]):.0f}'),
      ('decode-once baseline images/s',
       lambda r: f'{r["transform"]["images_baseline_per_s"]:.0f}'),
      ('Transform time / decode-once',
       lambda r: f'{r["transform"]["time_over_images_baseline"]:.2f}'),
      ('  against its slower, faster run',
       lambda r: '-'.join(f'{x:.2f}' for x in
                          r['transform']['time_over_images_baseline_range'])),
      ('Group time / decode-once',
       lambda r: f'{r["transform"]["grouping_over_images_baseline"]:.2f}'),
      ('Group + Transform / decode-once',
       lambda r: f'{r["transform"]["data_path_over_images_baseline"]:.2f}'),
      ('  against its slower, faster run',
       lambda r: '-'.join(f'{x:.2f}' for x in
                          r['transform']['data_path_over_images_baseline_range'])),
      ('eval pool images', lambda r: f'{r["quality"].get("num_images", 0)}'),
      ('train epochs, steps', lambda r: f'{r["quality"]["train_epochs"]:g}, '
                                        f'{r["quality"]["train_steps"]}'),
  ]
  for k in (1, 5, 10):
    rows.append((f'text->image R@{k}', lambda r, k=k:
                 f'{r["quality"].get(f"text_to_image_recall@{k}", 0):.3f}'))
  for k in (1, 5, 10):
    rows.append((f'image->text R@{k}', lambda r, k=k:
                 f'{r["quality"].get(f"image_to_text_recall@{k}", 0):.3f}'))
  rows.append(('text->image R@5 by model seed', lambda r: '/'.join(
      f'{q.get("text_to_image_recall@5", 0):.3f}'
      for q in r.get('quality_by_model_seed', {}).values()) or '-'))
  width = max(len(label) for label, _ in rows)
  lines = [f'{label:<{width}} ' + ' '.join(f'{get(r):>10}' for r in results)
           for label, get in rows]
  s = report.get('scaling')
  if s:
    lines.append('growth exponent (1 = linear): ' + ', '.join(
        f'{k} {v}' for k, v in s['exponent'].items() if v is not None))
  lines.append(f'peak RSS of the run (largest process, getrusage): '
               f'{report["peak_rss_largest_process_mib"]:.0f} MiB')
  return '\n'.join(lines)


def build_report(results: List[Dict[str, Any]], argv: Optional[Sequence[str]],
                 extra_args: Sequence[str], start: float,
                 complete: bool) -> Dict[str, Any]:
  """The JSON report of the sizes measured so far."""
  return {
      'command': ' '.join(['python -m benchmarks.run',
                           *(sys.argv[1:] if argv is None else argv)]),
      'complete': complete,
      'finished_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
      'machine': machine(),
      'pipeline_args': list(extra_args),
      'results': results,
      'scaling': scaling(results) if len(results) > 1 else None,
      # The largest resident set of any one process run so far (pipelines and
      # baselines), exact from the kernel; Linux reports KiB.
      'peak_rss_largest_process_mib': _mib(
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024),
      'peak_rss_tree_mib': max(
          max(r['cold']['peak_rss_tree_mib'], r['cached']['peak_rss_tree_mib'])
          for r in results),
      'benchmark_seconds': round(time.perf_counter() - start, 1),
  }


def write_report(report: Dict[str, Any], output: str) -> None:
  os.makedirs(os.path.dirname(output), exist_ok=True)
  with open(output, 'w') as f:
    json.dump(report, f, indent=2)


def benchmark_encoders(names: Sequence[str], work_dir: str, images: int,
                       seed: int, train_steps: int, batch_size: int,
                       fine_tune_layers: int,
                       coco_sized_images: bool = False) -> Dict[str, Any]:
  """Each image encoder's Transform and training throughput, beside the
  small CNN's (run first and last)."""
  data_root = dataset_dir(work_dir, images * CAPTIONS_PER_IMAGE, seed,
                          coco_sized_images)
  images_root = os.path.join(data_root, 'images')
  read_images(data_root)
  order = ['small_cnn'] + [n for n in names if n != 'small_cnn'] + [
      'small_cnn']
  runs = []
  for name in order:
    result = run_baseline(
        'encoder', '--data_root', data_root, '--images_root', images_root,
        '--image_encoder', name, '--train_steps', str(train_steps),
        '--batch_size', str(batch_size),
        '--fine_tune_layers', str(fine_tune_layers))
    print(f'  {name} at {result["image_size"]} px: Transform '
          f'{result["transform_images_per_s"]:.1f} images/s, training ' +
          ', '.join(f'{phase} {v:.1f}' for phase, v in
                    result['train_examples_per_s'].items()) + ' examples/s',
          flush=True)
    runs.append(result)
  first, last = runs[0], runs[-1]
  reference = {
      'transform_images_per_s': (first['transform_images_per_s'] +
                                 last['transform_images_per_s']) / 2,
      'train_examples_per_s': (first['train_examples_per_s']['train'] +
                               last['train_examples_per_s']['train']) / 2,
  }
  encoders = {}
  for result in runs[1:-1]:
    result['transform_ratio_to_small_cnn'] = round(
        result['transform_images_per_s'] /
        reference['transform_images_per_s'], 4)
    result['train_ratio_to_small_cnn'] = {
        phase: round(v / reference['train_examples_per_s'], 4)
        for phase, v in result['train_examples_per_s'].items()}
    encoders[result['image_encoder']] = result
  return {
      'data_root': data_root,
      'coco_sized_images': coco_sized_images,
      'images': first['images'],
      'small_cnn_runs': [first, last],
      # How much the machine's speed moved between the first and last small
      # CNN runs: 1 is none.
      'small_cnn_drift': {
          'transform': round(last['transform_seconds'] /
                             first['transform_seconds'], 3),
          'train': round(last['train_seconds']['train'] /
                         first['train_seconds']['train'], 3)},
      'small_cnn_mean': reference,
      'encoders': encoders,
  }


def format_encoder_table(result: Dict[str, Any]) -> str:
  """One row per encoder: size, Transform and training throughput, ratios."""
  header = (f'{"encoder":<20}{"px":>5}{"params":>8}{"Transform img/s":>17}'
            f'{"x small":>8}{"train ex/s":>12}{"x small":>8}'
            f'{"fine-tune ex/s":>16}{"x small":>8}')
  small = result['small_cnn_runs'][0]
  mean = result['small_cnn_mean']
  lines = [header, (
      f'{"small_cnn (mean)":<20}{small["image_size"]:>5}'
      f'{small["parameters"] / 1e6:>7.1f}M'
      f'{mean["transform_images_per_s"]:>17.1f}{1:>8.2f}'
      f'{mean["train_examples_per_s"]:>12.1f}{1:>8.2f}{"-":>16}{"-":>8}')]
  for name, r in result['encoders'].items():
    ex, ratio = r['train_examples_per_s'], r['train_ratio_to_small_cnn']
    lines.append(
        f'{name:<20}{r["image_size"]:>5}{r["parameters"] / 1e6:>7.1f}M'
        f'{r["transform_images_per_s"]:>17.1f}'
        f'{r["transform_ratio_to_small_cnn"]:>8.2f}'
        f'{ex["heads"]:>12.1f}{ratio["heads"]:>8.3f}' +
        (f'{ex["fine_tune"]:>16.1f}{ratio["fine_tune"]:>8.3f}'
         if 'fine_tune' in ex else f'{"-":>16}{"-":>8}'))
  return '\n'.join(lines)


def parse_sizes(text: str) -> List[int]:
  try:
    sizes = [int(s) for s in text.split(',') if s.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'--sizes takes comma-separated integers, got {text!r}') from None
  if not sizes or min(sizes) < CAPTIONS_PER_IMAGE * 5:
    raise argparse.ArgumentTypeError(
        f'every size must be at least {CAPTIONS_PER_IMAGE * 5} captions')
  return sorted(sizes)


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  parser.add_argument('--sizes', type=parse_sizes,
                      default=parse_sizes('10000,100000,414000'),
                      help='Comma-separated dataset sizes in captions. '
                      'Default: 10000,100000,414000 (COCO train2014 scale)')
  parser.add_argument('--work_dir', default=os.path.join(ROOT, 'benchmark_work'),
                      help='Generated datasets (kept) and pipeline roots. '
                      'Default: %(default)s')
  parser.add_argument('--output', default=None,
                      help='JSON report. Default: WORK_DIR/results.json')
  parser.add_argument('--train_steps', type=int, default=None,
                      help='Trainer steps instead of the default epochs.')
  parser.add_argument('--model_seeds', default='1,2',
                      help='Comma-separated model seeds to train again with '
                      '(--force_run --seed N) at the smallest size, for the '
                      'spread of quality over seeds; empty for none. '
                      'Default: %(default)s')
  parser.add_argument('--seed', type=int, default=0,
                      help='Dataset seed. Default: %(default)s')
  parser.add_argument('--coco_sized_images', action='store_true',
                      help='Images of COCO\'s size and file size (640 px, '
                      '~160 KiB JPEGs) instead of small ones.')
  parser.add_argument('--encoders', default=None,
                      help='Comma-separated image encoders to measure '
                      '(coco_captions_encoders.ENCODER_NAMES) instead of the '
                      'pipeline at --sizes.')
  parser.add_argument('--encoder_images', type=int, default=1000,
                      help='Images of the dataset --encoders runs on. '
                      'Default: %(default)s')
  parser.add_argument('--encoder_train_steps', type=int, default=10,
                      help='Timed training steps per encoder and phase, after '
                      'as many untimed. Default: %(default)s')
  parser.add_argument('--encoder_batch_size', type=int, default=32,
                      help='Batch size of --encoders. Default: %(default)s')
  parser.add_argument('--fine_tune_layers', type=int, default=20,
                      help='Top layers unfrozen for the fine-tuning phase of '
                      '--encoders. Default: %(default)s')
  args, extra_args = parser.parse_known_args(argv)
  work_dir = os.path.abspath(args.work_dir)
  output = os.path.abspath(args.output or os.path.join(work_dir, 'results.json'))
  os.makedirs(work_dir, exist_ok=True)
  if args.encoders is not None:
    return _main_encoders(args, argv, output)

  start = time.perf_counter()
  results = []
  model_seeds = [int(s) for s in args.model_seeds.split(',') if s.strip()]
  for size in args.sizes:
    results.append(benchmark_size(
        size, work_dir, args.seed, args.train_steps, extra_args,
        args.coco_sized_images,
        model_seeds if size == args.sizes[0] else ()))
    # Written after every size, so a long run that is stopped keeps the sizes
    # it finished.
    report = build_report(results, argv, extra_args, start,
                          complete=len(results) == len(args.sizes))
    write_report(report, output)
  print(format_table(report))
  print(f'Report: {output}')
  return 0


def _main_encoders(args: argparse.Namespace, argv: Optional[Sequence[str]],
                   output: str) -> int:
  sys.path.insert(0, os.path.dirname(configs.MODULE_FILE))
  import coco_captions_encoders  # pylint: disable=import-outside-toplevel
  names = [n.strip() for n in args.encoders.split(',') if n.strip()]
  unknown = [n for n in names if n not in coco_captions_encoders.ENCODER_NAMES]
  if unknown or not names:
    print(f'error: --encoders {args.encoders!r}: give some of '
          f'{", ".join(coco_captions_encoders.ENCODER_NAMES)}',
          file=sys.stderr)
    return 2
  start = time.perf_counter()
  result = benchmark_encoders(
      names, os.path.abspath(args.work_dir), args.encoder_images, args.seed,
      args.encoder_train_steps, args.encoder_batch_size,
      args.fine_tune_layers, args.coco_sized_images)
  report = {
      'command': ' '.join(['python -m benchmarks.run',
                           *(sys.argv[1:] if argv is None else argv)]),
      'finished_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
      'machine': machine(),
      **result,
      'benchmark_seconds': round(time.perf_counter() - start, 1),
  }
  write_report(report, output)
  print(format_encoder_table(report))
  print(f'Report: {output}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
