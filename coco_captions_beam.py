"""Runs the COCO captions pipeline with Beam as the orchestrator.

TFX's BeamDagRunner schedules the components as a Beam pipeline; each
component's own Beam work still follows the Beam options given. Same flags and
output as coco_captions_local.py:

  python coco_captions_beam.py [flags of coco_captions_local.py] [Beam options]

TFX's CLI drives this file too, with the settings as COCO_CAPTIONS_*
environment variables (see the README's "With the TFX CLI"):

  tfx pipeline create --engine=beam --pipeline_path=coco_captions_beam.py
  tfx run create --engine=beam --pipeline_name=coco_captions
"""

import sys
from typing import Optional, Sequence

from coco_captions.run import session, settings


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the pipeline with BeamDagRunner; returns the exit status."""
  return session.run(settings.from_flags(argv, 'beam', description=__doc__))


if __name__ == '__main__':
  sys.exit(main())
