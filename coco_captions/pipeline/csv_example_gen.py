"""TFX's CsvExampleGen, reading a header as CSV: with a UTF-8 byte order mark
or quoted names.

Spreadsheet programs save CSV files with a byte order mark, and many quote
every name. TFX's executor splits the header on commas and keeps both in the
column names (`\\ufeffimage_id`, `"image_id"`), so the schema finds no
`image_id`. This executor is TFX's own with those features renamed.

It also runs the input checks (`preflight.data_errors`) where the task runs:
an Airflow DAG file or a compiled Kubeflow pipeline is built where the data
is not read.
"""

import csv
import os
from typing import Dict, Optional

import apache_beam as beam
from google.protobuf import wrappers_pb2
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import component
from tfx.components.example_gen.csv_example_gen import executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs

from coco_captions.run import preflight

_BOM = '\ufeff'


def _renamed(example: tf.train.Example,
             renames: Dict[str, str]) -> tf.train.Example:
  features = example.features.feature
  for old, new in renames.items():
    features[new].CopyFrom(features[old])
    del features[old]
  return example


def column_renames(header_line: str) -> Dict[str, str]:
  """TFX's column names (the header split on commas) -> the header's own
  (its byte order mark and quotes taken off), where they differ."""
  line = header_line.strip()
  split = line.split(',')
  parsed = next(csv.reader([line.lstrip(_BOM)]), [])
  if len(parsed) != len(split):  # A quoted name with a comma (preflight).
    return {}
  return {old: new.strip() for old, new in zip(split, parsed)
          if old != new.strip()}


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CsvToExample(pipeline, exec_properties, split_pattern):  # pylint: disable=invalid-name
  """TFX's CSV reading, then the columns under the header's own names."""
  examples = pipeline | 'CsvToExample' >> executor._CsvToExample(  # pylint: disable=protected-access
      exec_properties, split_pattern)
  files = fileio.glob(os.path.join(
      exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern))
  renames = {}
  if files:
    with fileio.open(files[0]) as f:
      renames = column_renames(f.readline())
  if not renames:
    return examples
  return examples | 'HeaderNames' >> beam.Map(_renamed, renames)


def data_fingerprint_config(fingerprint: str) -> example_gen_pb2.CustomConfig:
  """CsvExampleGen's custom_config holding `fingerprint`, which the executor
  ignores: TFX's cache compares it, so that a CSV file rewritten with its
  size and modification time restored (all TFX fingerprints) is read again
  (up_to_date.data_fingerprint)."""
  config = example_gen_pb2.CustomConfig()
  config.custom_config.Pack(wrappers_pb2.StringValue(value=fingerprint))
  return config


class Executor(executor.Executor):
  """CsvExampleGen's executor, tolerant of a UTF-8 byte order mark, that
  checks the CSV files first."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _CsvToExample

  def Do(self, input_dict, output_dict, exec_properties):
    problems = preflight.data_errors(
        exec_properties[standard_component_specs.INPUT_BASE_KEY])
    if problems:
      raise preflight.PreflightError('\n'.join(problems))
    super().Do(input_dict, output_dict, exec_properties)


class CsvExampleGen(component.CsvExampleGen):
  """TFX's CsvExampleGen with `Executor`; its id is still CsvExampleGen.

  `data_fingerprint` (up_to_date.data_fingerprint) goes into its
  custom_config (`data_fingerprint_config`), which TFX's own CsvExampleGen
  does not take.
  """

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, input_base: str,
               input_config: Optional[example_gen_pb2.Input] = None,
               output_config: Optional[example_gen_pb2.Output] = None,
               data_fingerprint: Optional[str] = None):
    # FileBasedExampleGen's constructor: TFX's CsvExampleGen only adds its
    # executor spec, which this class sets, and drops custom_config.
    super(component.CsvExampleGen, self).__init__(  # pylint: disable=bad-super-call
        input_base=input_base, input_config=input_config,
        output_config=output_config,
        custom_config=(data_fingerprint_config(data_fingerprint)
                       if data_fingerprint else None))
