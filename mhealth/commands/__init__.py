"""Subcommands of the ``mhealth`` CLI, one module each (see mhealth.cli)."""
