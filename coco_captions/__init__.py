"""Pipeline definition, configuration, synthetic data and run reporting for the COCO captions TFX pipeline."""
