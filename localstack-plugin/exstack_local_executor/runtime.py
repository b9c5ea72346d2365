"""One Lambda execution environment as a local Python process.

Started by executor.py; standard library only. It plays the part the init
binary plays inside LocalStack's Lambda containers:

1. serve ``POST /invoke`` on a free loopback port (written to
   $EXSTACK_RUNTIME_PORT_FILE), import the handler (the "init" phase), then
   ``POST $LOCALSTACK_RUNTIME_ENDPOINT/status/$LOCALSTACK_RUNTIME_ID/ready``;
2. for each invoke: run the handler with the function's timeout, capture what
   it writes to stdout/stderr, then POST ``/invocations/<id>/logs`` followed by
   ``/invocations/<id>/response`` (or ``/error``).

A handler that outlives its timeout cannot be interrupted safely, so the
runtime reports the timeout and exits; the executor starts a fresh process for
the next invoke, as AWS resets the sandbox after a timeout.
"""

import importlib
import json
import os
import queue
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENDPOINT = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"]
RUNTIME_ID = os.environ["LOCALSTACK_RUNTIME_ID"]
HANDLER = os.environ.get("_HANDLER", "")
TIMEOUT_S = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or 3)
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())

invocations: "queue.Queue[dict]" = queue.Queue()
# The runtime's own stderr (the executor's log file), saved before handlers
# get fds 1 and 2 pointed at a capture file.
console = os.fdopen(os.dup(2), "w", buffering=1, errors="replace")
ORIGINAL_PPID = os.getppid()


def post(path: str, body) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"{ENDPOINT}{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    # LocalStack is on loopback: never go through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(req, timeout=30).read()


class InvokeHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invoke":
            self.send_response(404)
            self.end_headers()
            return
        invocations.put(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the log for handler output
        pass


class LambdaContext:
    """The subset of the AWS Python runtime's context object handlers use."""

    def __init__(self, request_id: str, arn: str, deadline: float):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_body(exc: BaseException, error_type: str | None = None) -> dict:
    """The error document the AWS Python runtime produces for an exception."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def load_handler():
    """Init phase: import module.function from the task root. Returns
    (handler, None) or (None, error document) — on AWS an init failure is
    reported on the invoke, so we do the same rather than fail start-up."""
    sys.path.insert(0, TASK_ROOT)
    module_name, _, func_name = HANDLER.rpartition(".")
    if not module_name:
        return None, {"errorMessage": f"Bad handler '{HANDLER}': not enough values to unpack",
                      "errorType": "Runtime.MalformedHandlerName", "requestId": "", "stackTrace": []}
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as e:
        body = error_body(e, "Runtime.ImportModuleError")
        body["errorMessage"] = f"Unable to import module '{module_name}': {e}"
        traceback.print_exc(file=console)
        return None, body
    func = getattr(module, func_name, None)
    if func is None:
        return None, {"errorMessage": f"Handler '{func_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}
    return func, None


class Capture:
    """Point fds 1 and 2 at a temp file for one invoke, so prints, logging and
    child processes of the handler all land in that invoke's logs."""

    def __enter__(self):
        self.file = tempfile.TemporaryFile()
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = os.dup(1), os.dup(2)
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        return self

    def read(self) -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        self.file.seek(0)
        return self.file.read().decode(errors="replace")

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.saved[0])
        os.close(self.saved[1])


def invoke(handler, init_error, inv: dict) -> None:
    request_id = inv["invoke-id"]
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    started = time.monotonic()
    deadline = started + TIMEOUT_S
    outcome: dict = {}
    reported = threading.Lock()  # exactly one of result / timeout is posted

    def finish(kind: str, body, handler_logs: str) -> bool:
        if not reported.acquire(blocking=False):
            return False
        duration_ms = (time.monotonic() - started) * 1000
        logs = (f"START RequestId: {request_id} Version: {version}\n{handler_logs}"
                f"END RequestId: {request_id}\n"
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Billed Duration: {int(duration_ms) + 1} ms\t"
                f"Memory Size: {os.environ.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB\n")
        console.write(logs)
        # logs first: LocalStack attaches the last logs it got to the result.
        post(f"/invocations/{request_id}/logs", {"logs": logs})
        post(f"/invocations/{request_id}/{kind}", body)
        return True

    with Capture() as cap:
        if init_error is not None:
            print(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}", file=sys.stderr)
            finish("error", init_error, cap.read())
            return

        def run_handler():
            try:
                result = handler(json.loads(inv.get("payload") or "{}"),
                                 LambdaContext(request_id, inv.get("invoked-function-arn", ""), deadline))
                try:
                    outcome["body"] = json.dumps(result).encode()
                    outcome["kind"] = "response"
                except (TypeError, ValueError) as e:
                    outcome["body"] = {"errorMessage": f"Unable to marshal response: {e}",
                                       "errorType": "Runtime.MarshalError", "requestId": "",
                                       "stackTrace": []}
                    outcome["kind"] = "error"
            except BaseException as e:  # a handler's SystemExit is a function error too
                body = error_body(e)
                print(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n"
                      + "".join(traceback.format_exception(e)), end="", file=sys.stderr)
                outcome["body"], outcome["kind"] = body, "error"

        worker = threading.Thread(target=run_handler, name="handler", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            body = {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after {TIMEOUT_S:.2f} seconds"}
            finish("error", body, cap.read() + f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} "
                   f"{request_id} Task timed out after {TIMEOUT_S:.2f} seconds\n")
            console.flush()
            os._exit(0)  # the stuck handler thread cannot be stopped; start afresh
        finish(outcome["kind"], outcome["body"], cap.read())


def watch_parent() -> None:
    """Exit if LocalStack goes away, so no runtime outlives it."""
    while True:
        if os.getppid() != ORIGINAL_PPID:
            os._exit(0)
        time.sleep(1)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), InvokeHandler)
    threading.Thread(target=server.serve_forever, name="invoke-server", daemon=True).start()
    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    with open(os.environ["EXSTACK_RUNTIME_PORT_FILE"], "w") as f:
        f.write(str(server.server_address[1]))
    handler, init_error = load_handler()
    post(f"/status/{RUNTIME_ID}/ready", b"")
    while True:
        inv = invocations.get()
        try:
            invoke(handler, init_error, inv)
        except Exception:  # a failed callback must not end the environment
            traceback.print_exc(file=console)


if __name__ == "__main__":
    main()
