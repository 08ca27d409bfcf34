"""The one pipeline definition, shared by every orchestrator.

CsvExampleGen -> StatisticsGen -> ExampleValidator (against the imported,
curated schema) -> AnomaliesGate -> GroupCaptionsByImage (one example per
image; every image checked) -> Transform -> Trainer -> RetrievalEvaluator
(against the latest blessed model) -> Pusher (all or nothing).
"""

from typing import Any, Dict, List, Optional, Sequence

# The modules behind `tfx.v1`, not `tfx.v1` itself: importing `tfx.v1` also
# imports its Google Cloud extensions (google.cloud.aiplatform), a third of
# TFX's import time, which every run, cached or not, would pay for nothing.
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.schema_gen.import_schema_gen.component import (
    ImportSchemaGen)
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.trainer.component import Trainer
from tfx.components.transform.component import Transform
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel
from ml_metadata.proto import metadata_store_pb2

from coco_captions import features
from coco_captions.pipeline import configs, push
from coco_captions.pipeline.csv_example_gen import CsvExampleGen
from coco_captions.pipeline.evaluator import RetrievalEvaluator
from coco_captions.pipeline.grouping import (GroupCaptionsByImage,
                                             add_user_code, check_bad_images)
from coco_captions.pipeline.validation import AnomaliesGate


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    images_root: str,
    module_file: str,
    serving_model_dir: str,
    images_fingerprint: Optional[str] = None,
    data_fingerprint: Optional[str] = None,
    train_steps: Optional[int] = None,
    eval_steps: Optional[int] = None,
    metadata_connection_config: Optional[
        metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[Sequence[str]] = None,
    enable_cache: bool = True,
    image_config: Optional[Dict[str, Any]] = None,
    transform_config: Optional[Dict[str, Any]] = None,
    trainer_config: Optional[Dict[str, Any]] = None,
    blessing_metric: str = configs.BLESSING_METRIC,
    blessing_threshold: float = configs.BLESSING_THRESHOLD,
    blessing_significance: float = configs.BLESSING_SIGNIFICANCE,
    schema_file: str = configs.SCHEMA_FILE,
    bad_images: str = configs.BAD_IMAGES,
) -> Pipeline:
  """Builds the TFX pipeline from its arguments alone; touches no files.

  Args:
    pipeline_name: name recorded in ML Metadata.
    pipeline_root: where component outputs are written.
    data_root: directory of COCO captions CSV files (`*.csv` only is read).
    images_root: directory or URI that the CSV's `image_name` is relative to;
      anything TensorFlow reads (local path, `gs://...`).
    module_file: the TFX module file with `preprocessing_fn` and `run_fn`.
    serving_model_dir: where Pusher writes blessed models, one numbered
      version each, as TF Serving expects, each complete or absent
      (`push`).
    data_fingerprint: `up_to_date.data_fingerprint(data_root, ...)`, or None
      for remote data: CsvExampleGen's custom_config, so that TFX's cache
      notices a CSV file rewritten in place (its own fingerprint is sizes and
      modification times, which can be restored).
    images_fingerprint: `up_to_date.directory_fingerprint(images_root)`, or
      None for a remote root: a parameter of GroupCaptionsByImage, which
      reads the images, so that replacing one in place invalidates its
      cache.
    train_steps: an exact number of training steps instead of the module
      file's `train_epochs`.
    eval_steps: at most this many eval batches for the eval loss (default:
      the whole eval split).
    metadata_connection_config: ML Metadata store; None lets the orchestrator
      supply its own (Kubeflow, Airflow).
    beam_pipeline_args: Beam options, passed unchanged to every component's
      Beam pipeline.
    enable_cache: reuse results of executions whose inputs are unchanged.
    The three configs carry the module file's hyper-parameters that were
    set, each to the step the module file's table (coco_captions_hparams)
    says reads it; unset ones take the module file's defaults (`DEFAULTS`).
    image_config: `image_encoder` and `image_size`, the stored images':
      GroupCaptionsByImage decodes them at that size (the encoder's unless
      set), and the Trainer builds the model for them.
    transform_config: `preprocessing_fn`'s custom_config
      (`max_caption_tokens`).
    trainer_config: `run_fn`'s custom_config (`train_epochs`, `batch_size`,
      `seed`, ...); what it gives for `image_encoder` or `image_size` wins
      over image_config's.
    blessing_metric: the evaluation metric that decides blessing, e.g.
      `text_to_image_recall@5`.
    blessing_threshold: the lowest value of `blessing_metric` to bless.
    blessing_significance: the largest p-value of `blessing_metric` against
      its chance rate on the eval pool that blesses (1: no such test).
    schema_file: the curated schema (schema.pbtxt) the data must match; any
      anomaly stops the run before Transform.
    bad_images: what to do with rows whose image is missing, empty, not a
      file, too large, undecodable or outside `images_root`, all found
      before Transform: 'fail' stops the run naming them; 'drop' leaves those
      rows out and counts them (the listing in
      PIPELINE_ROOT/GroupCaptionsByImage/bad_images/ and the
      `SPLIT_dropped_rows` properties).

  Returns:
    The TFX `Pipeline` (`tfx.v1.dsl.Pipeline`).
  """
  # Before anything is built, where the caller can see it.
  check_bad_images(bad_images)
  example_gen = CsvExampleGen(
      input_base=data_root,
      input_config=example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name='single_split', pattern=configs.CSV_PATTERN)
      ]),
      output_config=example_gen_pb2.Output(
          split_config=example_gen_pb2.SplitConfig(
              splits=[
                  example_gen_pb2.SplitConfig.Split(
                      name='train', hash_buckets=configs.TRAIN_HASH_BUCKETS),
                  example_gen_pb2.SplitConfig.Split(
                      name='eval', hash_buckets=configs.EVAL_HASH_BUCKETS),
              ],
              partition_feature_name=configs.SPLIT_PARTITION_FEATURE)),
      data_fingerprint=data_fingerprint)

  statistics_gen = StatisticsGen(
      examples=example_gen.outputs['examples'])

  # A curated schema, not one inferred from the data at hand: inferred, any
  # change in the data would simply become the new schema.
  schema_gen = ImportSchemaGen(schema_file=schema_file)

  example_validator = ExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_gen.outputs['schema'])

  anomalies_gate = AnomaliesGate(
      anomalies=example_validator.outputs['anomalies'])

  image_config = _set(image_config)

  # The caption rows passed the schema; from here on, one example per image,
  # each image read, checked and decoded once.
  group_by_image = GroupCaptionsByImage(
      examples=example_gen.outputs['examples'],
      images_root=images_root,
      module_file=module_file,
      image_size=int(image_config.get('image_size') or 0),
      image_encoder=image_config.get('image_encoder') or '',
      bad_images=bad_images,
      images_fingerprint=images_fingerprint or '',
      # The feature names live outside the user-code wheel TFX fingerprints:
      # their digest in the exec properties re-runs the components that use
      # them (also Transform and the Trainer, in their custom_config).
      features_digest=features.DIGEST)
  group_by_image.add_upstream_node(anomalies_gate)
  # Its images are decoded with the module file's functions: TFX ships them
  # in a user-code wheel, as it does Transform's and the Trainer's.
  add_user_code(group_by_image)

  transform = Transform(
      examples=group_by_image.outputs['image_examples'],
      schema=group_by_image.outputs['image_schema'],
      module_file=module_file,
      # Nothing reads Transform's own statistics: the raw data has
      # StatisticsGen's, and on the transformed data they would be one more
      # pass over every row (a 12 KiB pixel string each), a cost that grows
      # with the data.
      disable_statistics=True,
      # The analyzer cache only pays off when a later run analyses new spans
      # with this run's cache wired in; this pipeline reads one span, so the
      # cache would be written on every run and never read.
      disable_analyzer_cache=True,
      custom_config={**_set(transform_config),
                     features.DIGEST_KEY: features.DIGEST})

  trainer = Trainer(
      module_file=module_file,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=group_by_image.outputs['image_schema'],
      train_args=trainer_pb2.TrainArgs(num_steps=train_steps or None),
      eval_args=trainer_pb2.EvalArgs(num_steps=eval_steps or None),
      custom_config=_set({
          # The model's input is the images as stored.
          **image_config,
          **(trainer_config or {}),
          features.DIGEST_KEY: features.DIGEST,
      }))

  # The latest blessed model, the baseline a new model must not fall below.
  model_resolver = Resolver(
      strategy_class=LatestBlessedModelStrategy,
      model=Channel(type=standard_artifacts.Model),
      model_blessing=Channel(
          type=standard_artifacts.ModelBlessing),
  ).with_id('latest_blessed_model_resolver')

  evaluator = RetrievalEvaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=model_resolver.outputs['model'],
      images_root=images_root,
      threshold=blessing_threshold,
      metric=blessing_metric,
      significance=blessing_significance,
      max_images=configs.RETRIEVAL_MAX_IMAGES,
      serving_model_dir=serving_model_dir)

  # All or nothing: a push that fails leaves no version behind.
  pusher = push.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(
              base_directory=serving_model_dir)))

  nodes: List[Any] = [
      example_gen, statistics_gen, schema_gen, example_validator,
      anomalies_gate, group_by_image, transform, trainer, model_resolver,
      evaluator, pusher
  ]
  return Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=nodes,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(beam_pipeline_args or []),
  )


def _set(settings: Optional[Dict[str, Any]]) -> Dict[str, Any]:
  """The settings a caller gave a value; the module file defaults the rest."""
  return {k: v for k, v in (settings or {}).items() if v is not None}
