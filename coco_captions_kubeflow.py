"""Compiles the COCO captions pipeline for Vertex AI Pipelines (Kubeflow v2 spec).

  python coco_captions_kubeflow.py --pipeline_root gs://bucket/pipelines \\
      --data_root gs://bucket/coco_csv --images_root gs://bucket/train2014 \\
      --image gcr.io/project/coco-captions:1 --output_file coco_captions.json \\
      --runner=DataflowRunner --project=P --region=R \\
      --temp_location=gs://bucket/tmp

Writes a pipeline JSON that runs every component in the given container image
(built from the Dockerfile beside this file). Flags this script does not know
are Beam pipeline options, passed to every component unchanged, as with
coco_captions_local.py. Nothing runs here: submit the JSON with Vertex AI
Pipelines, or let TFX's CLI do it:
`tfx pipeline create --engine=vertex --pipeline_path=coco_captions_kubeflow.py`
with the settings as COCO_CAPTIONS_* environment variables.

The pods run the module file and the `.py` files beside it as compiled here:
compiling uploads them as wheels to PIPELINE_ROOT/_wheels (--user_code=wheel,
the default). With --user_code=image nothing is uploaded and the pods run the
copy the image holds under /pipeline.
"""

import contextlib
import dataclasses
import os
import sys
from typing import List, Optional, Sequence

from coco_captions.pipeline import configs
from coco_captions.run import preflight, session, settings

# Where the Dockerfile copies the project, and its working directory.
IMAGE_PROJECT_DIR = '/pipeline'
# TFX's switch that leaves module files as paths instead of packaging them.
_NO_PACKAGING = 'UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES'


def compile_pipeline(argv: Optional[Sequence[str]] = None) -> str:
  """Compiles the pipeline; returns the path of the pipeline JSON."""
  found = settings.from_flags(argv, 'kubeflow', description=__doc__)
  problems = preflight.errors(found)
  if found.user_code == 'image':
    found, problem = _code_in_image(found)
  else:
    problem = _wheels_problem(found.pipeline_root)
  if problem:
    problems.append(problem)
  if problems:
    sys.exit('\n'.join(f'error: {problem}' for problem in problems))
  from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_v2  # pylint: disable=import-outside-toplevel
  output_dir, output_filename = os.path.split(found.output_file)
  runner = kfp_v2.KubeflowV2DagRunner(
      config=kfp_v2.KubeflowV2DagRunnerConfig(
          default_image=found.image,
          default_commands=_commands(found, list(kfp_v2.KUBEFLOW_TFX_CMD))),
      output_dir=output_dir, output_filename=output_filename)
  with _packaging(found.user_code == 'wheel'):
    # The images are in the cluster, not here: nothing to fingerprint.
    runner.run(session.pipeline_for(found))
  return found.output_file


def _wheels_problem(pipeline_root: str) -> Optional[str]:
  """Why compiling cannot write the user-code wheels, or None."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  wheels = os.path.join(pipeline_root, '_wheels')
  try:
    tf.io.gfile.makedirs(wheels)
    probe = os.path.join(wheels, '.write_check')
    with tf.io.gfile.GFile(probe, 'w') as f:
      f.write('')
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    reason = str(getattr(e, 'message', e)).strip().splitlines()
    return (f'cannot write the user-code wheels to {wheels} '
            f'({reason[0] if reason else type(e).__name__}). Compiling '
            'uploads the module file and the .py files beside it there for '
            'the pods: check the pipeline root and your credentials for it, '
            'or compile with --user_code=image to run the code the image '
            'holds')
  return None


def _code_in_image(found: settings.Settings):
  """(settings with the module file's path in the image, problem or None)."""
  relative = os.path.relpath(found.module_file, configs.PROJECT_DIR)
  if relative.startswith(os.pardir):
    return found, (f'--user_code=image: the module file {found.module_file} '
                   f'is not in the project ({configs.PROJECT_DIR}), which '
                   f'the image holds at {IMAGE_PROJECT_DIR}')
  return dataclasses.replace(found, module_file=os.path.join(
      IMAGE_PROJECT_DIR, relative)), None


def _commands(found: settings.Settings, command: List[str]) -> List[str]:
  """The pods' command: with the image's code importable where it is run."""
  if found.user_code != 'image':
    return command
  # The image imports nothing from its working directory (PYTHONSAFEPATH).
  return ['env', f'PYTHONPATH={os.path.dirname(found.module_file)}', *command]


@contextlib.contextmanager
def _packaging(enabled: bool):
  """TFX packages module files into wheels at compile time, or not at all."""
  before = os.environ.pop(_NO_PACKAGING, None)
  if not enabled:
    os.environ[_NO_PACKAGING] = '1'
  try:
    yield
  finally:
    os.environ.pop(_NO_PACKAGING, None)
    if before is not None:
      os.environ[_NO_PACKAGING] = before


if __name__ == '__main__':
  written = compile_pipeline()
  if not session.handed_to_tfx_cli('kubeflow'):
    print(f'Wrote {written}')
