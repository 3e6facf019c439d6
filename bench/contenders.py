"""The three ways to turn one raw log into Parquet that the conversion benchmark compares.

- ``ours``: the pipeline's converter (``mhealth.convert.logs.convert_file``): validation,
  quarantine, subject id and line numbers added, memory bounded by its block size.
- ``pandas``: what the seed did and what a user would write first:
  ``pandas.read_csv(sep=r"\\s+", header=None)`` then ``DataFrame.to_parquet``.
- ``floor``: pyarrow's CSV reader and ``write_table`` on the same file, nothing else: no
  validation, no added columns, the library defaults. Nothing built on these libraries can
  be much faster than this.
- ``floor_our_writer``: the floor with our Parquet writer settings, to show how much of the
  difference comes from the writer settings rather than from the reading and checking.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

Contender = Callable[[Path, Path], None]


def ours(log_path: Path, out_dir: Path) -> None:
    from mhealth.convert.logs import convert_file

    convert_file(log_path, out_dir)


def pandas_baseline(log_path: Path, out_dir: Path) -> None:
    import pandas as pd

    from mhealth.core.schema import RAW_COLUMNS

    frame = pd.read_csv(log_path, sep=r"\s+", header=None, names=list(RAW_COLUMNS))
    frame.to_parquet(out_dir / log_path.with_suffix(".parquet").name)


def pyarrow_floor(log_path: Path, out_dir: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from mhealth.core.schema import RAW_COLUMNS

    table = pacsv.read_csv(
        log_path,
        read_options=pacsv.ReadOptions(column_names=list(RAW_COLUMNS)),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
    )
    pq.write_table(table, out_dir / log_path.with_suffix(".parquet").name)


def pyarrow_floor_our_writer(log_path: Path, out_dir: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from mhealth.core.schema import ACTIVITY_ID, RAW_COLUMNS

    table = pacsv.read_csv(
        log_path,
        read_options=pacsv.ReadOptions(column_names=list(RAW_COLUMNS)),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
    )
    options: dict[str, Any] = {"compression": "snappy", "use_dictionary": [ACTIVITY_ID]}
    pq.write_table(table, out_dir / log_path.with_suffix(".parquet").name, **options)


CONTENDERS: Final[dict[str, Contender]] = {
    "ours": ours,
    "pandas": pandas_baseline,
    "floor": pyarrow_floor,
    "floor_our_writer": pyarrow_floor_our_writer,
}

#: What each contender imports before it runs, so a fresh process pays for it up front.
IMPORTS: Final[dict[str, tuple[str, ...]]] = {
    "ours": ("mhealth.convert.logs",),
    "pandas": ("pandas", "pyarrow.parquet", "mhealth.core.schema"),
    "floor": ("pyarrow.csv", "pyarrow.parquet", "mhealth.core.schema"),
    "floor_our_writer": ("pyarrow.csv", "pyarrow.parquet", "mhealth.core.schema"),
}
