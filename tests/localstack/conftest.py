"""Fixtures for tests against a real LocalStack.

The endpoint is $LOCALSTACK_ENDPOINT, else http://127.0.0.1:${LOCALSTACK_PORT:-4566}.
When LOCALSTACK_ENDPOINT is unset and nothing answers there, the session starts
one with scripts/localstack (same port) and stops it at the end (only the one
it started).
Each test makes uniquely named resources and deletes them afterwards.
"""

import os
import subprocess
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from ls_helpers import DEFAULT_ENDPOINT, LOCALSTACK_SCRIPT, REGION, ROLE_ARN, zip_source


def pytest_collection_modifyitems(items):
    # Nothing here may hang CI: bound every test (pytest-timeout).
    for item in items:
        if "tests/localstack" in str(item.fspath) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(180))


def is_healthy(endpoint: str) -> bool:
    try:
        return requests.get(f"{endpoint}/_localstack/health", timeout=2).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def endpoint():
    default = f"http://127.0.0.1:{os.environ['LOCALSTACK_PORT']}" if os.environ.get(
        "LOCALSTACK_PORT") else DEFAULT_ENDPOINT
    url = os.environ.get("LOCALSTACK_ENDPOINT", default).rstrip("/")
    started = False
    if not is_healthy(url):
        if "LOCALSTACK_ENDPOINT" in os.environ:
            pytest.fail(f"LOCALSTACK_ENDPOINT={url} does not answer /_localstack/health")
        subprocess.run([str(LOCALSTACK_SCRIPT), "start"], check=True)
        started = True
    yield url
    if started:
        subprocess.run([str(LOCALSTACK_SCRIPT), "stop"], check=True)


@pytest.fixture(scope="session")
def client(endpoint):
    cfg = Config(retries={"max_attempts": 2}, read_timeout=120, connect_timeout=5)

    def make(service: str):
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=cfg,
        )

    return make


@pytest.fixture
def name():
    """A unique resource-name factory: name('fn') -> 'exs-<8 hex>-fn'."""
    tag = uuid.uuid4().hex[:8]
    return lambda suffix: f"exs-{tag}-{suffix}"


@pytest.fixture
def make_function(client):
    """Create a python3.12 function from source; wait until Active; delete it after."""
    lam = client("lambda")
    created = []

    def make(name, source, handler="app.handler", timeout=3, env=None):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE_ARN,
            Handler=handler,
            Code={"ZipFile": zip_source({"app.py": source})},
            Timeout=timeout,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    yield make
    for fn in created:
        try:
            lam.delete_function(FunctionName=fn)
        except lam.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def make_queue(client):
    """Create an SQS queue; returns (url, arn); deleted after the test."""
    sqs = client("sqs")
    urls = []

    def make(name, **attributes):
        url = sqs.create_queue(
            QueueName=name, Attributes={k: str(v) for k, v in attributes.items()}
        )["QueueUrl"]
        urls.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    yield make
    for url in urls:
        try:
            sqs.delete_queue(QueueUrl=url)
        except Exception:
            pass


@pytest.fixture
def make_mapping(client):
    """Create an event source mapping, wait until Enabled; delete it after."""
    lam = client("lambda")
    uuids = []

    def make(**kwargs):
        m = lam.create_event_source_mapping(**kwargs)
        uuids.append(m["UUID"])
        deadline = time.monotonic() + 60
        while lam.get_event_source_mapping(UUID=m["UUID"])["State"] != "Enabled":
            assert time.monotonic() < deadline, "event source mapping never became Enabled"
            time.sleep(0.5)
        return m["UUID"]

    yield make
    for u in uuids:
        try:
            lam.delete_event_source_mapping(UUID=u)
        except Exception:
            pass
