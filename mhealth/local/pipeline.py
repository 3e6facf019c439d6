"""The local stage made ready to run: the synthetic dataset published to the Kaggle stand-in,
``serverless.yml`` deployed, and the deployed names read back — the start that `mhealth demo`,
the benchmarks and the integration tests share — and a run of its state machine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from mhealth.local.config import LocalConfig
from mhealth.local.deploy import PublishedDataset, deploy, publish_sample
from mhealth.ops.deployment import Deployment, load_deployment
from mhealth.ops.execution import ExecutionOutcome, StepEvent, follow_execution, start_execution

#: Wraps each phase of `prepare` ("publish", "deploy"): prints a heading, times it, or nothing.
PhaseHook = Callable[[str], AbstractContextManager[None]]


@contextlib.contextmanager
def _no_hook(_phase: str) -> Iterator[None]:
    yield


@dataclass(frozen=True)
class LocalPipeline:
    config: LocalConfig
    dataset: PublishedDataset
    deployment: Deployment

    def start(self, payload: dict[str, Any] | None = None) -> str:
        """Starts an execution of the state machine; its ARN."""
        sfn = self.config.clients()("stepfunctions")
        return start_execution(sfn, self.deployment.state_machine_arn, payload or {})

    def run(
        self,
        payload: dict[str, Any] | None = None,
        *,
        on_event: Callable[[StepEvent], None] = lambda _event: None,
        timeout_seconds: float = 3600,
    ) -> ExecutionOutcome:
        """Starts an execution and follows it to its end."""
        sfn = self.config.clients()("stepfunctions")
        execution_arn = start_execution(sfn, self.deployment.state_machine_arn, payload or {})
        return follow_execution(sfn, execution_arn, on_event, timeout_seconds=timeout_seconds)


def prepare(
    config: LocalConfig,
    *,
    scale: float,
    seed: int,
    deploy_stack: bool = True,
    phase: PhaseHook = _no_hook,
    report: Callable[[str], None] = print,
) -> LocalPipeline:
    """Publishes the synthetic dataset (``scale``, ``seed``) and deploys the local stage (unless
    ``deploy_stack`` is false: the stack already deployed is used). The local AWS must be up.
    Raises ``DeployError`` if the deploy fails, ``StackNotDeployedError`` if no stack is there."""
    with phase("publish"):
        dataset = publish_sample(config, scale=scale, seed=seed)
        report(
            f"{'generated' if dataset.generated else 'reused'} {dataset.rows:,} rows in "
            f"{len(dataset.rows_by_subject)} subject files; the Kaggle stand-in serves "
            f"{dataset.zip_path}"
        )
    if deploy_stack:
        with phase("deploy"):
            deploy(config, report=report)
    deployment = load_deployment(config.clients()("cloudformation"), "local")
    return LocalPipeline(config, dataset, deployment)
