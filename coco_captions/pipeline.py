"""The one pipeline definition, shared by every orchestrator.

CsvExampleGen -> StatisticsGen -> ExampleValidator (against the imported,
curated schema) -> AnomaliesGate -> Transform -> Trainer -> RetrievalEvaluator
(against the latest blessed model) -> Pusher.
"""

from typing import Any, Dict, List, Optional, Sequence

from tfx import v1 as tfx
from ml_metadata.proto import metadata_store_pb2

from coco_captions import configs
from coco_captions.evaluator import RetrievalEvaluator
from coco_captions.validation import AnomaliesGate


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    images_root: str,
    module_file: str,
    serving_model_dir: str,
    train_steps: int = configs.TRAIN_STEPS,
    eval_steps: int = configs.EVAL_STEPS,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
    transform_config: Optional[Dict[str, Any]] = None,
    trainer_config: Optional[Dict[str, Any]] = None,
    blessing_metric: str = configs.BLESSING_METRIC,
    blessing_threshold: float = configs.BLESSING_THRESHOLD,
    schema_file: str = configs.SCHEMA_FILE,
) -> tfx.dsl.Pipeline:
  """Builds the TFX pipeline.

  Args:
    pipeline_name: name recorded in ML Metadata.
    pipeline_root: where component outputs are written.
    data_root: directory of COCO captions CSV files (`*.csv` only is read).
    images_root: directory or URI that the CSV's `image_name` is relative to;
      anything TensorFlow reads (local path, `gs://...`).
    module_file: the TFX module file with `preprocessing_fn` and `run_fn`.
    serving_model_dir: where Pusher writes blessed models, one numbered
      version each, as TF Serving expects.
    train_steps, eval_steps: Trainer steps.
    metadata_connection_config: ML Metadata store; None lets the orchestrator
      supply its own (Kubeflow, Airflow).
    beam_pipeline_args: Beam options, passed unchanged to every component's
      Beam pipeline.
    enable_cache: reuse results of executions whose inputs are unchanged.
    transform_config: extra `preprocessing_fn` settings (`image_size`,
      `max_caption_tokens`).
    trainer_config: `run_fn` hyper-parameters (`batch_size`, `embedding_dim`,
      `learning_rate`, `retrieval_max_images`, `seed`).
    blessing_metric: the evaluation metric that decides blessing, e.g.
      `text_to_image_recall@5`.
    blessing_threshold: the lowest value of `blessing_metric` to bless.
    schema_file: the curated schema (schema.pbtxt) the data must match; any
      anomaly stops the run before Transform.

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

  # A curated schema, not one inferred from the data at hand: inferred, any
  # change in the data would simply become the new schema.
  schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_file)

  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema'])

  anomalies_gate = AnomaliesGate(
      anomalies=example_validator.outputs['anomalies'])

  transform = tfx.components.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_gen.outputs['schema'],
      module_file=module_file,
      # Nothing reads Transform's own statistics: the raw data has
      # StatisticsGen's, and on the transformed data they would summarise
      # 12288 pixel floats per caption, a cost that grows with the data.
      disable_statistics=True,
      # The analyzer cache only pays off when a later run analyses new spans
      # with this run's cache wired in; this pipeline reads one span, so the
      # cache would be written on every run and never read.
      disable_analyzer_cache=True,
      custom_config={
          'images_root': images_root,
          'image_size': configs.IMAGE_SIZE,
          'max_caption_tokens': configs.MAX_CAPTION_TOKENS,
          **(transform_config or {}),
      })
  transform.add_upstream_node(anomalies_gate)

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
          'seed': configs.SEED,
          **(trainer_config or {}),
      })

  # The latest blessed model, the baseline a new model must not fall below.
  model_resolver = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(
          type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id('latest_blessed_model_resolver')

  evaluator = RetrievalEvaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=model_resolver.outputs['model'],
      images_root=images_root,
      threshold=blessing_threshold,
      metric=blessing_metric,
      max_images=configs.RETRIEVAL_MAX_IMAGES)

  pusher = tfx.components.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=serving_model_dir)))

  components: List[Any] = [
      example_gen, statistics_gen, schema_gen, example_validator,
      anomalies_gate, transform, trainer, model_resolver, evaluator, pusher
  ]
  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=components,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(beam_pipeline_args or []),
  )
