"""The read model's part that only the HTML report shows.

`read_report_data` reads, for a run already read (run_record.RunRecord), the
caption lengths and vocabulary coverage (Transform's outputs), the loss per
epoch (the Trainer's TensorBoard logs) and retrieval examples (the exported
model queried on the eval split, with image thumbnails) into a `ReportData`.
The first and the last are kept in the reports directory for the next report
on the same artifacts, since a run served from TFX's cache points at the same
outputs.
"""

import base64
import collections
import dataclasses
import io
import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from coco_captions import features, paths
from coco_captions.pipeline import configs
from coco_captions import artifacts
from coco_captions.reporting import run_record
from coco_captions.run import up_to_date

# What the Examples section shows.
EXAMPLE_CAPTIONS = 4
EXAMPLE_IMAGES = 3
TOP_IMAGES = 5
TOP_CAPTIONS = 5
THUMBNAIL_PIXELS = 96
# Transformed examples read per split for the caption statistics.
MAX_TOKEN_EXAMPLES = 200_000


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
    words = [i for i in ids if i != features.PAD_ID]
    lengths[len(words)] += 1
    tokens += len(words)
    oov += sum(1 for i in words if i > vocabulary_size)
  return TokenStats(len(token_id_lists), dict(sorted(lengths.items())), tokens,
                    oov)


def _captions_token_ids(values: Sequence[int],
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
  size = output.vocabulary_size_by_name(features.CAPTION_VOCABULARY)
  path = output.vocabulary_file_by_name(features.CAPTION_VOCABULARY)
  with tf.io.gfile.GFile(path) as f:
    most_frequent = [next(f, '').rstrip('\n') for _ in range(min(size, 30))]
  spec = output.transformed_feature_spec()[features.CAPTION_TOKEN_IDS]
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
  for split, split_dir in artifacts.split_dirs(
      transformed_examples_uri).items():
    ids = []
    for batch in _records(split_dir, limit).batch(4096):
      parsed = tf.io.parse_example(batch, wanted)
      for values, captions in zip(
          tf.RaggedTensor.from_sparse(parsed[spec.value_key]).to_list(),
          tf.RaggedTensor.from_sparse(parsed[caption_key]).to_list()):
        ids.extend(_captions_token_ids(values, captions))
    stats[split] = token_stats(ids, size)
  return vocabulary, run_record.train_first(stats)


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
  with the data.
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
  """'train' / 'validation' -> [(step, loss)] from Keras' TensorBoard logs.

  Keras writes one event file per run under model_run/train and
  model_run/validation. The step is the training step at the end of the
  epoch (training.json's `tensorboard_step`), or, in logs from before,
  the Keras epoch numbered from 0.
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


@dataclasses.dataclass
class CaptionQuery:
  """An eval caption and the images the model ranks first for it."""
  caption: str
  true_image: str
  # (image name, cosine score), best first.
  hits: List[Tuple[str, float]]

  @property
  def rank(self) -> Optional[int]:
    """Where the true image is among the hits (1 is first); None if not."""
    return next((i for i, (name, _) in enumerate(self.hits, 1)
                 if name == self.true_image), None)


@dataclasses.dataclass
class ImageQuery:
  """An eval image and the captions the model ranks first for it."""
  image: str
  # (caption, cosine score, is one of the image's own captions), best first.
  hits: List[Tuple[str, float, bool]]


@dataclasses.dataclass
class RetrievalExamples:
  """What the report's Examples section shows."""
  # The eval images every query ranked.
  pool_images: int
  top_images: int
  top_captions: int
  caption_queries: List[CaptionQuery]
  image_queries: List[ImageQuery]
  # Image name -> data: URI of its thumbnail, for every image shown.
  thumbnails: Dict[str, str]


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
  from coco_captions.serving import serving_model
  model = serving_model.RetrievalModel(model_dir)
  captions = [
      tf.train.Example.FromString(s).features.feature[features.CAPTION]
      .bytes_list.value[0].decode('utf-8') for s in pool.serialized_examples]
  name_of = dict(zip(pool.image_ids, pool.image_names))
  image_bytes = {name: paths.read_image(images_root, name)
                 for name in pool.image_names}
  image_embeddings = model.embed_images(
      [image_bytes[n] for n in pool.image_names])

  caption_queries = []
  first_caption = {}
  for row, image_id in enumerate(pool.caption_image_ids):
    first_caption.setdefault(image_id, row)
  chosen = [first_caption[pool.image_ids[i]]
            for i in _spread(len(pool.image_ids), num_captions)]
  texts = [captions[row] for row in chosen]
  for row, hits in zip(chosen, serving_model.top_k(
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
  for name, hits in zip(shown, serving_model.top_k(
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
  report of a run served from TFX's cache. The key holds the pool's image
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


def thumbnail_uri(image_bytes: bytes, pixels: int = THUMBNAIL_PIXELS) -> str:
  """A data: URI of a PNG thumbnail (longest side `pixels`) of an image."""
  from PIL import Image
  with Image.open(io.BytesIO(image_bytes)) as image:
    image = image.convert('RGB')
    image.thumbnail((pixels, pixels))
    out = io.BytesIO()
    image.save(out, format='PNG', optimize=True)
  return 'data:image/png;base64,' + base64.b64encode(out.getvalue()).decode()


@dataclasses.dataclass
class ReportData:
  """What the report shows beyond the run's record; each part is None where
  it could not be read, and `missing` says why (part name -> reason)."""
  # (the vocabulary, split -> caption lengths and coverage), train first.
  captions: Optional[Tuple[Vocabulary, Dict[str, TokenStats]]] = None
  # 'training' / 'eval' -> [(epoch, loss)].
  loss: Optional[Dict[str, List[Tuple[float, float]]]] = None
  examples: Optional[RetrievalExamples] = None
  missing: Dict[str, str] = dataclasses.field(default_factory=dict)


def read_report_data(record: run_record.RunRecord,
                     images_root: Optional[str] = None,
                     memo_dir: Optional[str] = None) -> ReportData:
  """The caption statistics, loss per epoch and retrieval examples of the
  run `record` (read with run_record.read_run).

  `images_root` defaults to the run's own; `memo_dir` keeps what was read
  for the next report on the same artifacts (None reads them afresh). A part
  that cannot be read is left None, with its reason in `missing`.
  """
  data = ReportData()
  for part, read in (
      ('captions', lambda: remembered_caption_statistics(
          memo_dir, record.require('Transform', 'transform_graph'),
          record.require('Transform', 'transformed_examples'))),
      ('loss', lambda: _loss_by_epoch(record)),
      ('examples', lambda: _examples(record, images_root, memo_dir))):
    try:
      setattr(data, part, read())
    except Exception as e:  # pylint: disable=broad-except
      # The report is for looking, not for failing a run: say what is missing.
      data.missing[part] = run_record.reason(e)
  return data


def _loss_by_epoch(record: run_record.RunRecord
                   ) -> Dict[str, List[Tuple[float, float]]]:
  curves = loss_curves(record.require('Trainer', 'model_run'))
  if not curves:
    raise run_record.Unavailable(
        'the Trainer\'s TensorBoard logs hold no epoch_loss')
  training = record.training or {}
  if training.get('tensorboard_step') == 'training step':
    def epoch(step):  # The epochs (passes) done after `step` steps.
      return step / training['steps_per_epoch']
  else:  # Logged by Keras epoch, before epochs were passes everywhere.
    def epoch(step):
      return step + 1
  return {('training' if name == 'train' else 'eval'):
          [(epoch(step), loss) for step, loss in points]
          for name, points in curves.items()}


def _examples(record: run_record.RunRecord, images_root: Optional[str],
              memo_dir: Optional[str]) -> RetrievalExamples:
  from coco_captions.pipeline import evaluator
  model = record.require('Trainer', 'model')
  examples = record.require('CsvExampleGen', 'examples')
  images_root = images_root or record.images_root
  if not images_root:
    raise run_record.Unavailable('the run does not say where its images are; '
                                 'pass --images_root')
  split_dir = artifacts.split_dirs(examples).get('eval')
  if not split_dir:
    raise run_record.Unavailable('CsvExampleGen wrote no eval split')
  pool = evaluator.load_pool(
      split_dir, record.eval_images(configs.RETRIEVAL_MAX_IMAGES))
  caption_queries, image_queries, thumbnails = remembered_retrieval_examples(
      memo_dir, os.path.join(model, 'Format-Serving'), split_dir, pool,
      images_root)
  return RetrievalExamples(len(pool.image_ids), TOP_IMAGES, TOP_CAPTIONS,
                           caption_queries, image_queries, thumbnails)
