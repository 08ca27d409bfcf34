"""Runs the COCO captions TFX pipeline on this machine with LocalDagRunner.

  python coco_captions_local.py                  # the bundled synthetic data
  python coco_captions_local.py --data_root DIR --images_root DIR_OR_URI
  python coco_captions_local.py --direct_running_mode=multi_processing \\
      --direct_num_workers=0                     # any Beam pipeline option

The flags below belong to this script; every other flag is a Beam pipeline
option and reaches every component's Beam pipeline unchanged. A flag or Beam
option that neither knows is an error.

TFX's CLI drives this file too, with the settings as COCO_CAPTIONS_*
environment variables (see the README's "With the TFX CLI"):

  tfx pipeline create --engine=local --pipeline_path=coco_captions_local.py
  tfx run create --engine=local --pipeline_name=coco_captions
"""

import sys
from typing import Optional, Sequence

from coco_captions.run import session, settings


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the pipeline with LocalDagRunner; returns the exit status."""
  return session.run(settings.from_flags(argv, 'local', description=__doc__))


if __name__ == '__main__':
  sys.exit(main())
