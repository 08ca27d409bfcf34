"""The one pipeline definition, shared by every orchestrator.

CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform
-> Trainer.
"""

from typing import Any, Dict, List, Optional, Sequence

from tfx import v1 as tfx
from ml_metadata.proto import metadata_store_pb2

from coco_captions import configs


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    images_root: str,
    module_file: str,
    train_steps: int = configs.TRAIN_STEPS,
    eval_steps: int = configs.EVAL_STEPS,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
    transform_config: Optional[Dict[str, Any]] = None,
    trainer_config: Optional[Dict[str, Any]] = None,
) -> tfx.dsl.Pipeline:
  """Builds the TFX pipeline.

  Args:
    pipeline_name: name recorded in ML Metadata.
    pipeline_root: where component outputs are written.
    data_root: directory of COCO captions CSV files (`*.csv` only is read).
    images_root: directory or URI that the CSV's `image_name` is relative to;
      anything TensorFlow reads (local path, `gs://...`).
    module_file: the TFX module file with `preprocessing_fn` and `run_fn`.
    train_steps, eval_steps: Trainer steps.
    metadata_connection_config: ML Metadata store; None lets the orchestrator
      supply its own (Kubeflow, Airflow).
    beam_pipeline_args: Beam options, passed unchanged to every component's
      Beam pipeline.
    enable_cache: reuse results of executions whose inputs are unchanged.
    transform_config: extra `preprocessing_fn` settings (`image_size`,
      `max_caption_tokens`).
    trainer_config: `run_fn` hyper-parameters (`batch_size`, `embedding_dim`,
      `learning_rate`, `retrieval_max_images`).

  Returns:
    The `tfx.dsl.Pipeline`.
  """
  example_gen = tfx.components.CsvExampleGen(
      input_base=data_root,
      input_config=tfx.proto.Input(splits=[
          tfx.proto.Input.Split(name='single_split', pattern=configs.CSV_PATTERN)
      ]),
      output_config=tfx.proto.Output(
          split_config=tfx.proto.SplitConfig(
              splits=[
                  tfx.proto.SplitConfig.Split(
                      name='train', hash_buckets=configs.TRAIN_HASH_BUCKETS),
                  tfx.proto.SplitConfig.Split(
                      name='eval', hash_buckets=configs.EVAL_HASH_BUCKETS),
              ],
              partition_feature_name=configs.SPLIT_PARTITION_FEATURE)))

  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs['examples'])

  schema_gen = tfx.components.SchemaGen(
      statistics=statistics_gen.outputs['statistics'], infer_feature_shape=True)

  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema'])

  transform = tfx.components.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      module_file=module_file,
      custom_config={
          'images_root': images_root,
          'image_size': configs.IMAGE_SIZE,
          'max_caption_tokens': configs.MAX_CAPTION_TOKENS,
          **(transform_config or {}),
      })

  trainer = tfx.components.Trainer(
      module_file=module_file,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_gen.outputs['schema'],
      train_args=tfx.proto.TrainArgs(num_steps=train_steps),
      eval_args=tfx.proto.EvalArgs(num_steps=eval_steps),
      custom_config={
          'batch_size': configs.BATCH_SIZE,
          'embedding_dim': configs.EMBEDDING_DIM,
          'learning_rate': configs.LEARNING_RATE,
          'retrieval_max_images': configs.RETRIEVAL_MAX_IMAGES,
          **(trainer_config or {}),
      })

  components: List[Any] = [
      example_gen, statistics_gen, schema_gen, example_validator, transform,
      trainer
  ]
  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=components,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(beam_pipeline_args or []),
  )
