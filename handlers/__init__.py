"""Lambda entry points of the pipeline: thin wrappers around the ``mhealth`` library."""
