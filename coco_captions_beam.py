"""Runs the COCO captions pipeline with Beam as the orchestrator.

TFX's BeamDagRunner schedules the components as a Beam pipeline; each
component's own Beam work still follows the Beam options given. Same flags and
output as coco_captions_local.py, which this only hands a different runner:

  python coco_captions_beam.py [flags of coco_captions_local.py] [Beam options]
"""

import sys

import coco_captions_local

if __name__ == '__main__':
  sys.exit(coco_captions_local.main(orchestrator='beam'))
