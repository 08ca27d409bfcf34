"""Reading what the pipeline's components wrote, for components and reports.

Local paths and anything TensorFlow's file system reads (gs://...).
"""

import json
import os
from typing import Any, Dict, List, Optional

# What run_fn (coco_captions_utils.py) writes beside its TensorBoard logs.
TRAINING_FILE = 'training.json'


def _gfile():
  import tensorflow as tf  # Only for artifact URIs such as gs://.
  return tf.io.gfile


def bad_images_dir(image_examples_uri: str) -> str:
  """Where GroupCaptionsByImage lists an execution's bad images: beside its
  output artifact, not in it, because TFX deletes a failed execution's
  outputs, and a failed run is when the listing is needed:
  PIPELINE_ROOT/GroupCaptionsByImage/bad_images/<execution id>/SPLIT.jsonl."""
  outputs, execution = os.path.split(image_examples_uri.rstrip('/'))
  return os.path.join(os.path.dirname(outputs), 'bad_images', execution)


def split_dirs(uri: Optional[str]) -> Dict[str, str]:
  """Split name -> directory of an artifact with Split-* subdirectories."""
  if not uri:
    return {}
  if '://' in uri:
    names = [n.rstrip('/') for n in _gfile().listdir(uri)]
  elif os.path.isdir(uri):
    names = os.listdir(uri)
  else:
    return {}
  return {
      name[len('Split-'):]: os.path.join(uri, name)
      for name in sorted(names) if name.startswith('Split-')
  }


def read_bytes(path: str) -> bytes:
  if '://' in path:
    with _gfile().GFile(path, 'rb') as f:
      return f.read()
  with open(path, 'rb') as f:
    return f.read()


def statistics(statistics_uri: Optional[str]) -> Dict[str, Any]:
  """Split -> DatasetFeatureStatisticsList, from StatisticsGen's output."""
  from tensorflow_metadata.proto.v0 import statistics_pb2
  found = {}
  for split, path in split_dirs(statistics_uri).items():
    found[split] = statistics_pb2.DatasetFeatureStatisticsList.FromString(
        read_bytes(os.path.join(path, 'FeatureStats.pb')))
  return found


def example_count(split_statistics) -> int:
  """Examples (captions) one split's statistics describe."""
  return sum(d.num_examples for d in split_statistics.datasets)


def anomalies(anomalies_uri: Optional[str]) -> Dict[str, List[str]]:
  """Split -> 'feature: description' for each anomaly ExampleValidator found."""
  from tensorflow_metadata.proto.v0 import anomalies_pb2
  found = {}
  for split, path in split_dirs(anomalies_uri).items():
    result = anomalies_pb2.Anomalies.FromString(
        read_bytes(os.path.join(path, 'SchemaDiff.pb')))
    found[split] = [
        f'{feature}: {info.description or info.short_description}'
        for feature, info in sorted(result.anomaly_info.items())
    ]
    if result.HasField('dataset_anomaly_info'):
      found[split].append(
          f'dataset: {result.dataset_anomaly_info.description}')
  return found


def training(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
  """The Trainer's plan and losses, or None where it wrote none."""
  if not model_run_uri:
    return None
  path = os.path.join(model_run_uri, TRAINING_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)
