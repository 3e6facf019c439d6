"""`make demo` — the README's first command and the container's command — end to end."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mhealth.local.config import LocalConfig
from mhealth.local.synthetic import count_table

ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.02


def test_make_demo_runs_the_chain_and_prints_counts_and_the_seed_query(
    local_aws: LocalConfig,
) -> None:
    completed = subprocess.run(
        ["make", "--no-print-directory", "demo", f"SCALE={SCALE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, output[-3000:] + completed.stderr[-3000:]

    generated = sum(sum(labels.values()) for labels in count_table(SCALE).values())
    for step in ("Download", "Convert", "Transform"):
        assert re.search(rf"✓ {step}\b", output), step
    assert "execution SUCCEEDED" in output
    assert f"total rows: {generated:,} (generated: {generated:,})" in output
    assert "Null class" in output and "Jump front & back" in output

    seed_table = output.split("""WHERE user_id = '1' LIMIT 10""", 1)[1]
    header, _rule, *rows = seed_table.strip().splitlines()
    assert [cell.strip() for cell in header.split("|")] == [
        "activity",
        "timestamp",
        "sensor1",
        "sensor2",
        "sensor3",
        "user_id",
    ]
    body = rows[:10]
    assert len(body) == 10 and rows[10] == "(10 rows)"
    assert all(row.split("|")[-1].strip() == "1" for row in body)
    assert body[0].split("|")[1].strip() == "2014-01-01 00:00:00.000"
    assert "make down" in output
