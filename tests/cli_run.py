"""Running the ``mhealth`` console script as a user does, and the one-line error it must give:
shared by tests/unit/test_cli_errors.py (no local AWS) and
tests/integration/test_cli_stage_errors.py (on the local AWS)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The console script pyproject.toml's [project.scripts] installs beside the test interpreter.
MHEALTH = Path(sys.executable).parent / "mhealth"
#: The exit codes the README's table documents.
USAGE, JOB_FAILED, UNREACHABLE = 2, 1, 3


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def mhealth(*argv: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120) -> Run:
    assert MHEALTH.is_file(), f"{MHEALTH} is missing: `make setup` installs the console script"
    completed = subprocess.run(
        [str(MHEALTH), *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def assert_one_error_line(run: Run, code: int, *fragments: str) -> str:
    """The run exited ``code`` with exactly one line on stderr, saying what is wrong and what
    to do, containing each fragment, and no traceback anywhere."""
    assert run.code == code, run
    assert "Traceback" not in run.stdout + run.stderr
    assert len(run.error_lines) == 1, run.stderr
    line = run.error_lines[0]
    assert line.startswith("error: "), line
    assert " — " in line, f"no 'what to do' part: {line}"
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line
