"""The ``mhealth`` command line: one entry point, one subcommand per capability.

Each subcommand lives in its own module and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (``args -> exit code``). Modules keep heavy imports (pyspark,
pyarrow) inside their functions so that ``mhealth --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: Modules that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "mhealth.cli.sample",
    "mhealth.cli.convert",
    "mhealth.cli.transform",
    "mhealth.cli.local",
    "mhealth.cli.pipeline",
    "mhealth.cli.demo",
    "mhealth.cli.standin",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mhealth",
        description="MHEALTH pipeline: synthetic data, conversion, the Glue transform, "
        "the local AWS and the deployed pipeline.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mhealth query … | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
