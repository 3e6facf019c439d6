"""One conversion in a fresh process, reporting its peak resident memory as JSON on stdout.

Run as ``python -m bench.rss_probe CONTENDER LOG OUT_DIR``. The peak is the kernel's high-water
mark of this process (``VmHWM`` in ``/proc/self/status``), so it includes the interpreter and
the libraries; ``rss_after_imports_mb`` is the part that does not depend on the data.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB → MiB
    # Not Linux: fall back to getrusage's peak (kB on Linux, bytes on macOS).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    from bench.contenders import CONTENDERS, IMPORTS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=sorted(CONTENDERS))
    parser.add_argument("log", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)

    for module in IMPORTS[args.contender]:
        importlib.import_module(module)
    after_imports = _status_mb("VmRSS")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    CONTENDERS[args.contender](args.log, args.out_dir)
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "contender": args.contender,
                "log_bytes": args.log.stat().st_size,
                "seconds": round(seconds, 4),
                "rss_after_imports_mb": round(after_imports, 1),
                "peak_rss_mb": round(_status_mb("VmHWM"), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
