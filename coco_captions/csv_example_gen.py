"""TFX's CsvExampleGen, reading a CSV that starts with a UTF-8 byte order mark.

Spreadsheet programs save CSV files with a byte order mark. TFX's executor
reads the header as text and keeps the mark in the first column's name
(`\\ufeffimage_id`), so the schema finds no `image_id`. This executor is TFX's
own with that one feature renamed.

It also runs the input checks (`preflight.data_errors`) where the task runs:
an Airflow DAG file or a compiled Kubeflow pipeline is built where the data
is not read.
"""

import os

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import component
from tfx.components.example_gen.csv_example_gen import executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs
from tfx.utils import io_utils

from coco_captions import preflight

_BOM = '\ufeff'


def _renamed(example: tf.train.Example, old: str, new: str) -> tf.train.Example:
  features = example.features.feature
  features[new].CopyFrom(features[old])
  del features[old]
  return example


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _CsvToExample(pipeline, exec_properties, split_pattern):  # pylint: disable=invalid-name
  """TFX's CSV reading, then the first column's name without the mark."""
  examples = pipeline | 'CsvToExample' >> executor._CsvToExample(  # pylint: disable=protected-access
      exec_properties, split_pattern)
  files = fileio.glob(os.path.join(
      exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern))
  first = io_utils.load_csv_column_names(files[0])[0] if files else ''
  if not first.startswith(_BOM):
    return examples
  return examples | 'WithoutByteOrderMark' >> beam.Map(
      _renamed, first, first.lstrip(_BOM))


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
  """TFX's CsvExampleGen with `Executor`; its id is still CsvExampleGen."""

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
