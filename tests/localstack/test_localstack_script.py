"""scripts/localstack: idempotent start, clean stop, in-memory state.

Runs its own LocalStack on a free port, so the shared instance on 4566 (or
$LOCALSTACK_ENDPOINT) is never touched.
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests

from ls_helpers import LOCALSTACK_SCRIPT, ROLE_ARN, zip_source

pytestmark = pytest.mark.timeout(300)

CACHE_DIR = Path(os.environ.get("EXSTACK_CACHE_DIR", Path.home() / ".cache" / "exstack"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, port):
    return subprocess.run(
        [str(LOCALSTACK_SCRIPT), *args, "--port", str(port)],
        capture_output=True, text=True, timeout=240,
    )


def group_members(pgid: int) -> list[str]:
    """Live members of a process group (zombies awaiting their reaper run nothing)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid=,stat="], capture_output=True, text=True).stdout
    return [pid for pid, group, stat in (line.split() for line in out.splitlines())
            if int(group) == pgid and not stat.startswith("Z")]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def port():
    p = free_port()
    yield p
    # Whatever happened, leave nothing running on this port.
    pid_file = CACHE_DIR / "localstack-run" / f"localstack-{p}.pid"
    run("stop", port=p)
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)


def sqs_at(port):
    return boto3.client(
        "sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )


def test_second_start_changes_nothing_and_stop_leaves_no_process(port):
    pid_file = CACHE_DIR / "localstack-run" / f"localstack-{port}.pid"
    first = run("start", port=port)
    assert first.returncode == 0, first.stderr
    assert f"localstack-{port}.log" in first.stdout  # says where its log is
    pid = int(pid_file.read_text())
    assert requests.get(f"http://127.0.0.1:{port}/_localstack/health", timeout=5).ok

    # Make the executor spawn a runtime process, so stop has a tree to end.
    lam = boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )
    lam.create_function(
        FunctionName="tree", Runtime="python3.12", Role=ROLE_ARN, Handler="app.handler",
        Code={"ZipFile": zip_source({"app.py": "def handler(e, c):\n    return 42\n"})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="tree")
    assert lam.invoke(FunctionName="tree")["Payload"].read() == b"42"
    members = group_members(pid)
    assert len(members) >= 2, f"expected LocalStack plus a runtime process, got {members}"

    t0 = time.monotonic()
    second = run("start", port=port)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stderr
    assert time.monotonic() - t0 < 2
    assert int(pid_file.read_text()) == pid
    assert group_members(pid) == members  # no new or restarted process

    assert run("status", port=port).returncode == 0
    stop = run("stop", port=port)
    assert stop.returncode == 0, stop.stderr
    assert group_members(pid) == []
    assert not any(alive(int(m)) for m in members)
    assert not pid_file.exists()
    assert run("status", port=port).returncode == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_localstack/health", timeout=2)


def test_restart_loses_state(port):
    assert run("start", port=port).returncode == 0
    sqs_at(port).create_queue(QueueName="before-restart")
    assert run("stop", port=port).returncode == 0
    started = time.monotonic()
    assert run("start", port=port).returncode == 0
    warm = time.monotonic() - started
    assert sqs_at(port).list_queues().get("QueueUrls", []) == []
    assert warm < 30, f"warm start took {warm:.1f}s"
