"""mhealth-pipeline: the library shared by the Lambda handlers, the Glue job, the CLI and the local emulator."""

__version__ = "0.1.0"
