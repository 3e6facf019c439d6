"""The gateway holds back a response body for a slow client instead of queueing it in memory.

Twisted's WSGI server hands every block of a body to the socket's buffer at once; a client that
reads slower than LocalStack produces (the convert step streams each raw log through its
parser) then has the whole object queued in LocalStack's memory. Measured with the process's
resident set while three slow clients read a 96 MiB object each.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mhealth.local import runtime
from mhealth.local.config import LocalConfig

AwsClient = Callable[[str], Any]
UniqueName = Callable[[str], str]
OBJECT_MIB = 96
READERS = 3


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_slow_readers_do_not_queue_whole_objects_in_the_gateway(
    local_aws: LocalConfig, aws_client: AwsClient, unique_name: UniqueName
) -> None:
    pid = next(r.pid for r in runtime.read_record(local_aws) if r.name == "localstack")
    s3 = aws_client("s3")
    bucket = unique_name("backpressure")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(1024 * 1024) * OBJECT_MIB)
    before = _rss_mib(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_mib(pid))

    def slow_read(_: int) -> int:
        body = s3.get_object(Bucket=bucket, Key="big")["Body"]
        total = 0
        while chunk := body.read(4 * 1024 * 1024):
            total += len(chunk)
            time.sleep(0.05)  # ~80 MiB/s: slower than the gateway serves
        return total

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(READERS) as pool:
            sizes = list(pool.map(slow_read, range(READERS)))
    finally:
        done.set()
        sampler.join()
        s3.delete_object(Bucket=bucket, Key="big")
        s3.delete_bucket(Bucket=bucket)
    assert sizes == [OBJECT_MIB * 1024 * 1024] * READERS
    # Queued bodies would add about READERS x OBJECT_MIB (288 MiB); less than one object's size
    # leaves room for the interpreter's own churn.
    assert peak[0] - before < OBJECT_MIB
