"""Following an execution in a terminal: a line per step as it starts and ends, then the outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mhealth.ops.execution import ExecutionOutcome, StepEvent, follow_execution

ClientFactory = Callable[[str], Any]

#: How each kind of step event is marked: entered, left, failed.
MARKS = {"entered": "→", "exited": "✓", "failed": "✗"}


def follow(clients: ClientFactory, execution_arn: str, timeout: float) -> ExecutionOutcome:
    """Follows an execution, printing progress on stdout (a failed step as ``✗ Step  Error``);
    prints the outcome when it succeeded and returns it. A failure's cause is left to the
    caller (``describe_failure``), so that it is said once."""
    started = datetime.now().astimezone()

    def show(event: StepEvent) -> None:
        elapsed = (event.at - started).total_seconds()
        detail = f"  {event.detail}" if event.detail else ""
        print(f"[{max(elapsed, 0.0):6.1f} s] {MARKS[event.kind]} {event.step}{detail}", flush=True)

    outcome = follow_execution(
        clients("stepfunctions"), execution_arn, show, timeout_seconds=timeout
    )
    total = ((outcome.stopped or outcome.started) - outcome.started).total_seconds()
    if outcome.succeeded:
        print(f"execution SUCCEEDED in {total:.1f} s")
    return outcome


@dataclass(frozen=True)
class FailureText:
    """A failed execution as a person reads it: one line, and the step's stack trace if any."""

    summary: str
    stack_trace: str | None


def describe_failure(outcome: ExecutionOutcome) -> FailureText:
    """``execution FAILED at step Download: KaggleAuthError: <message>``.

    Step Functions passes a step's error on as ``error`` and ``cause``; a Lambda's cause is
    the JSON of its error (``errorType``, ``errorMessage``, ``stackTrace``) and a Glue job's
    the JSON of its job run (``ErrorMessage``). The JSON is decoded, so the message reads as
    written (no ``\\u2192`` escapes) and the stack trace is kept apart."""
    error_type, message, trace = readable_cause(outcome.error, outcome.cause)
    summary = f"execution {outcome.status} at step {outcome.failed_step or '?'}: {error_type}"
    return FailureText(summary + (f": {message}" if message else ""), trace)


def readable_cause(error: str | None, cause: str | None) -> tuple[str, str, str | None]:
    """``(error type, message, stack trace or None)`` from a Step Functions error and cause."""
    error_type = error or "error"
    if not cause:
        return error_type, "", None
    try:
        data = json.loads(cause)
    except ValueError:
        return error_type, cause.strip(), None
    if not isinstance(data, dict):
        return error_type, cause.strip(), None
    error_type = str(data.get("errorType") or data.get("Error") or error_type)
    message = next(
        (
            str(data[key]).strip()
            for key in ("errorMessage", "ErrorMessage", "Cause", "message", "Message")
            if data.get(key)
        ),
        "",
    )
    trace = data.get("stackTrace")
    if isinstance(trace, list):
        trace = "".join(str(line) if str(line).endswith("\n") else f"{line}\n" for line in trace)
    return error_type, message, (str(trace).rstrip() or None) if trace else None
