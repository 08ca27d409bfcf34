"""Recall@K for image-caption retrieval in both directions, with chance rates.

Text to image: a caption's query succeeds at K if its image ranks in the top K
of the candidate images. Image to text: an image's query succeeds at K if any
of its captions ranks in the top K of the candidate captions.

(The module file computes the text-to-image half for run_fn itself: it must
not import this package, see coco_captions_utils.py.)
"""

import math
from typing import Dict, Optional, Sequence

import numpy as np

KS = (1, 5, 10)


def _ranks_of_best_positive(scores: np.ndarray, positives: np.ndarray) -> np.ndarray:
  """For each row, how many candidates score above its best positive.

  Ties count in the query's favour.
  """
  best = np.where(positives, scores, -np.inf).max(axis=1)
  return (scores > best[:, None]).sum(axis=1)


def _chance_any_of(num_candidates: int, num_positives: np.ndarray,
                   k: int) -> float:
  """Mean probability that a random top-k of N holds at least one positive."""
  k = min(k, num_candidates)
  probabilities = []
  for m in num_positives:
    # P(no positive in k draws without replacement) = prod (N-m-i)/(N-i).
    miss = np.prod([(num_candidates - m - i) / (num_candidates - i)
                    for i in range(k)])
    probabilities.append(1.0 - max(miss, 0.0))
  return float(np.mean(probabilities))


def retrieval_metrics(caption_embeddings: np.ndarray,
                      caption_image_ids: Sequence[int],
                      image_embeddings: np.ndarray,
                      image_ids: Sequence[int],
                      ks: Sequence[int] = KS) -> Dict[str, float]:
  """Recall@K both ways over one candidate pool.

  Args:
    caption_embeddings: [num_captions, dim], L2-normalised.
    caption_image_ids: [num_captions] the image each caption describes; each
      must be in `image_ids`.
    image_embeddings: [num_images, dim], L2-normalised.
    image_ids: [num_images] distinct ids of the candidate images.

  Returns:
    `text_to_image_recall@K`, `image_to_text_recall@K` and their
    `..._chance@K`, plus `num_images` and `num_captions` (the pool).
  """
  caption_image_ids = np.asarray(caption_image_ids)
  image_ids = np.asarray(image_ids)
  if len(set(image_ids.tolist())) != len(image_ids):
    raise ValueError('image_ids must be distinct')
  missing = set(caption_image_ids.tolist()) - set(image_ids.tolist())
  if missing:
    raise ValueError(f'captions of images outside the pool: {sorted(missing)[:5]}')
  positives = caption_image_ids[:, None] == image_ids[None, :]
  scores = caption_embeddings @ image_embeddings.T
  text_ranks = _ranks_of_best_positive(scores, positives)
  image_ranks = _ranks_of_best_positive(scores.T, positives.T)
  captions_per_image = positives.sum(axis=0)
  metrics = {'num_images': int(len(image_ids)),
             'num_captions': int(len(caption_image_ids))}
  for k in ks:
    metrics[f'text_to_image_recall@{k}'] = float(np.mean(text_ranks < k))
    metrics[f'text_to_image_chance@{k}'] = min(k, len(image_ids)) / len(image_ids)
    metrics[f'image_to_text_recall@{k}'] = float(np.mean(image_ranks < k))
    metrics[f'image_to_text_chance@{k}'] = _chance_any_of(
        len(caption_image_ids), captions_per_image, k)
  return metrics


def chance_p_value(metrics: Dict[str, float], metric: str,
                   hits: Optional[int] = None) -> float:
  """How likely a model that ranks at random is to score `metric` (a recall
  of `retrieval_metrics`) at least as high over the same pool, or to reach
  `hits` of its images.

  A one-sided binomial test over the pool's images at the metric's chance
  rate. Images, not captions, are the trials: the captions of one image are
  not independent queries (a model can hit or miss them all together), so
  counting them would overstate the evidence.
  """
  from scipy import stats  # pylint: disable=import-outside-toplevel
  images = int(metrics['num_images'])
  if hits is None:
    hits = math.floor(metrics[metric] * images + 1e-9)
  chance = metrics[metric.replace('_recall@', '_chance@')]
  return float(stats.binomtest(hits, images, min(chance, 1.0),
                               alternative='greater').pvalue)
