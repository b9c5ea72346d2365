import json
from datetime import datetime, timezone

import pytest

import task_processor as tp


def sqs_event(*bodies):
    return {
        "Records": [
            {"messageId": "m{}".format(i), "body": json.dumps(b)}
            for i, b in enumerate(bodies, 1)
        ]
    }


# --- pure task functions ---------------------------------------------------

def test_compute_integers():
    r = tp.compute({"numbers": [10, 20, 30, 40, 50]})
    assert r == {
        "task_type": "compute",
        "input": [10, 20, 30, 40, 50],
        "sum": 150,
        "average": 30,
        "max": 50,
        "min": 10,
    }


def test_compute_floats_and_negatives():
    r = tp.compute({"numbers": [1.5, -2.5, 4.0]})
    assert r["sum"] == pytest.approx(3.0)
    assert r["average"] == pytest.approx(1.0)
    assert r["max"] == 4.0
    assert r["min"] == -2.5


def test_compute_fractional_average():
    r = tp.compute({"numbers": [1, 2]})
    assert r["sum"] == 3
    assert r["average"] == 1.5
    r = tp.compute({"numbers": [0.1, 0.2, 0.4]})
    assert r["sum"] == pytest.approx(0.7)
    assert r["average"] == pytest.approx(0.7 / 3)
    assert r["max"] == 0.4 and r["min"] == 0.1


def test_compute_empty_and_missing():
    for data in ({"numbers": []}, {}):
        r = tp.compute(data)
        assert r["sum"] == 0
        assert r["average"] == 0
        assert r["max"] is None
        assert r["min"] is None
        assert r["input"] == []


def test_compute_rejects_non_numbers():
    with pytest.raises(ValueError):
        tp.compute({"numbers": [1, "2"]})
    with pytest.raises(ValueError):
        tp.compute({"numbers": 5})


def test_transform_counts():
    r = tp.transform({"text": "Hello World from SQS Processing"})
    assert r == {
        "task_type": "transform",
        "input": "Hello World from SQS Processing",
        "uppercase": "HELLO WORLD FROM SQS PROCESSING",
        "lowercase": "hello world from sqs processing",
        "word_count": 5,
        "char_count": 31,
    }


def test_transform_whitespace_and_empty():
    r = tp.transform({"text": "  two   words "})
    assert r["word_count"] == 2
    assert r["char_count"] == 14
    r = tp.transform({})
    assert r["word_count"] == 0
    assert r["char_count"] == 0
    assert r["uppercase"] == ""


def test_fail_task_raises():
    with pytest.raises(tp.SimulatedFailure):
        tp.process_task({"task_type": "fail", "data": {}})


def test_unknown_task_raises_value_error():
    with pytest.raises(ValueError, match="Unknown task type"):
        tp.process_task({"task_type": "resize", "data": {}})
    with pytest.raises(ValueError):
        tp.process_task({"data": {}})


def test_build_result_adds_id_and_utc_timestamp():
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    r = tp.build_result({"task_type": "compute", "data": {"numbers": [2]}}, "abc", now=now)
    assert r["message_id"] == "abc"
    assert r["processed_at"] == "2024-01-02T03:04:05+00:00"
    assert r["task_type"] == "compute"
    assert r["input"] == [2]


def test_import_does_not_create_client():
    assert tp._s3_client is None


# --- handler / S3 I/O --------------------------------------------------------

def test_handler_writes_results_to_s3(fake_s3, monkeypatch):
    monkeypatch.delenv("RESULTS_BUCKET", raising=False)
    event = sqs_event(
        {"task_type": "compute", "data": {"numbers": [1, 2, 3]}},
        {"task_type": "transform", "data": {"text": "Ab c"}},
    )
    out = tp.handler(event, None)
    assert out["statusCode"] == 200

    assert len(fake_s3.puts) == 2
    first, second = fake_s3.puts
    assert first["Bucket"] == "task-results"
    assert first["Key"] == "results/m1.json"
    assert first["ContentType"] == "application/json"
    body = json.loads(first["Body"])
    assert body["task_type"] == "compute"
    assert body["input"] == [1, 2, 3]
    assert body["sum"] == 6
    assert body["average"] == 2
    assert body["message_id"] == "m1"
    ts = datetime.fromisoformat(body["processed_at"])
    assert ts.utcoffset().total_seconds() == 0

    assert second["Key"] == "results/m2.json"
    body2 = json.loads(second["Body"])
    assert body2["uppercase"] == "AB C"
    assert body2["word_count"] == 2
    assert body2["char_count"] == 4


def test_handler_uses_results_bucket_env(fake_s3, monkeypatch):
    monkeypatch.setenv("RESULTS_BUCKET", "other-bucket")
    tp.handler(sqs_event({"task_type": "compute", "data": {"numbers": []}}), None)
    assert fake_s3.puts[0]["Bucket"] == "other-bucket"
    body = json.loads(fake_s3.puts[0]["Body"])
    assert body["max"] is None and body["sum"] == 0


def test_handler_raises_on_failing_record(fake_s3):
    event = sqs_event(
        {"task_type": "compute", "data": {"numbers": [1]}},
        {"task_type": "fail", "data": {}},
    )
    with pytest.raises(tp.SimulatedFailure):
        tp.handler(event, None)
    # the record before the failure was written; nothing after it
    assert [p["Key"] for p in fake_s3.puts] == ["results/m1.json"]


def test_handler_raises_on_unknown_type_and_bad_json(fake_s3):
    with pytest.raises(ValueError):
        tp.handler(sqs_event({"task_type": "nope"}), None)
    with pytest.raises(ValueError):
        tp.handler({"Records": [{"messageId": "x", "body": "not json"}]}, None)
    assert fake_s3.puts == []


def test_client_is_lazy_and_cached(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    calls = []

    def fake_client(service, endpoint_url=None):
        calls.append((service, endpoint_url))
        return object()

    monkeypatch.setattr(boto3, "client", fake_client)
    monkeypatch.setattr(tp, "_s3_client", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")
    a = tp._get_s3()
    b = tp._get_s3()
    assert a is b
    assert calls == [("s3", "http://localstack:4566")]

    monkeypatch.setattr(tp, "_s3_client", None)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    tp._get_s3()
    assert calls[-1] == ("s3", None)
