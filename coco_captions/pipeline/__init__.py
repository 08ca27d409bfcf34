"""The pipeline and its components: `create_pipeline`, the custom components, and what they share."""
