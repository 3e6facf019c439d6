"""Starting a pipeline execution and following it step by step until it ends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TERMINAL_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class StepEvent:
    """A step entering or leaving, or a failure, as the user sees it."""

    kind: str  # "entered" | "exited" | "failed"
    step: str
    at: datetime
    detail: str = ""


@dataclass
class ExecutionOutcome:
    execution_arn: str
    status: str
    started: datetime
    stopped: datetime | None
    output: Any = None
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def start_execution(sfn: SFNClient, state_machine_arn: str, payload: dict[str, Any]) -> str:
    return sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))[
        "executionArn"
    ]


def follow_execution(
    sfn: SFNClient,
    execution_arn: str,
    on_event: Callable[[StepEvent], None] = lambda _event: None,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 1.0,
) -> ExecutionOutcome:
    """Polls the execution's history, reporting each step as it enters and leaves, until the
    execution ends or ``timeout_seconds`` pass (then raises TimeoutError)."""
    deadline = time.monotonic() + timeout_seconds
    seen = 0
    entered: dict[str, datetime] = {}
    step_seconds: dict[str, float] = {}
    last_step: str | None = None
    # Failures of steps not (yet) recovered by a retry: (step, error, cause), oldest first.
    failures: list[tuple[str, str | None, str | None]] = []
    while True:
        events = _history(sfn, execution_arn)
        for event in events[seen:]:
            kind = event["type"]
            at = event["timestamp"]
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                if name not in entered:
                    entered[name] = at
                    on_event(StepEvent("entered", name, at))
                last_step = name
            elif kind.endswith("StateExited"):
                details = event["stateExitedEventDetails"]
                name = details["name"]
                step_seconds[name] = (at - entered.get(name, at)).total_seconds()
                on_event(StepEvent("exited", name, at, _summarise(name, details.get("output", ""))))
            elif kind.endswith("Succeeded") and last_step is not None:
                failures = [f for f in failures if f[0] != last_step]  # a retry worked
            elif kind == "ExecutionFailed":
                details = event.get("executionFailedEventDetails", {})
                step, error, cause = failures[0] if failures else ("execution", None, None)
                error, cause = error or details.get("error"), cause or details.get("cause")
                failures = [(step, error, cause)]
                on_event(StepEvent("failed", step, at, f"{error}: {cause}"))
            elif kind.endswith("Failed") or kind.endswith("TimedOut"):
                details = _failure_details(event)
                if details is not None and last_step is not None:
                    failures.append((last_step, *details))
        seen = len(events)
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL_STATUSES and len(_history(sfn, execution_arn)) == seen:
            output = json.loads(description["output"]) if description.get("output") else None
            succeeded = description["status"] == "SUCCEEDED"
            first_failure = failures[0] if failures else None
            return ExecutionOutcome(
                execution_arn=execution_arn,
                status=description["status"],
                started=description["startDate"],
                stopped=description.get("stopDate"),
                output=output,
                failed_step=first_failure[0] if first_failure and not succeeded else None,
                error=(first_failure[1] if first_failure else None) or description.get("error"),
                cause=(first_failure[2] if first_failure else None) or description.get("cause"),
                step_seconds=step_seconds,
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still running after {timeout_seconds} s")
        time.sleep(poll_seconds)


def _history(sfn: SFNClient, execution_arn: str) -> list[Any]:
    events: list[Any] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def _failure_details(event: Any) -> tuple[str | None, str | None] | None:
    for key, value in event.items():
        if key.endswith(("FailedEventDetails", "TimedOutEventDetails")) and isinstance(value, dict):
            return value.get("error"), value.get("cause")
    return None


def _summarise(step: str, output: str) -> str:
    """A short description of what a step produced. A step's result sits under its own
    lower-cased name in the state (``ResultPath: $.download``) or is the output itself."""
    try:
        data = json.loads(output) if output else None
    except ValueError:
        return ""
    if isinstance(data, dict) and step.lower() in data:
        data = data[step.lower()]
    items = data if isinstance(data, list) else [data]
    totals: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        if "job_run_state" in item:
            seconds = item.get("execution_time_seconds")
            took = f" in {seconds} s" if seconds is not None else ""
            return f"Glue run {item.get('job_run_id', '')} {item['job_run_state']}{took}"
        for key in (
            "raw_keys",
            "uploaded",
            "converted",
            "unchanged",
            "quarantined",
            "removed",
            "rows_in",
            "rows_written",
            "rows_quarantined",
        ):
            value = item.get(key)
            if isinstance(value, list):
                totals["files"] = totals.get("files", 0) + len(value)
            elif isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return ", ".join(f"{key.replace('_', ' ')} {value:,}" for key, value in totals.items())
