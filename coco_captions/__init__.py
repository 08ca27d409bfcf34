"""Pipeline definition, configuration, synthetic data and run reporting for the COCO captions TFX pipeline."""

import warnings

# google.api_core warns on import, in every command, that its releases after
# October 2027 will need Python 3.12: nothing a user of this pipeline can act
# on (TFX 1.16 pins the stack to 3.11), and it reads as an error.
warnings.filterwarnings(
    'ignore', message=r'You are using a Python version .* which Google will '
    'stop supporting', category=FutureWarning)
