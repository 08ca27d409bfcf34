"""Reading a run (ML Metadata, artifacts) and rendering it: console summary, HTML report, run history."""
