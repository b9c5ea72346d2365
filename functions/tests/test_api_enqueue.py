import base64
import json

import pytest

import api_enqueue as api

QUEUE = "http://localhost:4566/000000000000/task-queue"


def post(body, b64=False):
    return {"httpMethod": "POST", "path": "/tasks", "body": body, "isBase64Encoded": b64}


def decode(resp):
    assert resp["headers"]["Content-Type"] == "application/json"
    return json.loads(resp["body"])


def test_import_does_not_create_client():
    assert api._sqs_client is None


def test_accepted_task_is_sent_to_queue(fake_sqs):
    payload = {"task_type": "compute", "data": {"numbers": [1, 2]}}
    resp = api.handler(post(json.dumps(payload)), None)
    assert resp["statusCode"] == 202
    assert decode(resp) == {
        "message": "Task queued successfully",
        "message_id": "msg-123",
        "task_type": "compute",
    }
    assert len(fake_sqs.sent) == 1
    assert fake_sqs.sent[0]["QueueUrl"] == QUEUE
    msg = json.loads(fake_sqs.sent[0]["MessageBody"])
    assert msg["task_type"] == "compute"
    assert msg["data"] == {"numbers": [1, 2]}
    assert msg["submitted_at"]  # server-side timestamp when the client gave none
    assert set(msg) == {"task_type", "data", "submitted_at"}


def test_client_submitted_at_and_missing_data(fake_sqs):
    body = json.dumps({"task_type": "fail", "submitted_at": "2024-01-01T00:00:00Z"})
    resp = api.handler(post(body), None)
    assert resp["statusCode"] == 202
    msg = json.loads(fake_sqs.sent[0]["MessageBody"])
    assert msg == {"task_type": "fail", "data": {}, "submitted_at": "2024-01-01T00:00:00Z"}


def test_base64_body(fake_sqs):
    raw = json.dumps({"task_type": "transform", "data": {"text": "hi"}}).encode()
    resp = api.handler(post(base64.b64encode(raw).decode(), b64=True), None)
    assert resp["statusCode"] == 202
    assert decode(resp)["task_type"] == "transform"
    assert json.loads(fake_sqs.sent[0]["MessageBody"])["data"] == {"text": "hi"}


@pytest.mark.parametrize(
    "event, error",
    [
        ({"httpMethod": "POST"}, "Missing request body"),
        (post(None), "Missing request body"),
        (post(""), "Missing request body"),
        (post("{not json"), "Invalid JSON"),
        (post("[1, 2]"), "Invalid JSON: expected an object"),
        (post('"just a string"'), "Invalid JSON: expected an object"),
        (post("{}"), "Missing task_type"),
        (post('{"task_type": "", "data": {}}'), "Missing task_type"),
        (post('{"data": {"numbers": [1]}}'), "Missing task_type"),
        (post("!!!notbase64", b64=True), "Invalid base64 body"),
        (post(base64.b64encode(b"nope").decode(), b64=True), "Invalid JSON"),
    ],
)
def test_bad_requests_return_400(fake_sqs, event, error):
    resp = api.handler(event, None)
    assert resp["statusCode"] == 400
    assert decode(resp) == {"error": error}
    assert fake_sqs.sent == []


def test_sqs_failure_returns_500(fake_sqs):
    fake_sqs.error = RuntimeError("queue does not exist")
    resp = api.handler(post('{"task_type": "compute"}'), None)
    assert resp["statusCode"] == 500
    assert decode(resp) == {"error": "queue does not exist"}


def test_missing_queue_url_returns_500(fake_sqs, monkeypatch):
    monkeypatch.delenv("QUEUE_URL")
    resp = api.handler(post('{"task_type": "compute"}'), None)
    assert resp["statusCode"] == 500
    assert "QUEUE_URL" in decode(resp)["error"]
    assert fake_sqs.sent == []


def test_client_is_lazy_and_cached(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    calls = []

    def fake_client(service, endpoint_url=None):
        calls.append((service, endpoint_url))
        return object()

    monkeypatch.setattr(boto3, "client", fake_client)
    monkeypatch.setattr(api, "_sqs_client", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    assert api._get_sqs() is api._get_sqs()
    assert calls == [("sqs", "http://localstack:4566")]
