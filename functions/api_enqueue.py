"""API Gateway (AWS_PROXY) handler that queues tasks on SQS (exercise 6).

``POST /tasks`` with a JSON object ``{"task_type": ..., "data": {...}}``
sends ``{"task_type", "data", "submitted_at"}`` to the queue at ``$QUEUE_URL``
and answers ``202`` with the SQS message id.

* ``400 {"error": ...}``: missing body, invalid JSON, JSON that is not an
  object, missing task_type.
* ``500 {"error": ...}``: ``QUEUE_URL`` unset or the SQS call failed.

``submitted_at`` is the client's value when given, else the current UTC time.

Compatible with Python 3.9+.
"""

import base64
import binascii
import json
import os
from datetime import datetime, timezone

_sqs_client = None


def _get_sqs():
    """Return a cached SQS client, created on first use.

    boto3 is imported here so the module imports without boto3 or AWS
    configuration. ``AWS_ENDPOINT_URL`` points at LocalStack; when unset (or
    empty) boto3 uses the real AWS endpoint.
    """
    global _sqs_client
    if _sqs_client is None:
        import boto3

        endpoint_url = os.environ.get("AWS_ENDPOINT_URL") or None
        _sqs_client = boto3.client("sqs", endpoint_url=endpoint_url)
    return _sqs_client


def response(status_code, body):
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


class BadRequest(Exception):
    pass


def parse_request(event):
    """Validate the proxy event; return the SQS message dict or raise BadRequest."""
    raw = (event or {}).get("body")
    if raw is None or raw == "":
        raise BadRequest("Missing request body")

    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise BadRequest("Invalid base64 body")
        if raw == "":
            raise BadRequest("Missing request body")

    try:
        payload = json.loads(raw)
    except ValueError:  # json.JSONDecodeError is a ValueError subclass
        raise BadRequest("Invalid JSON")
    if not isinstance(payload, dict):
        raise BadRequest("Invalid JSON: expected an object")

    task_type = payload.get("task_type")
    if task_type is None or task_type == "":
        raise BadRequest("Missing task_type")
    if not isinstance(task_type, str):
        raise BadRequest("task_type must be a string")

    data = payload.get("data")
    if data is None:
        data = {}

    submitted_at = payload.get("submitted_at")
    if not submitted_at:
        submitted_at = datetime.now(timezone.utc).isoformat()

    return {"task_type": task_type, "data": data, "submitted_at": submitted_at}


def handler(event, context):
    try:
        message = parse_request(event)
    except BadRequest as exc:
        return response(400, {"error": str(exc)})

    queue_url = os.environ.get("QUEUE_URL")
    if not queue_url:
        return response(500, {"error": "QUEUE_URL is not configured"})

    try:
        result = _get_sqs().send_message(
            QueueUrl=queue_url, MessageBody=json.dumps(message)
        )
        message_id = result["MessageId"]
    except Exception as exc:
        print("SQS send_message failed: {}".format(exc))
        return response(500, {"error": str(exc)})

    return response(
        202,
        {
            "message": "Task queued successfully",
            "message_id": message_id,
            "task_type": message["task_type"],
        },
    )
