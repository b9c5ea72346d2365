"""LocalStack runs real Python Lambda functions through the exstack-local executor.

Each test proves one behaviour the exercise relies on: sync results, function
errors, timeouts, SQS batches, API Gateway proxying and DLQ redrive.
"""

import base64
import json
import time

import requests

from ls_helpers import receive_all

ECHO = """
import os
import boto3  # handlers import boto3, as they can on AWS

def handler(event, context):
    return {
        "echo": event,
        "greeting": os.environ["GREETING"],
        "region": os.environ.get("AWS_REGION"),
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "boto3": boto3.__version__,
    }
"""

RAISES = """
def handler(event, context):
    print("about to fail")
    raise ValueError("boom: " + event.get("why", "?"))
"""

SLEEPS = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


def test_sync_invoke_returns_value(client, make_function, name):
    fn = name("echo")
    make_function(fn, ECHO, env={"GREETING": "hi"})
    resp = client("lambda").invoke(FunctionName=fn, Payload=json.dumps({"n": 1}), LogType="Tail")
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    body = json.loads(resp["Payload"].read())
    assert body["echo"] == {"n": 1}
    assert body["greeting"] == "hi"  # the function's environment variables
    assert body["region"] == "us-east-1"  # LocalStack's standard AWS_* variables
    assert body["function_name"] == fn
    assert body["request_id"]
    assert 0 < body["remaining_ms"] <= 3000
    assert body["boto3"]


def test_raising_function_is_function_error(client, make_function, name):
    fn = name("raises")
    make_function(fn, RAISES)
    resp = client("lambda").invoke(FunctionName=fn, Payload=b'{"why": "test"}', LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "boom: test"
    assert any("raise ValueError" in frame for frame in err["stackTrace"])
    logs = base64.b64decode(resp["LogResult"]).decode()
    assert "about to fail" in logs  # handler output reaches the logs endpoint
    assert "[ERROR] ValueError: boom: test" in logs


def test_handler_that_cannot_import_is_a_function_error(client, make_function, name):
    fn = name("badimport")
    make_function(fn, "import not_a_module_anywhere\n\ndef handler(e, c):\n    return 1\n")
    resp = client("lambda").invoke(FunctionName=fn)
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert "not_a_module_anywhere" in err["errorMessage"]


def test_past_timeout_is_reported_as_timed_out(client, make_function, name):
    fn = name("sleeps")
    make_function(fn, SLEEPS, timeout=1)
    lam = client("lambda")
    started = time.monotonic()
    resp = lam.invoke(FunctionName=fn, Payload=b'{"sleep": 10}')
    elapsed = time.monotonic() - started
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert "Task timed out after 1.00 seconds" in err["errorMessage"]
    assert elapsed < 6, f"timeout not enforced: invoke took {elapsed:.1f}s"
    # The environment recovers: the next invoke runs in a fresh runtime.
    resp = lam.invoke(FunctionName=fn, Payload=b'{"sleep": 0}')
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) == "done"


# Forwards every record of each batch, tagged with the batch size, to OUT_URL:
# that proves delivery, batching, and boto3 reaching LocalStack from a handler.
FORWARD = """
import json, os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    records = event["Records"]
    for r in records:
        sqs.send_message(QueueUrl=os.environ["OUT_URL"],
                         MessageBody=json.dumps({"body": r["body"], "batch": len(records),
                                                 "source": r["eventSource"]}))
    return {"processed": len(records)}
"""


def test_sqs_event_source_mapping_delivers_a_batch(client, make_function, make_queue, make_mapping, name):
    sqs = client("sqs")
    in_url, in_arn = make_queue(name("in"))
    out_url, _ = make_queue(name("out"))
    bodies = [f"task-{i}" for i in range(5)]
    sqs.send_message_batch(
        QueueUrl=in_url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    fn = name("fwd")
    make_function(fn, FORWARD, timeout=10, env={"OUT_URL": out_url})
    make_mapping(EventSourceArn=in_arn, FunctionName=fn, BatchSize=10,
                 MaximumBatchingWindowInSeconds=1)
    got = [json.loads(m["Body"]) for m in receive_all(sqs, out_url, want=5, timeout=60)]
    assert sorted(g["body"] for g in got) == bodies
    assert all(g["source"] == "aws:sqs" for g in got)
    assert max(g["batch"] for g in got) > 1, "records arrived one per invocation, not as a batch"


PROXY = """
import json

def handler(event, context):
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-From": "lambda"},
        "body": json.dumps({"method": event["httpMethod"], "path": event["path"],
                            "got": json.loads(event["body"] or "null")}),
    }
"""


def test_api_gateway_aws_proxy_returns_status_and_body(client, endpoint, make_function, name):
    fn = name("proxy")
    fn_arn = make_function(fn, PROXY)
    apigw = client("apigateway")
    api_id = apigw.create_rest_api(name=name("api"))["id"]
    try:
        root = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        res = apigw.create_resource(restApiId=api_id, parentId=root["id"], pathPart="tasks")
        apigw.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="POST",
                         authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id, resourceId=res["id"], httpMethod="POST", type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations",
        )
        client("lambda").add_permission(
            FunctionName=fn, StatementId="apigw", Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
        apigw.create_deployment(restApiId=api_id, stageName="test")
        url = f"{endpoint}/restapis/{api_id}/test/_user_request_/tasks"
        resp = requests.post(url, json={"task": "x"}, timeout=60)
        assert resp.status_code == 201
        assert resp.headers.get("X-From") == "lambda"
        assert resp.json() == {"method": "POST", "path": "/tasks", "got": {"task": "x"}}
    finally:
        apigw.delete_rest_api(restApiId=api_id)


# Records every attempt on ATTEMPTS_URL, then fails, so the message is retried.
ALWAYS_RAISES = """
import os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    for r in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["ATTEMPTS_URL"], MessageBody=r["body"])
    raise RuntimeError("cannot process " + event["Records"][0]["body"])
"""


def test_always_failing_message_reaches_dlq_after_max_receive_count(
    client, make_function, make_queue, make_mapping, name
):
    sqs = client("sqs")
    max_receive = 2
    dlq_url, dlq_arn = make_queue(name("dlq"))
    q_url, q_arn = make_queue(
        name("q"),
        VisibilityTimeout=2,  # short, so retries take seconds
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
    )
    attempts_url, _ = make_queue(name("attempts"))
    fn = name("fails")
    make_function(fn, ALWAYS_RAISES, timeout=5, env={"ATTEMPTS_URL": attempts_url})
    make_mapping(EventSourceArn=q_arn, FunctionName=fn, BatchSize=1)
    started = time.monotonic()
    sqs.send_message(QueueUrl=q_url, MessageBody="poison")

    dead = receive_all(sqs, dlq_url, want=1, timeout=60)
    took = time.monotonic() - started
    assert [m["Body"] for m in dead] == ["poison"], f"nothing in the DLQ after {took:.0f}s"
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= max_receive
    attempts = receive_all(sqs, attempts_url, want=max_receive + 1, timeout=3)
    assert [m["Body"] for m in attempts] == ["poison"] * max_receive
    left = sqs.get_queue_attributes(
        QueueUrl=q_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert left == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
