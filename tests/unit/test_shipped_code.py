"""The code that ships to AWS Glue compiles on Glue 5.0's Python (3.11), module by module."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mhealth.local.config import LocalConfig

REPO = Path(__file__).resolve().parents[2]
# Everything serverless/plugins/glue-assets.js ships: the job script and the whole package.
SHIPPED = [REPO / "glue" / "mhealth_job.py", *sorted((REPO / "mhealth").rglob("*.py"))]

COMPILE_EACH = """
import json, sys
failures = {}
for path in sys.argv[1:]:
    try:
        compile(open(path, encoding="utf-8").read(), path, "exec", dont_inherit=True)
    except SyntaxError as error:
        failures[path] = f"line {error.lineno}: {error.msg}"
print(json.dumps({"version": list(sys.version_info[:2]), "failures": failures}))
"""


def _compile_with_glue_python(paths: list[Path]) -> dict[str, object]:
    python = LocalConfig.from_environment().glue_python
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make setup` (it creates Glue 5.0's runtime)")
    answer = subprocess.run(
        [str(python), "-c", COMPILE_EACH, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(answer.stdout)
    return result


def test_every_shipped_module_compiles_on_python_3_11() -> None:
    result = _compile_with_glue_python(SHIPPED)

    assert result["version"] == [3, 11]
    assert result["failures"] == {}


def test_the_check_catches_python_3_12_syntax(tmp_path: Path) -> None:
    newer = tmp_path / "newer.py"
    newer.write_text("type UserId = int\n")

    result = _compile_with_glue_python([newer])

    assert result["failures"] == {str(newer): "line 1: invalid syntax"}
