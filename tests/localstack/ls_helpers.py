"""Plain helpers shared by the LocalStack tests (conftest holds the fixtures)."""

import io
import time
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCALSTACK_SCRIPT = REPO_ROOT / "scripts" / "localstack"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::000000000000:role/lambda-role"  # not enforced by LocalStack


def zip_source(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return buf.getvalue()


def receive_all(sqs, url, want, timeout):
    """Receive (and delete) messages from url until `want` arrived or timeout."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        resp = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        for m in resp.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got
