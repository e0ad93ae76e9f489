"""Lambda gaps of the embedded emulator, filled inside the emulator process only.

Why: moto 5.2.5 has no provisioned concurrency API (every call answers a bare HTTP 404), and
`UpdateFunctionCode` ignores `Architectures`. Without these patches the Lambda provisioner
would need emulator-only branches; with them it has one code path, the real-AWS one, and the
tests run it.

What this teaches the emulator, as AWS behaves when capacity is available at once:

1. `PutProvisionedConcurrencyConfig` on a function's alias or version stores the requested
   number and reports it `READY` (allocated = available = requested);
2. `GetProvisionedConcurrencyConfig` returns it, or AWS's
   `ProvisionedConcurrencyConfigNotFoundException` (404) when there is none;
3. `DeleteProvisionedConcurrencyConfig` removes it (204); deleting the function drops them;
4. `UpdateFunctionCode` with `Architectures` changes the function's architecture, as on AWS.

Nothing here ever runs against real AWS: `portal.emulator.start` installs it in the process
that serves the emulator.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

_installed = False
PATH = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)"
    r"/provisioned-concurrency/?$"
)


def _not_found(function_name: str, qualifier: str):
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError(
        "ProvisionedConcurrencyConfigNotFoundException",
        f"No Provisioned Concurrency Config found for this function: {function_name}:{qualifier}",
    )
    error.code = 404
    return error


def install() -> None:
    """Patch moto's Lambda in this (the emulator's) process. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.awslambda import models, urls
    from moto.awslambda.responses import LambdaResponse
    from moto.core.utils import utcnow

    def _store(backend) -> dict[tuple[str, str], dict[str, Any]]:
        # {(function name, qualifier): config}, on the backend: a reset (new backends) forgets it.
        return backend.__dict__.setdefault("slipway_provisioned_concurrency", {})

    def _target(response: LambdaResponse) -> tuple[str, str]:
        function_name = unquote(response.path.rsplit("/", 2)[-2]).split(":")[-1]
        qualifier = response.querystring.get("Qualifier", [""])[0]
        # AWS requires the function and the alias/version to exist.
        response.backend.get_function(function_name, qualifier or None)
        return function_name, qualifier

    def put_provisioned_concurrency_config(self: LambdaResponse):
        function_name, qualifier = _target(self)
        wanted = int(json.loads(self.body or "{}")["ProvisionedConcurrentExecutions"])
        config = {
            "RequestedProvisionedConcurrentExecutions": wanted,
            "AvailableProvisionedConcurrentExecutions": wanted,
            "AllocatedProvisionedConcurrentExecutions": wanted,
            "Status": "READY",
            "LastModified": utcnow().strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        }
        _store(self.backend)[(function_name, qualifier)] = config
        return 202, {"status": 202}, json.dumps(config)

    def get_provisioned_concurrency_config(self: LambdaResponse):
        function_name, qualifier = _target(self)
        config = _store(self.backend).get((function_name, qualifier))
        if config is None:
            raise _not_found(function_name, qualifier)
        return 200, {}, json.dumps(config)

    def delete_provisioned_concurrency_config(self: LambdaResponse):
        function_name, qualifier = _target(self)
        _store(self.backend).pop((function_name, qualifier), None)
        return 204, {"status": 204}, ""

    original_delete = models.LambdaBackend.delete_function

    def delete_function(self, function_name: str, qualifier: str | None = None):
        name = function_name.split(":")[-1]
        store = _store(self)
        for key in [k for k in store if k[0] == name]:
            store.pop(key)
        return original_delete(self, function_name, qualifier)

    original_update_code = models.LambdaFunction.update_function_code

    def update_function_code(self, updated_spec: dict[str, Any]) -> dict[str, Any]:
        if updated_spec.get("Architectures"):
            self.architectures = list(updated_spec["Architectures"])
        return original_update_code(self, updated_spec)

    LambdaResponse.put_provisioned_concurrency_config = put_provisioned_concurrency_config
    LambdaResponse.get_provisioned_concurrency_config = get_provisioned_concurrency_config
    LambdaResponse.delete_provisioned_concurrency_config = delete_provisioned_concurrency_config
    models.LambdaBackend.delete_function = delete_function
    models.LambdaFunction.update_function_code = update_function_code
    urls.url_paths[PATH] = LambdaResponse.dispatch
    _installed = True
