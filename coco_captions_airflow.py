"""The COCO captions pipeline as an Airflow 2 DAG (TFX's AirflowDagRunner).

Copy or link this file into Airflow's DAGs folder. Airflow imports it and finds
the module-level `DAG`: one task per TFX component, wired as the pipeline is.
Everything else lives in `create_pipeline()`, shared with every orchestrator.

An Airflow DAG file takes no command-line flags, so it reads its settings from
environment variables of the scheduler and workers (defaults in brackets):

  COCO_CAPTIONS_DATA_ROOT       CSV directory [the bundled synthetic data]
  COCO_CAPTIONS_IMAGES_ROOT     images directory or URI [DATA_ROOT/images]
  COCO_CAPTIONS_PIPELINE_ROOT   artifacts [~/coco_captions_airflow/<name>]
  COCO_CAPTIONS_METADATA_PATH   ML Metadata SQLite file
                                [PIPELINE_ROOT/metadata.sqlite]
  COCO_CAPTIONS_SERVING_DIR     pushed models [PIPELINE_ROOT/serving_model]
  COCO_CAPTIONS_PIPELINE_NAME   DAG id and MLMD pipeline name
                                [coco_captions_airflow]
  COCO_CAPTIONS_TRAIN_EPOCHS    [the module file's]
  COCO_CAPTIONS_TRAIN_STEPS     exact training steps instead of epochs
  COCO_CAPTIONS_EVAL_STEPS      eval batches for the eval loss [all]
  COCO_CAPTIONS_BLESSING_THRESHOLD  [configs.BLESSING_THRESHOLD]
  COCO_CAPTIONS_BEAM_ARGS       Beam options, one shell-quoted string, handed
                                unchanged to every component's Beam pipeline,
                                e.g. "--runner=DataflowRunner --project=p ..."

The DAG has no schedule; trigger runs from the UI or `airflow dags trigger`.
"""

import datetime
import os
import shlex
import sys

# Airflow imports DAG files by path; make the package beside it importable.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)

from tfx.orchestration import metadata  # pylint: disable=g-import-not-at-top
from tfx.orchestration.airflow import airflow_dag_runner  # pylint: disable=g-import-not-at-top

from coco_captions import airflow_launcher  # pylint: disable=g-import-not-at-top
from coco_captions import configs  # pylint: disable=g-import-not-at-top
from coco_captions import pipeline  # pylint: disable=g-import-not-at-top

_PREFIX = 'COCO_CAPTIONS_'


def _setting(name: str, default: str) -> str:
  return os.environ.get(_PREFIX + name) or default


def _int_setting(name: str):
  value = _setting(name, '')
  return int(value) if value else None


def create_dag():
  """Returns the Airflow DAG for the settings in the environment."""
  pipeline_name = _setting('PIPELINE_NAME', configs.PIPELINE_NAME + '_airflow')
  pipeline_root = _setting(
      'PIPELINE_ROOT',
      os.path.join(os.path.expanduser('~'), 'coco_captions_airflow',
                   pipeline_name))
  data_root = _setting('DATA_ROOT', configs.DATA_ROOT)
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      data_root=data_root,
      images_root=_setting('IMAGES_ROOT', os.path.join(data_root, 'images')),
      module_file=configs.MODULE_FILE,
      serving_model_dir=_setting(
          'SERVING_DIR', os.path.join(pipeline_root, configs.SERVING_SUBDIR)),
      train_epochs=_int_setting('TRAIN_EPOCHS'),
      train_steps=_int_setting('TRAIN_STEPS'),
      eval_steps=_int_setting('EVAL_STEPS'),
      blessing_threshold=float(_setting('BLESSING_THRESHOLD',
                                        str(configs.BLESSING_THRESHOLD))),
      metadata_connection_config=metadata.sqlite_metadata_connection_config(
          _setting('METADATA_PATH',
                   os.path.join(pipeline_root, configs.METADATA_FILENAME))),
      beam_pipeline_args=shlex.split(_setting('BEAM_ARGS', '')))
  dag_config = {
      'schedule': None,
      'start_date': datetime.datetime(2024, 1, 1),
      'catchup': False,
  }
  return airflow_dag_runner.AirflowDagRunner(
      airflow_dag_runner.AirflowPipelineConfig(
          airflow_dag_config=dag_config,
          # TFX's launcher fails re-runs whose model is also the baseline.
          supported_launcher_classes=[
              airflow_launcher.InProcessComponentLauncher])).run(tfx_pipeline)


DAG = create_dag()
