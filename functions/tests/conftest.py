"""Make the handler modules in functions/ importable and keep tests offline."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import pytest  # noqa: E402


class FakeS3:
    def __init__(self):
        self.puts = []

    def put_object(self, **kwargs):
        self.puts.append(kwargs)
        return {"ETag": '"fake"'}


class FakeSQS:
    def __init__(self, message_id="msg-123", error=None):
        self.message_id = message_id
        self.error = error
        self.sent = []

    def send_message(self, **kwargs):
        self.sent.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"MessageId": self.message_id}


@pytest.fixture
def fake_s3(monkeypatch):
    import task_processor

    client = FakeS3()
    monkeypatch.setattr(task_processor, "_get_s3", lambda: client)
    return client


@pytest.fixture
def fake_sqs(monkeypatch):
    import api_enqueue

    client = FakeSQS()
    monkeypatch.setattr(api_enqueue, "_get_sqs", lambda: client)
    monkeypatch.setenv("QUEUE_URL", "http://localhost:4566/000000000000/task-queue")
    return client
