"""A self-contained HTML report of one pipeline run, to look at in a browser.

  python -m coco_captions.report --pipeline_root tfx_output/coco_captions
  python -m coco_captions.report --pipeline_root DIR --metadata_path FILE \\
      --run_id 2026-11-22T15:11:59.155382

Reads the run (the latest by default) from ML Metadata and the artifacts it
points at, whichever orchestrator ran it, and writes
PIPELINE_ROOT/reports/run-<run id>.html and a copy, latest.html:

  * Data: TFDV's statistics visualisation (Facets Overview) of the train and
    eval splits, the anomalies ExampleValidator found, row counts, the caption
    length distribution and the vocabulary coverage, from Transform's output.
  * Model: training and eval loss per epoch from the TensorBoard logs, the
    retrieval metrics beside their chance rates, the blessing and its reason.
  * Examples: for a few eval captions, the top images the model retrieves (the
    true image marked); for a few eval images, their best captions.
  * Lineage: which artifacts each component read and wrote, and in which run
    each was made (a cached component points at an earlier run's artifacts).

The file needs no server and no network: images are data: URIs, charts are
inline SVG, and Facets Overview runs from a vendored copy (coco_captions/
vendor/) inlined into the page. A section whose inputs are missing (say the
run stopped before Trainer) says why instead.
"""

import argparse
import base64
import collections
import dataclasses
import datetime
import gzip
import html
import io
import json
import math
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from coco_captions import configs, run_summary, up_to_date

# Names from the module file (coco_captions_utils.py), which this package must
# not import: it is user code that TFX packages on its own.
CAPTION_TOKEN_IDS = 'caption_token_ids'
CAPTION_VOCABULARY = 'caption_vocabulary'
# Token id 0 pads; 1..V are vocabulary entries; anything above V is OOV.
PAD_ID = 0

REPORTS_SUBDIR = 'reports'
LATEST = 'latest.html'

# What the Examples section shows.
EXAMPLE_CAPTIONS = 4
EXAMPLE_IMAGES = 3
TOP_IMAGES = 5
TOP_CAPTIONS = 5
THUMBNAIL_PIXELS = 96
# Transformed examples read per split for the caption statistics.
MAX_TOKEN_EXAMPLES = 200_000

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'vendor')
FACETS_BUNDLE = os.path.join(_VENDOR, 'facets', 'facets-jupyter.html')
WEBCOMPONENTS_POLYFILL = os.path.join(_VENDOR, 'webcomponentsjs',
                                      'webcomponents-lite.js')


class ReportError(Exception):
  """The report cannot be written at all (no metadata, no run)."""


@dataclasses.dataclass
class Report:
  path: str
  latest_path: str
  run_id: str
  # Section title -> why it is missing or incomplete.
  missing: Dict[str, str]


# --- Reading the run -------------------------------------------------------------


def _train_first(splits: Dict[str, Any]) -> Dict[str, Any]:
  order = {'train': 0, 'eval': 1}
  return dict(sorted(splits.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


def load_statistics(statistics_uri: Optional[str]) -> Dict[str, Any]:
  """Split -> DatasetFeatureStatisticsList from StatisticsGen's output."""
  import tensorflow_data_validation as tfdv
  return {
      split: tfdv.load_stats_binary(os.path.join(path, 'FeatureStats.pb'))
      for split, path in run_summary.split_dirs(statistics_uri).items()
  }


def facets_proto(train, eval_) -> Optional[str]:
  """The base64 proto TFDV hands Facets Overview for train vs eval.

  Taken from TFDV's own `get_statistics_html`, so the datasets are combined
  and named exactly as TFDV does it; None for an empty dataset.
  """
  from tensorflow_data_validation.utils import display_util
  page = display_util.get_statistics_html(train, eval_, 'train', 'eval')
  if 'proto-input=' not in page:
    return None
  match = re.search(r'proto-input="([A-Za-z0-9+/=]+)"', page)
  if not match:
    raise ValueError('TFDV\'s statistics HTML has an unexpected form; cannot '
                     'find the statistics proto in it')
  return match.group(1)


@dataclasses.dataclass
class TokenStats:
  """Caption lengths and vocabulary coverage of one split."""
  captions: int
  # Tokens per caption -> number of captions.
  lengths: Dict[int, int]
  tokens: int
  oov_tokens: int

  @property
  def coverage(self) -> float:
    """Share of tokens that are in the vocabulary (not OOV)."""
    return 1 - self.oov_tokens / self.tokens if self.tokens else float('nan')


def token_stats(token_id_lists: Sequence[Sequence[int]],
                vocabulary_size: int) -> TokenStats:
  """Lengths and OOV counts of captions given as Transform's token ids.

  Ids 1..`vocabulary_size` are vocabulary entries, higher ids OOV buckets, 0
  padding (not counted).
  """
  lengths = collections.Counter()
  tokens = oov = 0
  for ids in token_id_lists:
    words = [i for i in ids if i != PAD_ID]
    lengths[len(words)] += 1
    tokens += len(words)
    oov += sum(1 for i in words if i > vocabulary_size)
  return TokenStats(len(token_id_lists), dict(sorted(lengths.items())), tokens,
                    oov)


def captions_token_ids(values: Sequence[int],
                       caption_indices: Sequence[int]) -> List[List[int]]:
  """One image's token ids, split into its captions by their caption index.

  An image's sparse token ids come in order, caption by caption.
  """
  captions: Dict[int, List[int]] = {}
  for value, caption in zip(values, caption_indices):
    captions.setdefault(caption, []).append(value)
  return [captions[c] for c in sorted(captions)]


def _records(split_dir: str, limit: int):
  import tensorflow as tf
  files = sorted(tf.io.gfile.glob(os.path.join(split_dir, '*')))
  compression = 'GZIP' if files and files[0].endswith('.gz') else ''
  return tf.data.TFRecordDataset(files, compression_type=compression).take(
      limit)


@dataclasses.dataclass
class Vocabulary:
  size: int
  caption_length: int
  path: str
  most_frequent: List[str]


def caption_statistics(transform_graph_uri: str,
                       transformed_examples_uri: str,
                       limit: int = MAX_TOKEN_EXAMPLES
                       ) -> Tuple[Vocabulary, Dict[str, TokenStats]]:
  """The vocabulary, and per split the caption lengths and coverage.

  Reads Transform's outputs: the vocabulary from the transform graph and the
  token ids of (at most `limit`) transformed examples of each split.
  """
  import tensorflow as tf
  import tensorflow_transform as tft
  output = tft.TFTransformOutput(transform_graph_uri)
  size = output.vocabulary_size_by_name(CAPTION_VOCABULARY)
  path = output.vocabulary_file_by_name(CAPTION_VOCABULARY)
  with tf.io.gfile.GFile(path) as f:
    most_frequent = [next(f, '').rstrip('\n') for _ in range(min(size, 30))]
  spec = output.transformed_feature_spec()[CAPTION_TOKEN_IDS]
  length = spec.size[-1] if isinstance(spec.size, (list, tuple)) else spec.size
  vocabulary = Vocabulary(size, int(length), path, most_frequent)
  # A row is one image: its captions' token ids, each with the index of its
  # caption. Only those two are parsed, in batches: a row also holds the
  # image's pixels.
  caption_key = (spec.index_key[0] if isinstance(spec.index_key, (list, tuple))
                 else spec.index_key)
  wanted = {spec.value_key: tf.io.VarLenFeature(tf.int64),
            caption_key: tf.io.VarLenFeature(tf.int64)}
  stats = {}
  for split, split_dir in run_summary.split_dirs(
      transformed_examples_uri).items():
    ids = []
    for batch in _records(split_dir, limit).batch(4096):
      parsed = tf.io.parse_example(batch, wanted)
      for values, captions in zip(
          tf.RaggedTensor.from_sparse(parsed[spec.value_key]).to_list(),
          tf.RaggedTensor.from_sparse(parsed[caption_key]).to_list()):
        ids.extend(captions_token_ids(values, captions))
    stats[split] = token_stats(ids, size)
  return vocabulary, _train_first(stats)


CAPTION_STATISTICS_MEMO = 'caption_statistics.json'
RETRIEVAL_EXAMPLES_MEMO = 'retrieval_examples.json'


def _remembered(memo_dir: Optional[str], filename: str, key: Optional[str],
                compute: Callable[[], Any], dump: Callable[[Any], Any],
                load: Callable[[Any], Any]) -> Any:
  """compute(), kept in `memo_dir`/`filename` for the next call with `key`.

  The file holds one entry: `key` and `dump(value)` as JSON. A key of None
  (inputs that cannot be fingerprinted, such as remote ones) or no
  `memo_dir` computes afresh and keeps nothing; an unreadable file is read
  past.
  """
  memo_path = (os.path.join(memo_dir, filename)
               if memo_dir and key is not None else None)
  if memo_path:
    try:
      with open(memo_path, encoding='utf-8') as f:
        memo = json.load(f)
      if memo['key'] == key:
        return load(memo['value'])
    except (OSError, ValueError, KeyError, TypeError):
      pass  # No memo, or an unreadable one: compute.
  value = compute()
  if memo_path:
    os.makedirs(memo_dir, exist_ok=True)
    with open(memo_path + '.tmp', 'w', encoding='utf-8') as f:
      json.dump({'key': key, 'value': dump(value)}, f)
    os.replace(memo_path + '.tmp', memo_path)
  return value


def _artifacts_key(uris: Sequence[str], *more: Any) -> Optional[str]:
  """A memo key for artifacts read back: each URI with its files' names,
  sizes and modification times (so outputs rewritten under the same URI are
  read again), and `more`; None where a URI is remote or missing."""
  state = [(uri, up_to_date.directory_fingerprint(uri)) for uri in uris]
  if not all(digest for _, digest in state):
    return None
  return json.dumps([state, *more])


def remembered_caption_statistics(
    memo_dir: Optional[str], transform_graph_uri: str,
    transformed_examples_uri: str, limit: int = MAX_TOKEN_EXAMPLES
) -> Tuple[Vocabulary, Dict[str, TokenStats]]:
  """`caption_statistics`, kept in `memo_dir` for the artifacts it read.

  A run served from TFX's cache points at the same Transform outputs as the
  run before it, and re-reading them is the part of its report that grows
  with the data (9.6 s of a cached re-run at 414,000 captions).
  """
  def dump(value):
    vocabulary, stats = value
    return {'vocabulary': dataclasses.asdict(vocabulary),
            'stats': {split: dataclasses.asdict(t)
                      for split, t in stats.items()}}

  def load(memo):
    return Vocabulary(**memo['vocabulary']), {split: TokenStats(
        t['captions'], {int(k): v for k, v in t['lengths'].items()},
        t['tokens'], t['oov_tokens']) for split, t in memo['stats'].items()}

  return _remembered(
      memo_dir, CAPTION_STATISTICS_MEMO,
      _artifacts_key([transform_graph_uri, transformed_examples_uri], limit),
      lambda: caption_statistics(transform_graph_uri,
                                 transformed_examples_uri, limit),
      dump, load)


def loss_curves(model_run_uri: str,
                tag: str = 'epoch_loss') -> Dict[str, List[Tuple[int, float]]]:
  """'train' / 'validation' -> [(epoch, loss)] from Keras' TensorBoard logs.

  Keras writes one event file per run under model_run/train and
  model_run/validation; epochs are numbered from 0 there.
  """
  import tensorflow as tf
  curves = {}
  for name in ('train', 'validation'):
    points = {}
    for path in sorted(tf.io.gfile.glob(
        os.path.join(model_run_uri, name, 'events.out.tfevents.*'))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag != tag:
            continue
          if value.WhichOneof('value') == 'tensor':
            number = float(tf.make_ndarray(value.tensor))
          else:
            number = float(value.simple_value)
          points[int(event.step)] = number
    if points:
      curves[name] = sorted(points.items())
  return curves


def _execution_properties(store, execution_id: int) -> Dict[str, Any]:
  (execution,) = store.get_executions_by_id([execution_id])
  return run_summary.custom_properties(execution)


def images_root_of_run(store, summary: run_summary.RunSummary) -> Optional[str]:
  """Where the run read the images: RetrievalEvaluator's or Transform's setting."""
  for component, read in (
      ('RetrievalEvaluator', lambda p: p.get('images_root')),
      ('Transform',
       lambda p: json.loads(p.get('custom_config') or '{}').get('images_root')),
  ):
    try:
      found = read(_execution_properties(
          store, summary.component(component).execution_id))
    except (KeyError, ValueError):
      continue
    if found:
      return found
  return None


def _max_images(store, summary: run_summary.RunSummary) -> int:
  """The size of the RetrievalEvaluator's candidate pool in this run."""
  try:
    found = _execution_properties(
        store, summary.component('RetrievalEvaluator').execution_id)
  except KeyError:
    found = {}
  return int(found.get('max_images') or configs.RETRIEVAL_MAX_IMAGES)


@dataclasses.dataclass
class CaptionQuery:
  caption: str
  true_image: str
  # (image name, cosine score), best first.
  hits: List[Tuple[str, float]]


@dataclasses.dataclass
class ImageQuery:
  image: str
  # (caption, cosine score, is one of the image's own captions), best first.
  hits: List[Tuple[str, float, bool]]


def _spread(n: int, count: int) -> List[int]:
  """`count` indices spread evenly over range(n)."""
  if n <= 0:
    return []
  count = min(n, count)
  return sorted({int(round(i * (n - 1) / max(1, count - 1)))
                 for i in range(count)})


def retrieval_examples(model_dir: str, pool, images_root: str,
                       num_captions: int = EXAMPLE_CAPTIONS,
                       num_images: int = EXAMPLE_IMAGES,
                       top_images: int = TOP_IMAGES,
                       top_captions: int = TOP_CAPTIONS
                       ) -> Tuple[List[CaptionQuery], List[ImageQuery], Dict[str, bytes]]:
  """Queries the exported model on the eval pool, both ways.

  `pool` is an evaluator.EvalPool (every image of it is a candidate). Returns
  the caption queries, the image queries and the bytes of every image shown.
  """
  import tensorflow as tf
  from coco_captions import query
  model = query.RetrievalModel(model_dir)
  captions = [
      tf.train.Example.FromString(s).features.feature['caption'].bytes_list
      .value[0].decode('utf-8') for s in pool.serialized_examples]
  name_of = dict(zip(pool.image_ids, pool.image_names))
  image_bytes = dict(zip(pool.image_names,
                         query.read_images(images_root, pool.image_names)))
  image_embeddings = model.embed_images(
      [image_bytes[n] for n in pool.image_names])

  caption_queries = []
  first_caption = {}
  for row, image_id in enumerate(pool.caption_image_ids):
    first_caption.setdefault(image_id, row)
  chosen = [first_caption[pool.image_ids[i]]
            for i in _spread(len(pool.image_ids), num_captions)]
  texts = [captions[row] for row in chosen]
  for row, hits in zip(chosen, query.top_k(
      model.embed_captions(texts), image_embeddings, top_images)):
    caption_queries.append(CaptionQuery(
        captions[row], name_of[pool.caption_image_ids[row]],
        [(pool.image_names[i], score) for i, score in hits]))

  unique = list(dict.fromkeys(captions))
  owners = collections.defaultdict(set)
  for text, image_id in zip(captions, pool.caption_image_ids):
    owners[text].add(name_of[image_id])
  shown = [pool.image_names[i]
           for i in _spread(len(pool.image_ids), num_images + 1)[1:]]
  image_queries = []
  for name, hits in zip(shown, query.top_k(
      model.embed_images([image_bytes[n] for n in shown]),
      model.embed_captions(unique), top_captions)):
    image_queries.append(ImageQuery(
        name, [(unique[i], score, name in owners[unique[i]])
               for i, score in hits]))
  used = {n for q in caption_queries for n, _ in q.hits}
  used |= {q.true_image for q in caption_queries} | set(shown)
  return caption_queries, image_queries, {n: image_bytes[n] for n in used}


def remembered_retrieval_examples(
    memo_dir: Optional[str], model_dir: str, split_dir: str, pool,
    images_root: str
) -> Tuple[List[CaptionQuery], List[ImageQuery], Dict[str, str]]:
  """`retrieval_examples`, each image shown as a thumbnail's data URI, kept
  in `memo_dir` for the model, eval split and images it used.

  Embedding the pool's images (up to 1,000) with the model is most of the
  report of a run served from TFX's cache: 5.4 s of a 25.7 s re-run at
  414,000 captions with COCO-sized images. The key holds the pool's image
  files (sizes, modification times), so a replaced image is embedded again.
  """
  images = up_to_date.files_fingerprint(images_root, pool.image_names)
  key = images and _artifacts_key(
      [model_dir, split_dir], images_root, images,
      [EXAMPLE_CAPTIONS, EXAMPLE_IMAGES, TOP_IMAGES, TOP_CAPTIONS,
       THUMBNAIL_PIXELS])

  def compute():
    captions, image_queries, shown = retrieval_examples(
        model_dir, pool, images_root)
    return captions, image_queries, {
        name: thumbnail_uri(data) for name, data in shown.items()}

  def dump(value):
    captions, image_queries, thumbnails = value
    return {'captions': [dataclasses.asdict(q) for q in captions],
            'images': [dataclasses.asdict(q) for q in image_queries],
            'thumbnails': thumbnails}

  def load(memo):
    return ([CaptionQuery(q['caption'], q['true_image'],
                          [tuple(hit) for hit in q['hits']])
             for q in memo['captions']],
            [ImageQuery(q['image'], [tuple(hit) for hit in q['hits']])
             for q in memo['images']],
            memo['thumbnails'])

  return _remembered(memo_dir, RETRIEVAL_EXAMPLES_MEMO, key, compute, dump,
                     load)


@dataclasses.dataclass
class ArtifactRef:
  key: str
  type_name: str
  artifact_id: int
  uri: str
  # The run whose execution made the artifact, '' when unknown.
  made_in_run: str


@dataclasses.dataclass
class LineageRow:
  component: str
  state: str
  execution_id: int
  inputs: List[ArtifactRef]
  outputs: List[ArtifactRef]


def lineage(store, pipeline_name: str, run_id: str) -> List[LineageRow]:
  """What each execution of run `run_id` read and wrote, from ML Metadata."""
  from ml_metadata.proto import metadata_store_pb2
  Event = metadata_store_pb2.Event  # pylint: disable=invalid-name
  run = store.get_context_by_type_and_name(run_summary.RUN_CONTEXT, run_id)
  if run is None:
    raise LookupError(f'No run {run_id!r} in ML Metadata')
  executions = sorted(store.get_executions_by_context(run.id),
                      key=lambda e: (e.create_time_since_epoch, e.id))
  node_of = run_summary.component_ids(store, pipeline_name)
  events = store.get_events_by_execution_ids([e.id for e in executions])
  artifact_ids = sorted({e.artifact_id for e in events})
  artifacts = {a.id: a for a in store.get_artifacts_by_id(artifact_ids)}
  type_names = {t.id: t.name for t in store.get_artifact_types_by_id(
      sorted({a.type_id for a in artifacts.values()}))}

  # The first execution that output an artifact made it; cached ones reuse it.
  maker = {}
  for event in store.get_events_by_artifact_ids(artifact_ids):
    if event.type in (Event.OUTPUT, Event.DECLARED_OUTPUT):
      maker[event.artifact_id] = min(
          maker.get(event.artifact_id, event.execution_id), event.execution_id)
  run_type = store.get_context_type(run_summary.RUN_CONTEXT).id
  run_of = {}
  for execution_id in set(maker.values()):
    names = [c.name for c in store.get_contexts_by_execution(execution_id)
             if c.type_id == run_type]
    run_of[execution_id] = names[0] if names else ''

  rows = {e.id: LineageRow(
      node_of.get(e.id, e.type),
      metadata_store_pb2.Execution.State.Name(e.last_known_state), e.id, [], [])
          for e in executions}
  for event in sorted(events, key=lambda e: (e.execution_id, e.artifact_id)):
    artifact = artifacts[event.artifact_id]
    ref = ArtifactRef(
        event.path.steps[0].key if event.path.steps else '',
        type_names.get(artifact.type_id, str(artifact.type_id)), artifact.id,
        artifact.uri, run_of.get(maker.get(artifact.id), ''))
    if event.type in (Event.INPUT, Event.DECLARED_INPUT):
      rows[event.execution_id].inputs.append(ref)
    elif event.type in (Event.OUTPUT, Event.DECLARED_OUTPUT):
      rows[event.execution_id].outputs.append(ref)
  return [rows[e.id] for e in executions]


# --- Drawing ------------------------------------------------------------------------

_SERIES_COLOURS = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728')


def _nice_ticks(top: float, count: int = 5) -> List[float]:
  """Round tick values from 0 to at least `top`."""
  if top <= 0:
    return [0.0, 1.0]
  raw = top / count
  magnitude = 10 ** math.floor(math.log10(raw))
  step = next(m * magnitude for m in (1, 2, 2.5, 5, 10)
              if m * magnitude >= raw)
  return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _fmt(value: float) -> str:
  return f'{value:.4g}'


def svg_line_chart(series: Dict[str, List[Tuple[float, float]]],
                   x_label: str, y_label: str, width: int = 560,
                   height: int = 300) -> str:
  """An inline SVG line chart of named (x, y) series, with axes and legend."""
  points = [p for values in series.values() for p in values]
  if not points:
    raise ValueError('nothing to plot')
  left, right, top, bottom = 56, 16, 16, 44
  xs = [x for x, _ in points]
  x_min, x_max = min(xs), max(xs)
  if x_max == x_min:
    x_max = x_min + 1
  y_ticks = _nice_ticks(max(y for _, y in points))
  y_max = y_ticks[-1]
  plot_w, plot_h = width - left - right, height - top - bottom

  def sx(x):
    return left + (x - x_min) / (x_max - x_min) * plot_w

  def sy(y):
    return top + plot_h - y / y_max * plot_h

  parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<title>{html.escape(y_label)} by {html.escape(x_label)}</title>']
  for y in y_ticks:
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(y):.1f}" '
                 f'y2="{sy(y):.1f}" class="grid"/>')
    parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" '
                 f'text-anchor="end">{_fmt(y)}</text>')
  x_ticks = sorted(set(xs))
  if len(x_ticks) > 12:
    x_ticks = x_ticks[::math.ceil(len(x_ticks) / 12)]
  for x in x_ticks:
    parts.append(f'<text x="{sx(x):.1f}" y="{top + plot_h + 16}" '
                 f'text-anchor="middle">{_fmt(x)}</text>')
  parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" '
               f'y2="{top + plot_h}" class="axis"/>')
  parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
               f'y2="{top + plot_h}" class="axis"/>')
  parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" '
               f'text-anchor="middle">{html.escape(x_label)}</text>')
  parts.append(f'<text transform="translate(14 {top + plot_h / 2:.1f}) '
               f'rotate(-90)" text-anchor="middle">{html.escape(y_label)}'
               '</text>')
  for i, (name, values) in enumerate(series.items()):
    colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
    path = ' '.join(f'{sx(x):.1f},{sy(y):.1f}' for x, y in values)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                 'stroke-width="2"/>')
    for x, y in values:
      parts.append(
          f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}">'
          f'<title>{html.escape(name)}: {_fmt(x)}, {y:.4f}</title></circle>')
    parts.append(f'<rect x="{width - right - 110}" y="{top + 4 + 18 * i}" '
                 f'width="12" height="12" fill="{colour}"/>')
    parts.append(f'<text x="{width - right - 92}" y="{top + 14 + 18 * i}">'
                 f'{html.escape(name)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def svg_histogram(groups: Dict[str, Dict[int, int]], x_label: str,
                  width: int = 560, height: int = 260) -> str:
  """Grouped bars of each group's share of items per integer value."""
  shares = {name: {v: n / max(1, sum(counts.values()))
                   for v, n in counts.items()}
            for name, counts in groups.items()}
  values = sorted({v for counts in groups.values() for v in counts})
  if not values:
    raise ValueError('nothing to plot')
  values = list(range(values[0], values[-1] + 1))
  left, right, top, bottom = 56, 16, 16, 44
  plot_w, plot_h = width - left - right, height - top - bottom
  y_ticks = _nice_ticks(max(s for g in shares.values() for s in g.values()))
  band = plot_w / len(values)
  bar = band * 0.8 / max(1, len(groups))
  parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<title>Share of captions by {html.escape(x_label)}</title>']
  for y in y_ticks:
    py = top + plot_h - y / y_ticks[-1] * plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py:.1f}" '
                 f'y2="{py:.1f}" class="grid"/>')
    parts.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end">'
                 f'{y:.0%}</text>')
  label_every = max(1, math.ceil(len(values) / 16))
  for i, value in enumerate(values):
    x0 = left + i * band + band * 0.1
    for g, (name, share) in enumerate(shares.items()):
      h = share.get(value, 0) / y_ticks[-1] * plot_h
      colour = _SERIES_COLOURS[g % len(_SERIES_COLOURS)]
      parts.append(
          f'<rect x="{x0 + g * bar:.1f}" y="{top + plot_h - h:.1f}" '
          f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
          f'<title>{html.escape(name)}: {groups[name].get(value, 0)} '
          f'captions of {value} tokens</title></rect>')
    if i % label_every == 0:
      parts.append(f'<text x="{left + (i + 0.5) * band:.1f}" '
                   f'y="{top + plot_h + 16}" text-anchor="middle">{value}'
                   '</text>')
  parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
               f'y2="{top + plot_h}" class="axis"/>')
  parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" '
               f'text-anchor="middle">{html.escape(x_label)}</text>')
  for g, name in enumerate(groups):
    colour = _SERIES_COLOURS[g % len(_SERIES_COLOURS)]
    parts.append(f'<rect x="{width - right - 110}" y="{top + 4 + 18 * g}" '
                 f'width="12" height="12" fill="{colour}"/>')
    parts.append(f'<text x="{width - right - 92}" y="{top + 14 + 18 * g}">'
                 f'{html.escape(name)}</text>')
  parts.append('</svg>')
  return ''.join(parts)


def thumbnail_uri(image_bytes: bytes, pixels: int = THUMBNAIL_PIXELS) -> str:
  """A data: URI of a PNG thumbnail (longest side `pixels`) of an image."""
  from PIL import Image
  with Image.open(io.BytesIO(image_bytes)) as image:
    image = image.convert('RGB')
    image.thumbnail((pixels, pixels))
    out = io.BytesIO()
    image.save(out, format='PNG', optimize=True)
  return 'data:image/png;base64,' + base64.b64encode(out.getvalue()).decode()


def _facets_bundle() -> str:
  """Facets' build without its @font-face rules, which name unshipped files."""
  with open(FACETS_BUNDLE, encoding='utf-8') as f:
    bundle = f.read()
  return re.sub(r'@font-face\s*\{[^}]*\}', '', bundle)


def _gzip_base64(text: str) -> str:
  return base64.b64encode(gzip.compress(text.encode('utf-8'), mtime=0)).decode()


def facets_overview_html(proto_base64: str) -> str:
  """Facets Overview of a statistics proto, with every byte of it inline.

  The page builds an iframe document (as TFDV does) from the vendored
  polyfill and Facets build, which are kept gzipped and base64-encoded and
  unpacked in the browser (DecompressionStream).
  """
  with open(WEBCOMPONENTS_POLYFILL, encoding='utf-8') as f:
    polyfill = f.read()
  if '</script' in polyfill.lower():
    raise ValueError('the polyfill cannot be inlined: it holds </script')
  return f'''<iframe id="facets-overview" title="TFDV statistics: train vs eval"
  class="facets"></iframe>
<script type="application/octet-stream" id="facets-polyfill">{_gzip_base64(polyfill)}</script>
<script type="application/octet-stream" id="facets-bundle">{_gzip_base64(_facets_bundle())}</script>
<script>
(async () => {{
  const unpack = async (id) => {{
    const bytes = Uint8Array.from(
        atob(document.getElementById(id).textContent.trim()),
        c => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(
        new DecompressionStream('gzip'));
    return await new Response(stream).text();
  }};
  const frame = document.getElementById('facets-overview');
  frame.srcdoc = '<!doctype html><html><head><meta charset="utf-8">' +
      '<style>body{{font-family:sans-serif;margin:0}}</style><script>' +
      await unpack('facets-polyfill') + '<\\/script></head><body>' +
      await unpack('facets-bundle') +
      '<facets-overview id="overview"></facets-overview><script>' +
      'document.getElementById("overview").protoInput = "{proto_base64}";' +
      '<\\/script></body></html>';
  // Grow the frame with its content, as TFDV's notebook cell does.
  const fit = () => {{
    const body = frame.contentDocument && frame.contentDocument.body;
    if (body && body.scrollHeight > 0) {{
      frame.style.height = (body.scrollHeight + 20) + 'px';
    }}
  }};
  frame.addEventListener('load', () => {{
    fit();
    new ResizeObserver(fit).observe(frame.contentDocument.body);
  }});
}})();
</script>'''


# --- The page ---------------------------------------------------------------------

_CSS = '''
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 24px 48px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
nav a { margin-right: 14px; }
h2 { margin-top: 36px; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.missing { background: #fff6e0; border-left: 4px solid #e0a000;
           padding: 8px 12px; }
.ok { color: #17692b; font-weight: bold; }
.bad { color: #a11; font-weight: bold; }
.facets { width: 100%; height: 640px; border: 1px solid #ddd; }
svg.chart { font-size: 12px; background: #fff; }
svg.chart .grid { stroke: #eee; }
svg.chart .axis { stroke: #888; }
.hits { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 20px; }
.image-query { display: flex; gap: 16px; align-items: flex-start;
               margin-bottom: 20px; }
.image-query ol { flex: 1; margin-top: 0; }
figure { margin: 0; text-align: center; font-size: 12px; }
figure img { display: block; border: 4px solid transparent; }
figure.true img { border-color: #17a34a; }
figure.true figcaption { color: #17692b; font-weight: bold; }
ol.captions li.own { color: #17692b; font-weight: bold; }
code, .uri { font-family: ui-monospace, monospace; font-size: 12px;
             word-break: break-all; }
.charts { display: flex; gap: 24px; flex-wrap: wrap; }
'''


def _e(value: Any) -> str:
  return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]],
           numeric: Sequence[int] = ()) -> str:
  head = ''.join(f'<th>{_e(h)}</th>' for h in header)
  body = ''.join(
      '<tr>' + ''.join(
          f'<td class="num">{_e(c)}</td>' if i in numeric else f'<td>{c}</td>'
          for i, c in enumerate(row)) + '</tr>' for row in rows)
  return f'<table><tr>{head}</tr>{body}</table>'


class _Page:
  """Collects sections; a section that fails says why in the page."""

  def __init__(self):
    self.sections: List[Tuple[str, str, str]] = []
    self.missing: Dict[str, str] = {}

  def add(self, anchor: str, title: str, build: Callable[[], str]):
    try:
      body = build()
    except Exception as e:  # pylint: disable=broad-except
      # The report is for looking, not for failing a run: say what is missing.
      reason = str(e).strip().splitlines()[0] if str(e).strip() else ''
      reason = reason or type(e).__name__
      self.missing[title] = reason
      body = f'<p class="missing">Not available: {_e(reason)}</p>'
    self.sections.append((anchor, title, body))


class _Missing(Exception):
  """A section's input is absent for a known reason."""


def _require(summary: run_summary.RunSummary, component: str, key: str) -> str:
  states = {c.component_id: c.state for c in summary.components}
  if component not in states:
    raise _Missing(f'{component} did not run in this run')
  uri = summary.output(component, key)
  if not uri:
    raise _Missing(f'{component} ({states[component].lower()}) has no '
                   f'{key} output')
  return uri


def _run_section(summary: run_summary.RunSummary, metadata_path: str) -> str:
  rows = [(_e(c.component_id), _state_html(c.state), f'{c.seconds:.1f}')
          for c in summary.components]
  counts = ', '.join(f'{n} {s}' for s, n in summary.split_counts.items())
  return (_table(('component', 'status', 'seconds'), rows, numeric=(2,)) +
          (f'<p>Rows (captions): {_e(counts)}</p>' if counts else '') +
          f'<p>ML Metadata: <span class="uri">{_e(metadata_path)}</span></p>')


def _state_html(state: str) -> str:
  css = 'ok' if state in ('COMPLETE', 'CACHED') else 'bad'
  return f'<span class="{css}">{_e(state.lower())}</span>'


def _statistics_html(summary) -> str:
  stats = load_statistics(_require(summary, 'StatisticsGen', 'statistics'))
  if 'train' not in stats or 'eval' not in stats:
    raise _Missing(f'StatisticsGen has splits {sorted(stats)}, not train and '
                   'eval')
  proto = facets_proto(stats['train'], stats['eval'])
  if proto is None:
    return '<p>The statistics describe an empty dataset.</p>'
  counts = _table(('split', 'captions'),
                  [(s, sum(d.num_examples for d in stats[s].datasets))
                   for s in ('train', 'eval')], numeric=(1,))
  return (counts + '<p>TFDV\'s statistics view (Facets Overview) of the raw '
          'examples, train against eval:</p>' + facets_overview_html(proto))


def _anomalies_html(summary) -> str:
  found = run_summary.anomalies(
      _require(summary, 'ExampleValidator', 'anomalies'))
  if not found:
    raise _Missing('ExampleValidator wrote no split')
  rows = [(_e(split), '<br>'.join(_e(a) for a in items) if items else
           '<span class="ok">none</span>')
          for split, items in _train_first(found).items()]
  return _table(('split', 'anomalies against the curated schema'), rows)


def _captions_html(summary, memo_dir: Optional[str]) -> str:
  vocabulary, stats = remembered_caption_statistics(
      memo_dir, _require(summary, 'Transform', 'transform_graph'),
      _require(summary, 'Transform', 'transformed_examples'))
  rows = [(s, t.captions, t.tokens, f'{t.tokens / max(1, t.captions):.1f}',
           t.oov_tokens, f'{t.coverage:.2%}') for s, t in stats.items()]
  table = _table(('split', 'captions', 'tokens', 'tokens per caption',
                  'OOV tokens', 'vocabulary coverage'), rows,
                 numeric=(1, 2, 3, 4, 5))
  chart = svg_histogram({s: t.lengths for s, t in stats.items()},
                        'tokens per caption')
  return (f'<p>Vocabulary: {vocabulary.size} tokens learnt by Transform; '
          f'captions are cut at L = {vocabulary.caption_length} tokens. '
          'Coverage is the share of a split\'s tokens that are in the '
          'vocabulary (the rest map to the OOV bucket). Counted on '
          'Transform\'s output.</p>' + table + chart +
          '<p>Most frequent tokens: <code>' +
          _e(' '.join(vocabulary.most_frequent)) + '</code></p>')


def _loss_html(summary) -> str:
  curves = loss_curves(_require(summary, 'Trainer', 'model_run'))
  if not curves:
    raise _Missing('the Trainer\'s TensorBoard logs hold no epoch_loss')
  named = {('training' if name == 'train' else 'eval'):
           [(epoch + 1, loss) for epoch, loss in points]
           for name, points in curves.items()}
  return ('<p>Contrastive loss per epoch, from the Trainer\'s TensorBoard '
          'logs (eval: the eval split, a few batches per epoch).</p>' +
          svg_line_chart(named, 'epoch', 'loss'))


def _metrics_html(summary) -> str:
  e = summary.evaluation
  if not e:
    _require(summary, 'RetrievalEvaluator', 'evaluation')
    raise _Missing('RetrievalEvaluator recorded no metrics')
  rows = []
  for direction, label in (('text_to_image', 'caption → image'),
                           ('image_to_text', 'image → caption')):
    for k in (1, 5, 10):
      value = e.get(f'{direction}_recall@{k}')
      chance = e.get(f'{direction}_chance@{k}')
      if value is None:
        continue
      lift = f'{value / chance:.1f}×' if chance else ''
      rows.append((label, f'R@{k}', f'{value:.3f}', f'{chance:.3f}', lift))
  text = (f'<p>The exported model, through its serving signatures, on '
          f'{int(e["num_images"])} eval images and their '
          f'{int(e["num_captions"])} captions.</p>')
  return text + _table(('direction', 'metric', 'value', 'chance',
                        'times chance'), rows, numeric=(2, 3, 4))


def _blessing_html(summary) -> str:
  b = summary.blessing
  if not b:
    _require(summary, 'RetrievalEvaluator', 'blessing')
    raise _Missing('RetrievalEvaluator recorded no blessing')
  unchanged = b.get('baseline_model_id') == b.get('current_model_id')
  if unchanged:
    verdict = '<span class="ok">unchanged</span>'
  elif b.get('blessed') == 1:
    verdict = '<span class="ok">BLESSED</span>'
  else:
    verdict = '<span class="bad">NOT BLESSED</span>'
  lines = [f'<p>Decision: {verdict}. Reason: {_e(b.get("reason", ""))}.</p>']
  e = summary.evaluation or {}
  if e.get('blessing_metric'):
    lines.append(f'<p>Rule: {_e(e["blessing_metric"])} at least '
                 f'{e.get("blessing_threshold", float("nan")):.3f}, and not '
                 'below the latest blessed model.</p>')
  if b.get('baseline_model'):
    lines.append('<p>Baseline (latest blessed model): <span class="uri">'
                 f'{_e(b["baseline_model"])}</span></p>')
  p = summary.pushed or {}
  if p.get('pushed') == 1:
    lines.append('<p>Pushed to <span class="uri">'
                 f'{_e(p.get("pushed_destination", ""))}</span></p>')
  else:
    lines.append('<p>Not pushed in this run.</p>')
  return ''.join(lines)


def _examples_html(summary, store, images_root: Optional[str],
                   memo_dir: Optional[str]) -> str:
  from coco_captions import evaluator
  model = _require(summary, 'Trainer', 'model')
  examples = _require(summary, 'CsvExampleGen', 'examples')
  images_root = images_root or images_root_of_run(store, summary)
  if not images_root:
    raise _Missing('the run does not say where its images are; pass '
                   '--images_root')
  split_dir = run_summary.split_dirs(examples).get('eval')
  if not split_dir:
    raise _Missing('CsvExampleGen wrote no eval split')
  pool = evaluator.load_pool(split_dir, _max_images(store, summary))
  caption_queries, image_queries, uris = remembered_retrieval_examples(
      memo_dir, os.path.join(model, 'Format-Serving'), split_dir, pool,
      images_root)

  def figure(name, label, true):
    css = ' class="true"' if true else ''
    return (f'<figure{css}><img class="thumb" src="{uris[name]}" '
            f'alt="{_e(name)}" title="{_e(name)}">'
            f'<figcaption>{_e(label)}</figcaption></figure>')

  parts = [f'<p>The run\'s model, over the {len(pool.image_ids)} eval '
           'images. <b>Caption → images</b>: the top '
           f'{TOP_IMAGES} images for a caption, the true image framed in '
           'green.</p>']
  for q in caption_queries:
    rank = next((i for i, (n, _) in enumerate(q.hits, 1)
                 if n == q.true_image), None)
    where = (f'true image ranked {rank}' if rank else
             f'true image not in the top {TOP_IMAGES}')
    parts.append(f'<h4>“{_e(q.caption)}” <small>({where})</small></h4>'
                 '<div class="hits">')
    parts.extend(figure(n, f'{i}. {s:+.3f}' + (' ✓ true' if n == q.true_image
                                                else ''), n == q.true_image)
                 for i, (n, s) in enumerate(q.hits, 1))
    if not rank:
      parts.append(figure(q.true_image, 'true image', True))
    parts.append('</div>')
  parts.append(f'<p><b>Image → captions</b>: the best {TOP_CAPTIONS} of all '
               'eval captions; the image\'s own captions in green.</p>')
  for q in image_queries:
    items = ''.join(
        f'<li{" class=own" if own else ""}>{_e(c)} <small>({s:+.3f}'
        f'{", its own" if own else ""})</small></li>' for c, s, own in q.hits)
    parts.append(f'<div class="image-query">{figure(q.image, q.image, False)}'
                 f'<ol class="captions">{items}</ol></div>')
  return ''.join(parts)


def _lineage_html(store, summary) -> str:
  rows = lineage(store, summary.pipeline_name, summary.run_id)

  def refs(items):
    out = []
    for r in items:
      made = ('' if not r.made_in_run or r.made_in_run == summary.run_id else
              f' <small>(made in run {_e(r.made_in_run)})</small>')
      out.append(f'{_e(r.key)}: {_e(r.type_name)} #{r.artifact_id}{made}'
                 f'<br><span class="uri">{_e(r.uri)}</span>')
    return '<br>'.join(out) or '—'

  chain = []
  for label, component, key in (
      ('Data', 'CsvExampleGen', 'examples'),
      ('Schema', 'ImportSchemaGen', 'schema'),
      ('Transform graph', 'Transform', 'transform_graph'),
      ('Model', 'Trainer', 'model'),
      ('Evaluation', 'RetrievalEvaluator', 'evaluation'),
      ('Pushed model', 'Pusher', 'pushed_model')):
    found = [r for row in rows if row.component == component
             for r in row.outputs if r.key == key]
    if found:
      r = found[0]
      made = ('this run' if r.made_in_run in ('', summary.run_id) else
              f'run {r.made_in_run}')
      chain.append((label, f'{_e(r.type_name)} #{r.artifact_id}', _e(made),
                    f'<span class="uri">{_e(r.uri)}</span>'))
  return ('<p>From ML Metadata. A cached component reuses the artifacts of '
          'the run that made them.</p>' +
          _table(('what', 'artifact', 'made in', 'where'), chain) +
          _table(('component', 'status', 'read', 'wrote'),
                 [(_e(r.component), _state_html(r.state), refs(r.inputs),
                   refs(r.outputs)) for r in rows]))


def render(summary: run_summary.RunSummary, store, metadata_path: str,
           images_root: Optional[str] = None,
           memo_dir: Optional[str] = None) -> Tuple[str, Dict[str, str]]:
  """(the report's HTML, section title -> why it is missing).

  `memo_dir` keeps what was read or computed from artifacts for the next
  report on the same artifacts (remembered_caption_statistics,
  remembered_retrieval_examples); None reads them afresh.
  """
  page = _Page()
  page.add('run', 'Run', lambda: _run_section(summary, metadata_path))
  page.add('statistics', 'Data: statistics',
           lambda: _statistics_html(summary))
  page.add('anomalies', 'Data: anomalies', lambda: _anomalies_html(summary))
  page.add('captions', 'Data: caption lengths and vocabulary',
           lambda: _captions_html(summary, memo_dir))
  page.add('loss', 'Model: loss', lambda: _loss_html(summary))
  page.add('metrics', 'Model: retrieval metrics',
           lambda: _metrics_html(summary))
  page.add('blessing', 'Model: blessing', lambda: _blessing_html(summary))
  page.add('examples', 'Examples',
           lambda: _examples_html(summary, store, images_root, memo_dir))
  page.add('lineage', 'Lineage', lambda: _lineage_html(store, summary))

  nav = ''.join(f'<a href="#{a}">{_e(t)}</a>' for a, t, _ in page.sections)
  body = ''.join(f'<section id="{a}"><h2>{_e(t)}</h2>{b}</section>'
                 for a, t, b in page.sections)
  failed = [c.component_id for c in summary.components
            if c.state not in ('COMPLETE', 'CACHED')]
  status = (f'<span class="bad">{_e(", ".join(failed))} did not complete'
            '</span>' if failed else '<span class="ok">complete</span>')
  generated = datetime.datetime.now().astimezone().strftime(
      '%Y-%m-%d %H:%M:%S %Z')
  title = f'{summary.pipeline_name}, run {summary.run_id}'
  document = f'''<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><header><h1>{_e(title)}</h1>
<p>Run status: {status}. Report written {_e(generated)}.</p>
<nav>{nav}</nav></header>
{body}
</body></html>
'''
  return document, page.missing


def report_filename(run_id: str) -> str:
  return 'run-' + re.sub(r'[^A-Za-z0-9._-]', '-', run_id) + '.html'


def build_report(pipeline_root: str, metadata_path: Optional[str] = None,
                 pipeline_name: str = configs.PIPELINE_NAME,
                 run_id: Optional[str] = None,
                 images_root: Optional[str] = None,
                 output_dir: Optional[str] = None) -> Report:
  """Writes the report of run `run_id` (default: the latest); returns where.

  Raises ReportError when there is no metadata or no such run.
  """
  import tensorflow as tf
  metadata_path = metadata_path or os.path.join(pipeline_root,
                                                configs.METADATA_FILENAME)
  if not os.path.isfile(metadata_path):
    raise ReportError(f'no ML Metadata at {metadata_path}')
  try:
    store = run_summary.connect(metadata_path)
    summary = run_summary.summarize_run(metadata_path, pipeline_name, run_id)
  except LookupError as e:
    raise ReportError(str(e).strip('"\'')) from e
  output_dir = output_dir or os.path.join(pipeline_root, REPORTS_SUBDIR)
  memo_dir = None if '://' in output_dir else output_dir
  document, missing = render(summary, store, metadata_path, images_root,
                             memo_dir)
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir, report_filename(summary.run_id))
  latest = os.path.join(output_dir, LATEST)
  for target in (path, latest):
    with tf.io.gfile.GFile(target, 'w') as f:
      f.write(document)
  return Report(path, latest, summary.run_id, missing)


def describe(report: Report) -> List[str]:
  """The lines a CLI prints about a written report."""
  lines = [f'{"Report:":<20} {report.path}']
  for title, reason in report.missing.items():
    lines.append(f'  (partial) {title}: {reason}')
  return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument(
      '--pipeline_root', required=True,
      help='The run\'s pipeline root; the report goes to PIPELINE_ROOT/'
      f'{REPORTS_SUBDIR}/.')
  parser.add_argument(
      '--metadata_path', default=None,
      help=f'ML Metadata SQLite file. Default: PIPELINE_ROOT/'
      f'{configs.METADATA_FILENAME}')
  parser.add_argument('--pipeline_name', default=configs.PIPELINE_NAME,
                      help='Default: %(default)s')
  parser.add_argument('--run_id', default=None,
                      help='Which run. Default: the latest.')
  parser.add_argument(
      '--images_root', default=None,
      help='Where the images are. Default: as the run recorded it.')
  parser.add_argument('--output_dir', default=None,
                      help=f'Default: PIPELINE_ROOT/{REPORTS_SUBDIR}')
  parser.add_argument('--verbose', action='store_true',
                      help='Show TensorFlow\'s logs on the console instead '
                      'of only in the log file.')
  args = parser.parse_args(argv)
  if '://' not in args.pipeline_root and not os.path.isdir(args.pipeline_root):
    print(f'error: pipeline root {args.pipeline_root} is not a directory',
          file=sys.stderr)
    return 2
  from coco_captions import console
  log_path = None
  if not args.verbose and '://' not in args.pipeline_root:
    log_path = os.path.join(args.pipeline_root, 'logs', datetime.datetime.now(
    ).strftime('report-%Y%m%d-%H%M%S.log'))
  with console.captured_output(log_path):
    try:
      report = build_report(args.pipeline_root, args.metadata_path,
                            args.pipeline_name, args.run_id, args.images_root,
                            args.output_dir)
    except ReportError as e:
      report, error = None, str(e)
  if report is None:
    print(f'error: {error}', file=sys.stderr)
    return 2
  print('\n'.join(describe(report)))
  return 0


if __name__ == '__main__':
  sys.exit(main())
