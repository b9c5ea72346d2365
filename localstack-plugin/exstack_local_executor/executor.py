"""RuntimeExecutor that runs a Lambda execution environment as a local process.

LocalStack's default executor starts a container whose init process calls
back into LocalStack (``/_localstack_lambda/<id>/...``). We keep that protocol
and LocalStack's own ``ExecutorEndpoint`` for the LocalStack side, and replace
only the container with ``runtime.py`` started by the Python running LocalStack
(its venv has boto3, which handlers expect as on AWS).
"""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from exstack_local_executor import patches

LOG = logging.getLogger(__name__)

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
HOST = "127.0.0.1"
# Variables of the LocalStack process worth passing on; everything else the
# function sees comes from LocalStack (AWS_* etc.) or the function's own config,
# as in a real execution environment.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


class LocalRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id)
        self.process: subprocess.Popen | None = None
        self.env_vars: dict[str, str] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix=f"exstack-lambda-{self.id[:8]}-"))
        self.log_path = self.workdir / "runtime.log"
        self.current_request_id: str | None = None
        self.stopped = False
        self.lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self.env_vars = env_vars
        self._spawn()

    def _spawn(self) -> None:
        """Start runtime.py and block until it has called .../status/<id>/ready."""
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env.update({k: str(v) for k, v in self.env_vars.items()})
        # The code is not at /var/task here; point the runtime (and handlers that
        # read LAMBDA_TASK_ROOT) at the unpacked zip instead.
        env["LAMBDA_TASK_ROOT"] = code_dir
        env["LAMBDA_RUNTIME_DIR"] = str(RUNTIME_SCRIPT.parent)
        env["PYTHONPATH"] = code_dir
        env["PYTHONUNBUFFERED"] = "1"
        env["EXSTACK_RUNTIME_PORT_FILE"] = str(self.workdir / "port")
        (self.workdir / "port").unlink(missing_ok=True)

        self.executor_endpoint.start()  # registers routes, fresh startup future
        log = open(self.log_path, "ab")
        # -I: ignore PYTHON* variables of the host and the user site; the
        # runtime puts LAMBDA_TASK_ROOT on sys.path itself. cwd = task root, as
        # on AWS (/var/task). No new session: the process stays in LocalStack's
        # process group, so `scripts/localstack stop` ends it too.
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(RUNTIME_SCRIPT)],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        threading.Thread(
            target=self._watch, args=(self.process,), name=f"exstack-watch-{self.id[:8]}", daemon=True
        ).start()
        self.executor_endpoint.wait_for_startup()
        port = int((self.workdir / "port").read_text())
        self.executor_endpoint.container_address = HOST
        self.executor_endpoint.container_port = port
        LOG.debug("Lambda runtime %s for %s ready on port %s (pid %s)", self.id,
                  self.function_version.qualified_arn, port, self.process.pid)

    def _watch(self, process: subprocess.Popen) -> None:
        """Turn an unexpected exit of the runtime into an error LocalStack sees,
        instead of leaving it waiting on a future nobody will complete."""
        code = process.wait()
        if self.stopped or process is not self.process:
            return
        endpoint = self.executor_endpoint
        startup = endpoint.startup_future
        if startup is not None and not startup.done():
            startup.set_exception(StatusErrorException(
                "Environment startup failed",
                payload=f"runtime exited with status {code} during start-up; see {self.log_path}".encode(),
            ))
            return
        invocation = endpoint.invocation_future
        if invocation is not None and not invocation.done():
            # What AWS reports when the runtime process dies mid-invoke.
            payload = (
                '{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: %s Error: '
                'Runtime exited with error: exit status %d"}' % (self.current_request_id, code)
            )
            invocation.set_result(InvocationResult(
                self.current_request_id or "", payload.encode(), is_error=True, logs=self.get_logs()
            ))

    def stop(self) -> None:
        self.stopped = True
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:  # already unregistered, never started, ...
            LOG.debug("Error shutting down executor endpoint %s: %s", self.id, e)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- invocation ----------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        with self.lock:
            # After a timeout the runtime exits (its handler thread cannot be
            # killed), just as AWS resets the sandbox; the next invoke gets a
            # fresh process, i.e. a new init, as on AWS.
            if self.process is None or self.process.poll() is not None:
                LOG.debug("Lambda runtime %s not running; starting a new one", self.id)
                self._spawn()
            self.current_request_id = payload.get("invoke-id")
            process = self.process
        result = self.executor_endpoint.invoke(payload)
        if result.is_error and b"Sandbox.Timedout" in (result.payload or b""):
            # The runtime exits right after reporting a timeout; wait for that,
            # so an immediate next invoke respawns instead of hitting a closing port.
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        return result

    # --- addresses -----------------------------------------------------------

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        # The runtime shares the host with LocalStack, so AWS_ENDPOINT_URL in
        # the function's environment is http://127.0.0.1:<gateway port>.
        return HOST

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{HOST}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- per-version preparation ----------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        cfg = function_version.config
        if cfg.package_type != PackageType.Zip:
            raise LambdaRuntimeException("exstack-local executor runs zip packages only, not images")
        runtime = str(cfg.runtime or "")
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(
                f"exstack-local executor runs Python functions only; got runtime {runtime!r}"
            )
        if cfg.code:
            cfg.code.prepare_for_execution()  # unpacks the zip into a local folder

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # nothing beyond LocalStack's own unpacked code

    @classmethod
    def validate_environment(cls) -> bool:
        # Called once when LocalStack's Lambda service starts, before any function exists.
        patches.check()
        return True
