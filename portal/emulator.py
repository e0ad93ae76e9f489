"""The embedded AWS emulator: moto in server mode on loopback, for development, demos and tests.

Slipway never imports moto anywhere else; boto3 reaches the emulator over real HTTP through
`AWS_ENDPOINT_URL`, exactly as it would reach AWS.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

# Set before any function is created: without it moto's Lambda needs Docker to invoke.
# Step Functions run their executions only when asked to (an emulator flag).
EMULATOR_CONFIG = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}


def emulator_url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def is_up(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Block until the emulator answers, or raise TimeoutError naming the URL."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(url):
            return
        time.sleep(0.1)
    raise TimeoutError(f"The AWS emulator at {url} did not answer within {timeout:.0f}s")


def configure(url: str) -> None:
    """Apply Slipway's emulator configuration (see EMULATOR_CONFIG)."""
    request = urllib.request.Request(
        f"{url}/moto-api/config",
        data=json.dumps(EMULATOR_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        resp.read()


def reset(url: str) -> None:
    """Wipe all emulated resources (config flags survive)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        resp.read()


def start(host: str, port: int):
    """Start moto's threaded server in this process and return it once it answers."""
    import os

    from moto.server import ThreadedMotoServer

    # moto's Step Functions executor calls Lambda over HTTP on localhost:$MOTO_PORT (5000 by
    # default): point it at this server, or every Task state fails to connect.
    os.environ["MOTO_PORT"] = str(port)

    from portal import (
        emulator_apigateway,
        emulator_autoscaling,
        emulator_ecs,
        emulator_elbv2,
        emulator_lambda,
        emulator_logs,
    )

    # The emulator's gaps, filled in its own process, so every provisioner has one code path
    # (the real-AWS one): ECS rollouts finish (nothing runs otherwise), Lambda provisioned
    # concurrency and architecture changes work, HTTP API stages can be updated.
    emulator_ecs.install()
    # AWS's 100 listener rules per load balancer (moto counts none); see emulator_elbv2.
    emulator_elbv2.install()
    emulator_lambda.install()
    emulator_apigateway.install()
    # Logs Insights queries otherwise ignore their `filter` clauses; see emulator_logs.
    emulator_logs.install()
    # Application Auto Scaling tags (moto implements none); see emulator_autoscaling.
    emulator_autoscaling.install()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    url = emulator_url(host, port)
    wait_until_up(url)
    configure(url)
    return server
