"""Fix for a lost-update race in LocalStack 2026.3.0's Lambda service ("Pending forever").

A function version lives in the store as a frozen ``FunctionVersion``; every change
replaces it with ``function.versions[q] = dataclasses.replace(old, ...)``, a
read-modify-write. Two writers race:

- the version manager, once the code is prepared, writes ``state=Active``
  (``LambdaService.update_version_state``, in a ``lambda-service-task`` thread);
- ``AddPermission`` / ``RemovePermission`` bump the revision id by writing back a copy
  of the version they read (``provider.add_permission``, "dirty hack for bumping the
  revision id", with a TODO asking whether it needs ``function.lock``).

Neither holds ``function.lock``. When AddPermission reads the version while it is
still Pending and writes its copy back after the version manager stored Active, the
Active state is lost: the function stays ``State: Pending`` forever, with no error
anywhere (the version manager and its event manager do run). exstack adds the API
Gateway permission to ``api-enqueue`` right after CreateFunction, so on a loaded
machine (8 LocalStacks on 2 cores) this hit about one ``up`` in a few.

The fix makes those writers take ``function.lock`` (an RLock, which TagResource and
UntagResource already take around the same kind of write), so each read-modify-write
sees the other's result. LocalStack resolves the provider's handler methods when it
builds the service, so the provider must be patched before that: an
``on_infra_start`` hook arranges for the patches to be applied right after the two
modules are first imported (LocalStack loads the Lambda service lazily; importing it
at start-up would cost ~1 s of every start).
"""

from __future__ import annotations

import functools
import importlib.abc
import logging
import sys
import threading
from typing import Callable

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

SERVICE_MODULE = "localstack.services.lambda_.invocation.lambda_service"
PROVIDER_MODULE = "localstack.services.lambda_.provider"
PATCHED = "_exstack_function_lock"


def _store_function(function_name_or_arn: str, context) -> object | None:
    """The store's Function for a request's FunctionName (name, partial or full ARN),
    or None when it cannot be resolved (the handler then raises the proper error)."""
    try:
        from localstack.services.lambda_ import api_utils
        from localstack.services.lambda_.invocation.models import lambda_stores

        account, region = api_utils.get_account_and_region(function_name_or_arn, context)
        name, _ = api_utils.get_name_and_qualifier(function_name_or_arn, None, context)
        return lambda_stores[account][region].functions.get(name)
    except Exception:
        return None


def _patch_service(module) -> None:
    cls = module.LambdaService
    original = cls.update_version_state
    if getattr(original, PATCHED, False):
        return

    @functools.wraps(original)
    def update_version_state(self, function_version, new_state):
        vid = function_version.id
        try:
            function = module.lambda_stores[vid.account][vid.region].functions.get(vid.function_name)
        except Exception:
            function = None
        if function is None:
            return original(self, function_version, new_state)
        with function.lock:
            return original(self, function_version, new_state)

    setattr(update_version_state, PATCHED, True)
    cls.update_version_state = update_version_state
    LOG.debug("exstack: LambdaService.update_version_state now holds function.lock")


def _patch_provider(module) -> None:
    cls = module.LambdaProvider
    if getattr(cls.add_permission, PATCHED, False):
        return

    def locked(original, name_of: Callable):
        if getattr(original, PATCHED, False):
            return original

        @functools.wraps(original)  # keeps the @handler attributes the skeleton reads
        def handler(self, context, *args, **kwargs):
            function = _store_function(name_of(args, kwargs), context)
            if function is None:
                return original(self, context, *args, **kwargs)
            with function.lock:
                return original(self, context, *args, **kwargs)

        setattr(handler, PATCHED, True)
        return handler

    # AddPermission is declared with expand=False (one request dict), RemovePermission
    # with expanded parameters (function_name first).
    cls.add_permission = locked(
        cls.add_permission,
        lambda args, kwargs: (args[0] if args else kwargs["request"]).get("FunctionName"),
    )
    cls.remove_permission = locked(
        cls.remove_permission,
        lambda args, kwargs: args[0] if args else kwargs.get("function_name"),
    )
    LOG.debug("exstack: LambdaProvider.add_permission/remove_permission now hold function.lock")


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a callback on a module right after its first import has executed it."""

    def __init__(self) -> None:
        self.callbacks: dict[str, Callable] = {}
        self.lock = threading.Lock()

    def find_spec(self, fullname, path, target=None):
        with self.lock:
            callback = self.callbacks.pop(fullname, None)
        if callback is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = loader.exec_module  # a loader instance is made per spec

        def exec_then_patch(module):
            exec_module(module)
            callback(module)

        loader.exec_module = exec_then_patch
        return spec


_after_import = _AfterImport()


def _when_imported(name: str, callback: Callable) -> None:
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    with _after_import.lock:
        _after_import.callbacks[name] = callback
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)


def apply() -> None:
    _when_imported(SERVICE_MODULE, _patch_service)
    _when_imported(PROVIDER_MODULE, _patch_provider)


def check() -> None:
    """Warn if the provider was built without the patch (the hook did not run, e.g. a
    stale plux entry-point cache); the version-manager side is patched here anyway."""
    provider = sys.modules.get(PROVIDER_MODULE)
    late = provider is not None and not getattr(provider.LambdaProvider.add_permission, PATCHED, False)
    apply()
    if late:
        LOG.warning(
            "exstack: LocalStack's Lambda provider was loaded before the exstack patches "
            "(on_infra_start hook missing?); AddPermission may still race with function "
            "activation and leave a function Pending"
        )


@hooks.on_infra_start()
def exstack_lambda_state_race_fix():
    apply()
