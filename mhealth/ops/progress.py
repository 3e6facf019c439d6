"""Following an execution in a terminal: a line per step as it starts and ends, then the outcome."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mhealth.ops.execution import ExecutionOutcome, StepEvent, follow_execution

ClientFactory = Callable[[str], Any]


def follow(clients: ClientFactory, execution_arn: str, timeout: float) -> ExecutionOutcome:
    """Follows an execution, printing progress; prints the outcome and returns it."""
    started = datetime.now().astimezone()

    def show(event: StepEvent) -> None:
        elapsed = (event.at - started).total_seconds()
        mark = {"entered": "→", "exited": "✓", "failed": "✗"}[event.kind]
        detail = f"  {event.detail}" if event.detail else ""
        print(f"[{max(elapsed, 0.0):6.1f} s] {mark} {event.step}{detail}", flush=True)

    outcome = follow_execution(
        clients("stepfunctions"), execution_arn, show, timeout_seconds=timeout
    )
    total = ((outcome.stopped or outcome.started) - outcome.started).total_seconds()
    if outcome.succeeded:
        print(f"execution SUCCEEDED in {total:.1f} s")
    else:
        print(
            f"execution {outcome.status} at step {outcome.failed_step or '?'}: "
            f"{outcome.error or 'error'}: {outcome.cause or 'no cause given'}",
            file=sys.stderr,
        )
    return outcome
