"""AnomaliesGate: stops a run whose data does not match the schema.

ExampleValidator records anomalies but lets the pipeline go on. This custom
component reads its output and fails when any split has an anomaly. Transform
depends on it, so Transform and Trainer never see data that breaks the schema.
The failure message lists the anomalies in plain words.
"""

from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from coco_captions import artifacts


class DataAnomaliesError(RuntimeError):
  """The data has schema anomalies; the message lists them."""


def describe(found) -> str:
  """'split: feature: description' lines, one per anomaly."""
  return '\n'.join(f'{split}: {anomaly}'
                   for split, anomalies in found.items() for anomaly in anomalies)


@component
def AnomaliesGate(  # pylint: disable=invalid-name
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies]):
  """Raises DataAnomaliesError if `anomalies` (ExampleValidator's) has any."""
  found = artifacts.anomalies(anomalies.uri)
  if any(found.values()):
    raise DataAnomaliesError(
        'The data does not match the schema:\n' + describe(found))
