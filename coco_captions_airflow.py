"""The COCO captions pipeline as an Airflow 2 DAG (TFX's AirflowDagRunner).

Copy or link this file into Airflow's DAGs folder, or let TFX's CLI install
it: `tfx pipeline create --engine=airflow --pipeline_path=coco_captions_airflow.py`.
It imports the `coco_captions` package installed in Airflow's environment
(`uv pip install -e .[airflow]`), never the folder it sits in.
Airflow imports it and finds the module-level `DAG`: one task per TFX
component, wired as the pipeline is. Everything else lives in
`create_pipeline()`, shared with every orchestrator.

An Airflow DAG file takes no command-line flags, so it reads its settings from
environment variables of the scheduler and workers: every flag of
coco_captions_local.py as COCO_CAPTIONS_<FLAG IN CAPITALS>, with the defaults
its --help gives but the DAG's own pipeline name (the DAG id) and root (see
`_OPTIONS` in coco_captions/run/settings.py), e.g.

  COCO_CAPTIONS_DATA_ROOT       CSV directory
  COCO_CAPTIONS_IMAGES_ROOT     images directory or URI
  COCO_CAPTIONS_PIPELINE_ROOT   artifacts, ML Metadata, pushed models
  COCO_CAPTIONS_PIPELINE_NAME   DAG id and MLMD pipeline name
  COCO_CAPTIONS_TRAIN_STEPS     exact training steps instead of epochs
  COCO_CAPTIONS_BEAM_ARGS       Beam options, one shell-quoted string, handed
                                unchanged to every component's Beam pipeline,
                                e.g. "--runner=DataflowRunner --project=p ..."

A bad value or an unknown COCO_CAPTIONS_ variable is an import error of this
file that names it; bad input data fails the first task, CsvExampleGen, with
one line per problem. The DAG has no schedule; trigger runs from
the UI or `airflow dags trigger`.
"""

import datetime

from tfx.orchestration.airflow import airflow_dag_runner

from coco_captions.run import airflow_launcher, session, settings


def create_dag():
  """Returns the Airflow DAG for the settings in the environment.

  Airflow parses this file every 30 s or so, so the parse reads no data:
  the input checks run in CsvExampleGen's task, the images' fingerprint is
  taken in GroupCaptionsByImage's (coco_captions/run/airflow_launcher.py).
  """
  found = settings.from_environment('airflow')
  return airflow_dag_runner.AirflowDagRunner(
      airflow_dag_runner.AirflowPipelineConfig(
          airflow_dag_config={
              'schedule': None,
              'start_date': datetime.datetime(2024, 1, 1),
              'catchup': False,
          },
          # TFX's launcher fails re-runs whose model is also the baseline.
          supported_launcher_classes=[
              airflow_launcher.InProcessComponentLauncher])).run(
                  session.pipeline_for(found))


DAG = create_dag()
