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
with the KFP client or Vertex AI Pipelines.
"""

import argparse
import os
import sys
from typing import List, Optional, Sequence, Tuple

from coco_captions import configs

DEFAULT_IMAGE = 'coco-captions-tfx:latest'
# KFP v2 names allow only [a-z0-9-].
DEFAULT_PIPELINE_NAME = configs.PIPELINE_NAME.replace('_', '-')


def parse_args(
    argv: Optional[Sequence[str]] = None
) -> Tuple[argparse.Namespace, List[str]]:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  parser.add_argument('--pipeline_root', required=True,
                      help='Artifact root every pod can reach, e.g. gs://...')
  parser.add_argument('--data_root', required=True,
                      help='Directory of COCO captions CSV files.')
  parser.add_argument('--images_root', required=True,
                      help='Where image_name is found (gs://... or a mount).')
  parser.add_argument('--serving_model_dir', default=None,
                      help=f'Default: PIPELINE_ROOT/{configs.SERVING_SUBDIR}')
  parser.add_argument('--image', default=DEFAULT_IMAGE,
                      help='Container image with this project installed '
                      '(see Dockerfile). Default: %(default)s')
  parser.add_argument('--module_file', default=configs.MODULE_FILE,
                      help='The module file here: compiling packages it into '
                      'a wheel under PIPELINE_ROOT/_wheels that the pods '
                      'install. Default: %(default)s')
  parser.add_argument('--schema_file', default='/pipeline/schema/schema.pbtxt',
                      help='Schema path inside the image. Default: %(default)s')
  parser.add_argument('--pipeline_name', default=DEFAULT_PIPELINE_NAME,
                      help='Lower-case letters, digits and dashes. '
                      'Default: %(default)s')
  parser.add_argument('--train_epochs', type=int, default=None,
                      help="Default: the module file's")
  parser.add_argument('--train_steps', type=int, default=None,
                      help='An exact number of steps instead of epochs.')
  parser.add_argument('--eval_steps', type=int, default=None,
                      help='Default: the whole eval split')
  parser.add_argument('--blessing_threshold', type=float,
                      default=configs.BLESSING_THRESHOLD)
  parser.add_argument('--output_file', default='coco_captions_pipeline.json',
                      help='Where the compiled pipeline JSON is written.')
  return parser.parse_known_args(argv)


def compile_pipeline(argv: Optional[Sequence[str]] = None) -> str:
  """Compiles the pipeline; returns the path of the pipeline JSON."""
  args, beam_args = parse_args(argv)
  from tfx import v1 as tfx
  from coco_captions import pipeline

  serving_model_dir = args.serving_model_dir or os.path.join(
      args.pipeline_root, configs.SERVING_SUBDIR)
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name=args.pipeline_name,
      pipeline_root=args.pipeline_root,
      data_root=args.data_root,
      images_root=args.images_root,
      module_file=args.module_file,
      serving_model_dir=serving_model_dir,
      train_epochs=args.train_epochs,
      train_steps=args.train_steps,
      eval_steps=args.eval_steps,
      # Kubeflow supplies the metadata store.
      metadata_connection_config=None,
      beam_pipeline_args=beam_args,
      blessing_threshold=args.blessing_threshold,
      schema_file=args.schema_file)
  output_dir, output_filename = os.path.split(os.path.abspath(args.output_file))
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=args.image),
      output_dir=output_dir, output_filename=output_filename)
  runner.run(tfx_pipeline)
  return os.path.join(output_dir, output_filename)


if __name__ == '__main__':
  print(f'Wrote {compile_pipeline()}')
  sys.exit(0)
