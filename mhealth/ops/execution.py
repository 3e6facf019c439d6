"""Starting a pipeline execution and following it step by step until it ends."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
class _Failure:
    step: str
    error: str | None
    cause: str | None
    running: frozenset[str] = frozenset()


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


class _Tracker:
    """Reads an execution's history events in order and reports steps to ``on_event``.

    Failures not (yet) recovered by a retry are kept oldest first, each with the steps that
    were running when it happened (a failed iteration fails its Map state too). A step that
    leaves through a Catch while such a failure is open is reported as ``failed``, once."""

    def __init__(self, on_event: Callable[[StepEvent], None]) -> None:
        self.on_event = on_event
        self.entered: dict[str, datetime] = {}
        self.step_seconds: dict[str, float] = {}
        self.last_step: str | None = None
        # Steps entered and not yet left, by name (a Map's iterations enter one name often).
        self.running: Counter[str] = Counter()
        self.failures: list[_Failure] = []
        self.shown_failed: set[str] = set()

    def read(self, event: Any) -> None:
        kind = event["type"]
        at = event["timestamp"]
        if kind.endswith("StateEntered"):
            self._entered(event["stateEnteredEventDetails"]["name"], at)
        elif kind.endswith("StateExited"):
            self._exited(event["stateExitedEventDetails"], at)
        elif kind.endswith("Succeeded") and self.last_step is not None:
            # A retry worked.
            self.failures = [f for f in self.failures if f.step != self.last_step]
        elif kind == "ExecutionFailed":
            self._execution_failed(event.get("executionFailedEventDetails", {}), at)
        elif kind.endswith("Failed") or kind.endswith("TimedOut"):
            failed = _failure_details(event)
            if failed is not None and self.last_step is not None:
                running = frozenset(n for n, count in self.running.items() if count > 0)
                self.failures.append(_Failure(self.last_step, *failed, running | {self.last_step}))

    def _entered(self, name: str, at: datetime) -> None:
        if name not in self.entered:
            self.entered[name] = at
            self.on_event(StepEvent("entered", name, at))
        self.running[name] += 1
        self.last_step = name

    def _exited(self, details: Any, at: datetime) -> None:
        name = details["name"]
        self.running[name] -= 1
        self.step_seconds[name] = (at - self.entered.get(name, at)).total_seconds()
        failure = next((f for f in self.failures if name in f.running), None)
        if failure is None:
            summary = _summarise(name, details.get("output", ""))
            self.on_event(StepEvent("exited", name, at, summary))
            return
        # Left through a Catch: the step failed. A later run of the same name (another
        # iteration) is its own.
        self.shown_failed.add(name)
        self.on_event(StepEvent("failed", name, at, failure.error or ""))
        self.failures = [replace(f, running=f.running - {name}) for f in self.failures]

    def _execution_failed(self, details: Any, at: datetime) -> None:
        first = self.failures[0] if self.failures else _Failure("execution", None, None)
        self.failures = [
            replace(
                first,
                error=first.error or details.get("error"),
                cause=first.cause or details.get("cause"),
            )
        ]
        if first.step not in self.shown_failed:
            self.on_event(StepEvent("failed", first.step, at, self.failures[0].error or ""))


def follow_execution(
    sfn: SFNClient,
    execution_arn: str,
    on_event: Callable[[StepEvent], None] = lambda _event: None,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 1.0,
) -> ExecutionOutcome:
    """Polls the execution's history, reporting each step as it enters and leaves, until the
    execution ends or ``timeout_seconds`` pass (then raises TimeoutError).

    A step that fails is reported once as ``failed`` (with its error type), whether a Catch
    leads it on (it still "exits") or the execution ends there; the cause is in the outcome."""
    deadline = time.monotonic() + timeout_seconds
    seen = 0
    tracker = _Tracker(on_event)
    while True:
        events = _history(sfn, execution_arn)
        for event in events[seen:]:
            tracker.read(event)
        seen = len(events)
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL_STATUSES and len(_history(sfn, execution_arn)) == seen:
            output = json.loads(description["output"]) if description.get("output") else None
            succeeded = description["status"] == "SUCCEEDED"
            first_failure = tracker.failures[0] if tracker.failures else None
            return ExecutionOutcome(
                execution_arn=execution_arn,
                status=description["status"],
                started=description["startDate"],
                stopped=description.get("stopDate"),
                output=output,
                failed_step=first_failure.step if first_failure and not succeeded else None,
                error=(first_failure.error if first_failure else None) or description.get("error"),
                cause=(first_failure.cause if first_failure else None) or description.get("cause"),
                step_seconds=tracker.step_seconds,
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
