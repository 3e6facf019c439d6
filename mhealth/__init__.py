"""mhealth-pipeline: the library shared by the Lambdas, the Glue job, the CLI and the emulator."""

__version__ = "0.1.0"
