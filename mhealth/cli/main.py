"""The ``mhealth`` command line: one entry point, one subcommand per capability.

Each subcommand lives in its own module and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (``args -> exit code``). Modules keep heavy imports (pyspark,
pyarrow) inside their functions so that ``mhealth --help`` stays instant.

Errors take one path (``mhealth.cli.errors``): a subcommand raises a ``CliError``, and
``main`` prints it as one line on stderr and exits with its code; anything else is a bug,
printed as one line too, with the traceback under ``--debug`` / ``MHEALTH_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import NoReturn

from mhealth.cli.errors import EXIT_JOB_FAILED, CliError, UsageError, one_line

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

DEBUG_HELP = "on an error, print the traceback too (also MHEALTH_DEBUG=1)"
UNEXPECTED_HINT = "run again with --debug for the traceback (or MHEALTH_DEBUG=1)"


def _debug_from_environment() -> bool:
    return os.environ.get("MHEALTH_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes go the CLI's one error path (exit 2, one line)
    instead of argparse's usage text. Sub-parsers are made of the same class."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"see `{self.prog} --help`")


def _add_debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--debug`` is accepted after any subcommand too (``mhealth run --debug``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument(
                    "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
                )
                _add_debug_everywhere(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mhealth",
        description="MHEALTH pipeline: synthetic data, conversion, the Glue transform, "
        "the local AWS and the deployed pipeline.",
        epilog="Exit codes: 0 done, 1 the job failed, 2 bad usage, 3 the stage or the local AWS "
        "is not reachable or not deployed.",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    _add_debug_everywhere(parser)
    return parser


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM ends the command like Ctrl-C does: through every ``finally`` (so a staging
    folder is removed), with exit code 128 + 15."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    debug = _debug_from_environment()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug = debug or args.debug
        code: int = args.func(args)
    except CliError as error:
        if debug:
            traceback.print_exc()
            if error.details:
                print(error.details, file=sys.stderr)
        print(error.line(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mhealth query … | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:  # a bug: one line, the traceback on request
        if debug:
            traceback.print_exc()
        print(
            one_line(
                f"error: unexpected {type(error).__name__}: {error} — "
                + ("please report it with the traceback above" if debug else UNEXPECTED_HINT)
            ),
            file=sys.stderr,
        )
        return EXIT_JOB_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
