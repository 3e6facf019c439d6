"""``mhealth standin``: run the local Kaggle stand-in in the foreground."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``mhealth standin --datasets-dir DIR --username U --key K [--token T] [--host H]
    [--port P]``."""
    from mhealth.local.kaggle_standin import build_arg_parser, serve

    parser = subparsers.add_parser(
        "standin",
        help="serve datasets to the kaggle client locally (Kaggle's download route)",
        description="Serve <datasets-dir>/<owner>/<dataset-slug>.zip on Kaggle's DownloadDataset "
        "route, checking Basic credentials (the legacy pair) or a Bearer API token (with Kaggle's "
        "IntrospectToken route), so that the real kaggle client (pointed at it by "
        "KAGGLE_API_BASE_URL) downloads offline. GET /health answers 200.",
    )
    build_arg_parser(parser)
    parser.set_defaults(func=serve)
