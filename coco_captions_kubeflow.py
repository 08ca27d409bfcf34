"""Compiles the COCO captions pipeline for Kubeflow Pipelines v2 (Vertex AI).

  python coco_captions_kubeflow.py --pipeline_root gs://bucket/pipelines \\
      --data_root gs://bucket/coco_csv --images_root gs://bucket/train2014 \\
      --image gcr.io/project/coco-captions:1 --output_file coco_captions.json \\
      --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://bucket/tmp

Writes a pipeline JSON for KFP v2 that runs every component in the given
container image (built from the Dockerfile beside this file). Flags this
script does not know are Beam pipeline options, passed to every component
unchanged, as with coco_captions_local.py. Nothing runs here: submit the JSON
with the KFP client or Vertex AI Pipelines, or let TFX's CLI do it:
`tfx pipeline create --engine=vertex --pipeline_path=coco_captions_kubeflow.py`
with the settings as COCO_CAPTIONS_* environment variables.
"""

import os
import sys
from typing import Optional, Sequence

from coco_captions import preflight, session, settings


def compile_pipeline(argv: Optional[Sequence[str]] = None) -> str:
  """Compiles the pipeline; returns the path of the pipeline JSON."""
  found = settings.from_flags(argv, 'kubeflow', description=__doc__)
  problems = preflight.errors(found)
  if problems:
    sys.exit('\n'.join(f'error: {problem}' for problem in problems))
  from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_v2
  output_dir, output_filename = os.path.split(found.output_file)
  runner = kfp_v2.KubeflowV2DagRunner(
      config=kfp_v2.KubeflowV2DagRunnerConfig(default_image=found.image),
      output_dir=output_dir, output_filename=output_filename)
  # The images are in the cluster, not here: nothing to fingerprint.
  runner.run(session.create_pipeline(found, images_fingerprint=None))
  return found.output_file


if __name__ == '__main__':
  written = compile_pipeline()
  if not session.handed_to_tfx_cli('kubeflow'):
    print(f'Wrote {written}')
