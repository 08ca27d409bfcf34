"""Recall@K in both directions and its chance rates, on hand-built embeddings."""

import numpy as np
import pytest

from coco_captions.pipeline import retrieval


def _unit(*rows):
  rows = np.array(rows, dtype=float)
  return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# Three images along the axes; four captions, two of them of image 10.
IMAGES = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
IMAGE_IDS = [10, 20, 30]
CAPTIONS = _unit(
    [1, 0.1, 0],    # of 10: ranks image 10 first
    [0.2, 1, 0],    # of 10: ranks 20 first, 10 second
    [0, 1, 0.5],    # of 20: first
    [1, 0, 0.9],    # of 30: ranks 10 first, 30 second
)
CAPTION_IMAGE_IDS = [10, 10, 20, 30]


@pytest.fixture
def metrics():
  return retrieval.retrieval_metrics(CAPTIONS, CAPTION_IMAGE_IDS, IMAGES,
                                     IMAGE_IDS, ks=(1, 2))


def test_text_to_image_recall(metrics):
  assert metrics['text_to_image_recall@1'] == pytest.approx(2 / 4)
  assert metrics['text_to_image_recall@2'] == 1.0
  assert metrics['text_to_image_chance@1'] == pytest.approx(1 / 3)
  assert metrics['text_to_image_chance@2'] == pytest.approx(2 / 3)


def test_image_to_text_recall_counts_any_own_caption(metrics):
  # Image 10: its best caption (0) is first. Image 20: caption 1 (of 10)
  # scores 0.98 against caption 2's 0.89, so rank 2. Image 30: caption 3 first.
  assert metrics['image_to_text_recall@1'] == pytest.approx(2 / 3)
  assert metrics['image_to_text_recall@2'] == 1.0


def test_image_to_text_chance_is_exact(metrics):
  # 4 captions; image 10 owns 2, the others 1. P(hit in a random top-k):
  # k=1: 2/4, 1/4, 1/4; k=2: 1-(2/4)(1/3)=5/6, 1-(3/4)(2/3)=1/2, 1/2.
  assert metrics['image_to_text_chance@1'] == pytest.approx((0.5 + 0.25 + 0.25) / 3)
  assert metrics['image_to_text_chance@2'] == pytest.approx((5 / 6 + 0.5 + 0.5) / 3)


def test_pool_sizes_are_reported(metrics):
  assert metrics['num_images'] == 3 and metrics['num_captions'] == 4


def test_k_beyond_the_pool_is_certain():
  m = retrieval.retrieval_metrics(CAPTIONS, CAPTION_IMAGE_IDS, IMAGES,
                                  IMAGE_IDS, ks=(10,))
  assert m['text_to_image_recall@10'] == m['text_to_image_chance@10'] == 1.0
  assert m['image_to_text_chance@10'] == pytest.approx(1.0)


def test_captions_of_images_outside_the_pool_are_rejected():
  with pytest.raises(ValueError, match='outside the pool'):
    retrieval.retrieval_metrics(CAPTIONS, [10, 10, 20, 99], IMAGES, IMAGE_IDS)
  with pytest.raises(ValueError, match='distinct'):
    retrieval.retrieval_metrics(CAPTIONS, CAPTION_IMAGE_IDS, IMAGES, [10, 10, 30])


def test_chance_p_value_is_a_binomial_tail_over_the_images():
  # 4 images, R@1 at chance 1/4: P(at least 1 of 4 hits) = 1 - (3/4)**4.
  metrics = {'num_images': 4, 'text_to_image_recall@1': 0.25,
             'text_to_image_chance@1': 0.25}
  assert retrieval.chance_p_value(metrics, 'text_to_image_recall@1') == (
      pytest.approx(1 - 0.75 ** 4))
  # All 4 hit: (1/4)**4. A recall over captions counts whole images only.
  assert retrieval.chance_p_value(
      metrics, 'text_to_image_recall@1', hits=4) == pytest.approx(0.25 ** 4)
  assert retrieval.chance_p_value(
      {**metrics, 'text_to_image_recall@1': 0.49},
      'text_to_image_recall@1') == pytest.approx(1 - 0.75 ** 4)
  # Chance 1 (K at least the pool): nothing can beat it.
  assert retrieval.chance_p_value(
      {'num_images': 4, 'image_to_text_recall@5': 1.0,
       'image_to_text_chance@5': 1.0}, 'image_to_text_recall@5') == 1.0
