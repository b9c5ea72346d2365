"""SQS-triggered task processor (exercise 6: SQS + async processing).

Each SQS record's body is JSON ``{"task_type": ..., "data": {...}}``:

* ``compute``   -> sum / average / max / min of ``data.numbers``
* ``transform`` -> uppercase / lowercase / word_count / char_count of ``data.text``
* ``fail``      -> raises (simulated failure, so the message ends up in the DLQ)
* anything else -> raises ``ValueError``

The result (plus ``message_id`` and ``processed_at``) is stored as JSON in the
S3 bucket ``$RESULTS_BUCKET`` (default ``task-results``) at
``results/<messageId>.json``.

A failing record makes the handler raise, so the whole batch becomes visible
again and is retried; after ``maxReceiveCount`` receives SQS moves the message
to the dead-letter queue. (No partial batch response, as in the exercise.)

Unlike the exercise, nothing here sleeps to "simulate work": the sleeps only
slow down unit tests, the provisioning tool's verify step and the lab itself,
and they teach nothing about queues.

Compatible with Python 3.9+.
"""

import json
import os
from datetime import datetime, timezone

DEFAULT_BUCKET = "task-results"

_s3_client = None


def _get_s3():
    """Return a cached S3 client, created on first use.

    boto3 is imported here so the pure functions below can be imported and
    tested without boto3 or any AWS configuration. ``AWS_ENDPOINT_URL`` points
    at LocalStack; when unset (or empty) boto3 uses the real AWS endpoint.
    """
    global _s3_client
    if _s3_client is None:
        import boto3

        endpoint_url = os.environ.get("AWS_ENDPOINT_URL") or None
        _s3_client = boto3.client("s3", endpoint_url=endpoint_url)
    return _s3_client


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compute(data):
    """Statistics over ``data["numbers"]`` (an empty list gives sum/average 0)."""
    numbers = data.get("numbers", [])
    if numbers is None:
        numbers = []
    if not isinstance(numbers, list) or not all(_is_number(n) for n in numbers):
        raise ValueError("compute: data.numbers must be a list of numbers")
    total = sum(numbers)
    return {
        "task_type": "compute",
        "input": numbers,
        "sum": total,
        "average": total / len(numbers) if numbers else 0,
        "max": max(numbers) if numbers else None,
        "min": min(numbers) if numbers else None,
    }


def transform(data):
    """Case conversions and counts of ``data["text"]``."""
    text = data.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ValueError("transform: data.text must be a string")
    return {
        "task_type": "transform",
        "input": text,
        "uppercase": text.upper(),
        "lowercase": text.lower(),
        "word_count": len(text.split()),
        "char_count": len(text),
    }


class SimulatedFailure(Exception):
    """Raised for ``fail`` tasks so the message is retried and dead-lettered."""


def process_task(body):
    """Dispatch a parsed message body to its task; returns the result dict."""
    if not isinstance(body, dict):
        raise ValueError("message body must be a JSON object")
    task_type = body.get("task_type")
    data = body.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("data must be a JSON object")

    if task_type == "compute":
        return compute(data)
    if task_type == "transform":
        return transform(data)
    if task_type == "fail":
        raise SimulatedFailure("Simulated failure for testing DLQ")
    raise ValueError("Unknown task type: {!r}".format(task_type))


def result_key(message_id):
    return "results/{}.json".format(message_id)


def build_result(body, message_id, now=None):
    """Process one message body and add the message id and UTC timestamp."""
    result = process_task(body)
    result["message_id"] = message_id
    when = now if now is not None else datetime.now(timezone.utc)
    result["processed_at"] = when.isoformat()
    return result


def handler(event, context):
    records = event.get("Records") or []
    print("Processing {} message(s)".format(len(records)))
    bucket = os.environ.get("RESULTS_BUCKET") or DEFAULT_BUCKET

    for record in records:
        message_id = record["messageId"]
        try:
            body = json.loads(record["body"])
            result = build_result(body, message_id)
            key = result_key(message_id)
            _get_s3().put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(result, indent=2),
                ContentType="application/json",
            )
            print("Processed {} -> s3://{}/{}".format(message_id, bucket, key))
        except Exception as exc:
            # Re-raise: the whole batch is returned to the queue and retried.
            print("Error processing message {}: {}".format(message_id, exc))
            raise

    return {
        "statusCode": 200,
        "body": json.dumps("Processed {} messages".format(len(records))),
    }
