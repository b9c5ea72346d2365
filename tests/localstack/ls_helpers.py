"""Plain helpers shared by the LocalStack tests (conftest holds the fixtures)."""

import time


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
