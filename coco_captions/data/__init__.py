"""Getting data in: the COCO JSON converter and the synthetic dataset generator."""
