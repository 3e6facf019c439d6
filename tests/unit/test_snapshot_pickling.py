"""The extension's snapshot (mhealth_localstack/persistence.py) without a running LocalStack.

The module needs LocalStack's classes, which live in LocalStack's own virtualenv
(``.venv-localstack``, made by ``make setup``), so each check runs there as a script and
prints JSON that the test reads.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCALSTACK_PYTHON = REPO / ".venv-localstack" / "bin" / "python"


def _run(script: str, tmp_path: Path) -> Any:
    if not LOCALSTACK_PYTHON.exists():
        pytest.fail(f"{LOCALSTACK_PYTHON} is missing: run make setup")
    result = subprocess.run(
        [str(LOCALSTACK_PYTHON), "-c", textwrap.dedent(script), str(tmp_path)],
        cwd=REPO / "localstack",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_locks_come_back_unlocked(tmp_path: Path) -> None:
    # A thread that held a lock at shutdown does not come back after the restart; a lock
    # restored held would block for ever (as a restored Lambda function's code lock did).
    out = _run(
        """
        import json, sys, threading
        from pathlib import Path
        from localstack.state import pickle as state_pickle
        from mhealth_localstack import persistence

        lock, rlock = threading.Lock(), threading.RLock()
        lock.acquire(); rlock.acquire()
        path = Path(sys.argv[1]) / "locks.pkl"
        persistence._dump({"lock": lock, "rlock": rlock}, path)
        restored = state_pickle.loads(path.read_bytes())
        plain = state_pickle.loads(state_pickle.dumps(lock))
        print(json.dumps({
            "lock_held": restored["lock"].locked(),
            "rlock_free": restored["rlock"].acquire(blocking=False),
            "rlock_type": type(restored["rlock"]).__name__,
            "plain_dill_keeps_it_held": plain.locked(),
        }))
        """,
        tmp_path,
    )
    assert out == {
        "lock_held": False,
        "rlock_free": True,
        "rlock_type": "RLock",
        "plain_dill_keeps_it_held": True,
    }


def test_a_running_state_machine_execution_is_kept_without_its_worker(tmp_path: Path) -> None:
    out = _run(
        """
        import json, socket, ssl, sys
        from pathlib import Path
        from localstack.state import pickle as state_pickle
        from localstack.services.stepfunctions.backend.execution import Execution
        from mhealth_localstack import persistence

        def stored(status):
            execution = Execution.__new__(Execution)
            execution.__dict__.update(
                name="n", exec_status=status, stop_date=None,
                exec_worker=ssl.create_default_context(),  # does not pickle, as a boto client
                _cloud_watch_logging_session=ssl.create_default_context(),
            )
            return execution

        path = Path(sys.argv[1]) / "sfn.pkl"
        persistence._dump({"running": stored("RUNNING"), "done": stored("SUCCEEDED")}, path)
        back = state_pickle.loads(path.read_bytes())
        print(json.dumps({
            key: [type(e).__name__, e.name, str(e.exec_status), e.exec_worker,
                  e._cloud_watch_logging_session, e.stop_date is not None]
            for key, e in back.items()
        }))
        """,
        tmp_path,
    )
    assert out == {
        "running": ["Execution", "n", "ABORTED", None, None, True],
        "done": ["Execution", "n", "SUCCEEDED", None, None, False],
    }


def test_stores_and_plain_state_round_trip_through_a_snapshot_folder(tmp_path: Path) -> None:
    out = _run(
        """
        import json, sys
        from pathlib import Path
        from localstack.services.stores import AccountRegionBundle, BaseStore, LocalAttribute
        from mhealth_localstack import persistence

        class Store(BaseStore):
            items = LocalAttribute(default=dict)

        live = AccountRegionBundle("sqs", Store)
        live["000000000000"]["us-east-1"].items["q"] = {"n": 1}
        runs = {"r1": "SUCCEEDED"}
        plain = persistence.PlainState("glue", "job-runs", lambda: dict(runs), runs.update)
        folder = Path(sys.argv[1]) / "sqs"
        folder.mkdir()
        saver = persistence._SaveVisitor("sqs", None, folder)
        saver.visit(live)
        saver.visit(plain)

        live.reset()
        runs.clear()
        loader = persistence._LoadVisitor("sqs", None, folder, saver.entries)
        loader.visit(live)
        loader.visit(plain)
        # A container the snapshot does not hold at that position is left as it is.
        other = AccountRegionBundle("sns", Store)
        persistence._LoadVisitor("sqs", None, folder, saver.entries).visit(other)
        print(json.dumps({
            "kinds": [e["kind"] for e in saver.entries],
            "loaded": loader.loaded,
            "items": live["000000000000"]["us-east-1"].items,
            "runs": runs,
            "other": list(other),
            "order": persistence.service_order(
                ["cloudformation", "lambda", "acm", "s3", "glue", "iam", "zzz"]
            ),
        }))
        """,
        tmp_path,
    )
    assert out == {
        "kinds": ["stores:sqs:Store", "plain:job-runs"],
        "loaded": 2,
        "items": {"q": {"n": 1}},
        "runs": {"r1": "SUCCEEDED"},
        "other": [],
        # S3 first (Lambda code is in it), CloudFormation last.
        "order": ["s3", "iam", "acm", "zzz", "glue", "lambda", "cloudformation"],
    }
