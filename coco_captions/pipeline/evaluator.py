"""RetrievalEvaluator: measures the exported model and decides whether to bless it.

A custom TFX component (Python function component). It scores the *exported*
model through its serving signatures, on the raw eval split and the image
files, so what is measured is exactly what would be served. It computes
recall@1/5/10 in both directions over a stated candidate pool. The metrics are
recorded in ML Metadata as custom properties of a ModelEvaluation artifact,
and a metrics.json file is written beside them.

The model is blessed when the chosen metric clears an absolute threshold, is
not below the same metric of the baseline (the latest blessed model, found by
TFX's LatestBlessedModelStrategy resolver and evaluated here on the same
pool), and is above its chance rate by more than the pool could give a model
that learned nothing (a one-sided binomial test, `decide`). A pool too small
to tell any model from chance blesses nothing. The
ModelBlessing artifact carries `blessed` and `current_model_id`, as TFX's own
Evaluator writes them, so Pusher and the resolver understand it, on Kubeflow
too (`RetrievalEvaluatorExecutor`).
"""

import json
import math
import os
from typing import Dict, List, Optional, Tuple

from absl import logging
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import (InputArtifact,
                                                        OutputArtifact,
                                                        Parameter)
from tfx.components.evaluator import executor as tfx_evaluator_executor
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_artifacts

from coco_captions import features, paths
from coco_captions.pipeline import push, retrieval
from coco_captions.serving import serving_model

METRICS_FILE = 'metrics.json'
DEFAULT_METRIC = 'text_to_image_recall@5'
# The largest p-value against chance that blesses (see `decide`).
DEFAULT_SIGNIFICANCE = 0.01


class EvalPool:
  """The candidate pool: distinct images and every caption of each."""

  def __init__(self, serialized_examples: List[bytes],
               caption_image_ids: List[int], image_ids: List[int],
               image_names: List[str]):
    self.serialized_examples = serialized_examples
    self.caption_image_ids = caption_image_ids
    self.image_ids = image_ids
    self.image_names = image_names


def load_pool(split_uri: str, max_images: int) -> EvalPool:
  """Reads raw examples of one split; keeps the `max_images` lowest image ids."""
  files = sorted(tf.io.gfile.glob(os.path.join(split_uri, '*')))
  # In batches, parsing only the two features the pool needs: the split holds
  # every caption, too many to parse one at a time through Python's protobuf.
  spec = {features.IMAGE_ID: tf.io.FixedLenFeature([], tf.int64),
          features.IMAGE_NAME: tf.io.FixedLenFeature([], tf.string)}
  image_ids, image_names, serialized = [], [], []
  for batch in tf.data.TFRecordDataset(
      files, compression_type='GZIP').batch(4096):
    parsed = tf.io.parse_example(batch, spec)
    image_ids.extend(parsed[features.IMAGE_ID].numpy().tolist())
    image_names.extend(parsed[features.IMAGE_NAME].numpy().tolist())
    serialized.extend(batch.numpy().tolist())
  if not serialized:
    raise ValueError(f'No examples in {split_uri}: nothing to evaluate on.')
  names = {}
  for image_id, name in zip(image_ids, image_names):
    names.setdefault(image_id, name.decode('utf-8'))
  pool_ids = sorted(names)[:max_images]
  in_pool = set(pool_ids)
  kept = sorted((row for row, image_id in enumerate(image_ids)
                 if image_id in in_pool), key=image_ids.__getitem__)
  return EvalPool([serialized[row] for row in kept],
                  [image_ids[row] for row in kept], pool_ids,
                  [names[i] for i in pool_ids])


def evaluate(model_dir: str, pool: EvalPool, images_root: str,
             skipped: Optional[List[str]] = None) -> Dict[str, float]:
  """Recall@K both ways of the SavedModel at `model_dir` over `pool`.

  Images that cannot be read (named outside `images_root` too) or decoded,
  which GroupCaptionsByImage dropped with bad_images='drop', leave the pool
  with their captions; their names are appended to `skipped`.
  """
  model = serving_model.RetrievalModel(model_dir)
  usable, images = _usable_images(model, pool, images_root, skipped)
  captions = model.embed_examples(usable.serialized_examples)
  return retrieval.retrieval_metrics(captions, usable.caption_image_ids,
                                     images, usable.image_ids)


def _usable_images(model, pool: EvalPool, images_root: str,
                   skipped: Optional[List[str]]):
  """(the pool without unusable images, embeddings of the usable ones)."""
  readable, image_bytes, _ = paths.read_images(images_root, pool.image_names)
  kept, embeddings, _ = model.embed_images_or_skip(image_bytes)
  kept = [readable[i] for i in kept]
  if len(kept) == len(pool.image_ids):
    return pool, embeddings
  if skipped is not None:
    kept_set = set(kept)
    skipped.extend(n for i, n in enumerate(pool.image_names)
                   if i not in kept_set)
  if not kept:
    raise ValueError(f'None of the {len(pool.image_ids)} eval images under '
                     f'{images_root} can be read: nothing to evaluate on.')
  ids = {pool.image_ids[i] for i in kept}
  rows = [r for r, image_id in enumerate(pool.caption_image_ids)
          if image_id in ids]
  return EvalPool([pool.serialized_examples[r] for r in rows],
                  [pool.caption_image_ids[r] for r in rows],
                  [pool.image_ids[i] for i in kept],
                  [pool.image_names[i] for i in kept]), embeddings


def decide(metric: str, threshold: float, current: Dict[str, float],
           baseline: Optional[Dict[str, float]],
           same_as_baseline: bool = False,
           significance: float = DEFAULT_SIGNIFICANCE) -> Tuple[bool, str]:
  """(blessed, reason in plain words) for the current model.

  Blessed when `metric` clears `threshold`, is not worse than the baseline's,
  and is above its chance rate with a p-value below `significance`
  (`retrieval.chance_p_value`; 1 leaves that test out). A pool too small for
  any score to pass that test blesses nothing.
  """
  if metric not in current:
    raise ValueError(f'Unknown blessing metric {metric!r}; choose one of '
                     f'{sorted(k for k in current if "recall" in k)}')
  for name, number in (('threshold', threshold),
                       ('significance', significance),
                       (f'the baseline\'s {metric}',
                        (baseline or {}).get(metric, 0.0))):
    if not math.isfinite(number):
      raise ValueError(f'Cannot decide blessing: {name} is {number}')
  value = current[metric]
  if same_as_baseline:
    return False, (f'this model is already the latest blessed model '
                   f'({metric} {value:.3f}); it is not pushed again')
  if value < threshold:
    return False, f'{metric} {value:.3f} is below the threshold {threshold:.3f}'
  if baseline is not None and value < baseline[metric]:
    return False, (f'{metric} {value:.3f} is worse than the latest blessed '
                   f'model\'s {baseline[metric]:.3f}')
  cleared = f'{metric} {value:.3f} clears the threshold {threshold:.3f}'
  if significance < 1:
    images = int(current['num_images'])
    chance = current[metric.replace('_recall@', '_chance@')]
    best = retrieval.chance_p_value(current, metric, hits=images)
    if best >= significance:
      return False, (
          f'{images} eval images are too few to tell any model from chance '
          f'at {metric} (chance {chance:.3f}: even a perfect score has '
          f'p = {best:.2g}, not below {significance:g}); evaluate on more '
          'images')
    p = retrieval.chance_p_value(current, metric)
    test = (f'chance {chance:.3f} over {images} eval images, one-sided '
            f'binomial test p = {p:.2g}')
    if p >= significance:
      return False, (f'{metric} {value:.3f} cannot be told from chance '
                     f'({test}, not below {significance:g})')
    cleared += f' and is above chance ({test} < {significance:g})'
  if baseline is None:
    return True, f'{cleared} (no earlier blessed model to compare with)'
  return True, (f'{cleared}, and is not worse than the latest blessed '
                f'model\'s {baseline[metric]:.3f}')


class ModelGoneError(FileNotFoundError):
  """The model to evaluate is no longer on disk; the message says what to do."""


def _serving_dir(model: standard_artifacts.Model) -> str:
  return os.path.join(model.uri, 'Format-Serving')


def _exists(model: standard_artifacts.Model) -> bool:
  return tf.io.gfile.exists(os.path.join(_serving_dir(model),
                                         'saved_model.pb'))


@component
def RetrievalEvaluator(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    model: InputArtifact[standard_artifacts.Model],
    evaluation: OutputArtifact[standard_artifacts.ModelEvaluation],
    blessing: OutputArtifact[standard_artifacts.ModelBlessing],
    images_root: Parameter[str],
    threshold: Parameter[float],
    metric: Parameter[str] = DEFAULT_METRIC,
    max_images: Parameter[int] = 1000,
    split: Parameter[str] = 'eval',
    significance: Parameter[float] = DEFAULT_SIGNIFICANCE,
    serving_model_dir: Parameter[str] = '',
    baseline_model: InputArtifact[standard_artifacts.Model] = None,
):
  """Evaluates `model` (and `baseline_model`) on raw `examples`; blesses or not.

  Args:
    examples: raw examples (CsvExampleGen output); `split` is evaluated.
    model: the Trainer's model.
    evaluation: output; metrics as custom properties and metrics.json.
    blessing: output; `blessed` 1 or 0, `current_model_id`, `reason`.
    images_root: where the examples' `image_name` files are.
    threshold: the lowest acceptable value of `metric`.
    metric: e.g. text_to_image_recall@5 or image_to_text_recall@1.
    max_images: size of the candidate pool (lowest image ids first).
    split: which split of `examples` to evaluate on.
    significance: the largest p-value of `metric` against chance that
      blesses (1: no such test).
    serving_model_dir: where Pusher pushes. When `model` is already the
      latest blessed model but has no complete copy there (its push did not
      finish, or the version was deleted), it is judged again, so that a
      blessing pushes it.
    baseline_model: the latest blessed model, if any.
  """
  pool = load_pool(artifact_utils.get_split_uri([examples], split), max_images)
  if not _exists(model):
    raise ModelGoneError(
        f'The model to evaluate, {_serving_dir(model)}, is gone from disk: '
        'TFX\'s cache reused a model whose files were deleted. Run again with '
        '--no_cache to train a new one.')
  skipped = []
  current = evaluate(_serving_dir(model), pool, images_root, skipped)
  if skipped:
    logging.warning('Evaluated without %d unusable image(s), e.g. %s',
                    len(skipped), skipped[0])
  evaluation.set_int_custom_property('skipped_images', len(skipped))
  same = baseline_model is not None and baseline_model.id == model.id
  unpushed = same and bool(serving_model_dir) and not push.holds_model(
      serving_model_dir, _serving_dir(model))
  baseline = None
  baseline_gone = (baseline_model is not None and not same and
                   not _exists(baseline_model))
  if baseline_model is not None and not baseline_gone:
    baseline = current if same else evaluate(
        _serving_dir(baseline_model), pool, images_root)
  blessed, reason = decide(metric, threshold, current, baseline,
                           same and not unpushed, significance)
  if unpushed:
    # Blessed again, so that Pusher finishes the push.
    reason += (f' (it is that model, but {serving_model_dir} has no complete '
               'copy of it: its push did not finish)')
  if baseline_gone:
    # A deleted baseline must not stop every later run: judged without it.
    reason += (f' (the latest blessed model, {_serving_dir(baseline_model)}, '
               'is gone from disk: this model was judged without it)')
    logging.warning('The latest blessed model %s is gone from disk; '
                    'judging without it', baseline_model.uri)

  # A pipeline root on a file system (NFS, a volume) has no directory for
  # an output until it is made; TFX's local runners make it, KFP's do not.
  for output in (evaluation, blessing):
    tf.io.gfile.makedirs(output.uri)
  for name, value in current.items():
    evaluation.set_float_custom_property(name, float(value))
  evaluation.set_string_custom_property('blessing_metric', metric)
  evaluation.set_float_custom_property('blessing_threshold', threshold)
  evaluation.set_float_custom_property('blessing_significance', significance)
  evaluation.set_float_custom_property(
      'chance_p_value', retrieval.chance_p_value(current, metric))
  if baseline is not None:
    evaluation.set_float_custom_property(f'baseline_{metric}', baseline[metric])
  with tf.io.gfile.GFile(os.path.join(evaluation.uri, METRICS_FILE), 'w') as f:
    json.dump({'model': model.uri, 'metrics': current,
               'baseline_model': baseline_model.uri if baseline_model else None,
               'baseline_metrics': baseline, 'metric': metric,
               'threshold': threshold, 'blessed': blessed, 'reason': reason},
              f, indent=2, sort_keys=True)

  blessing.set_int_custom_property('blessed', int(blessed))
  blessing.set_int_custom_property('current_model_id', model.id)
  blessing.set_string_custom_property('current_model', model.uri)
  blessing.set_string_custom_property('reason', reason)
  if baseline_model is not None:
    blessing.set_int_custom_property('baseline_model_id', baseline_model.id)
    blessing.set_string_custom_property('baseline_model', baseline_model.uri)
  with tf.io.gfile.GFile(
      os.path.join(blessing.uri, 'BLESSED' if blessed else 'NOT_BLESSED'),
      'w') as f:
    f.write(reason + '\n')


class RetrievalEvaluatorExecutor(
    RetrievalEvaluator.EXECUTOR_SPEC.executor_class,
    tfx_evaluator_executor.Executor):
  """RetrievalEvaluator's executor, recognised as an evaluator by TFX.

  On Kubeflow Pipelines v2 / Vertex AI, TFX's entrypoint rewrites a blessing's
  `current_model_id` and `baseline_model_id` from TFX's integer ids to the
  artifacts' resource names, which its compiled latest-blessed-model resolver
  matches on, but only for subclasses of TFX's Evaluator executor. Without
  this, no earlier blessed model is ever found there. `Do` is the function
  component's.
  """


# TFX's Evaluator executor is a Beam executor: TFX's launchers insist on a
# Beam executor spec for it.
RetrievalEvaluator.EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(
    RetrievalEvaluatorExecutor)
