"""Running the pipeline: settings, pre-flight checks, the run session, the up-to-date check, recovery, console output."""
