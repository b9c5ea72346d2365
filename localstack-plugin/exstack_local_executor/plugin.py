"""plux plugin that hands LocalStack our executor class.

Kept import-light: plux loads every plugin module of the namespace to read its
name, so the executor itself is imported only when LocalStack asks for it.
"""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalExecutorPlugin(RuntimeExecutorPlugin):
    name = "exstack-local"

    def load(self, *args, **kwargs):
        from exstack_local_executor.executor import LocalRuntimeExecutor

        return LocalRuntimeExecutor
