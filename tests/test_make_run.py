"""`make run` serves with gunicorn and WhiteNoise (the Procfile's `web`), runserver only with
DEBUG=1 — checked by starting the Procfile's own command."""

import http.client
import importlib.util
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _run_module():
    spec = importlib.util.spec_from_file_location("slipway_run", ROOT / "bin" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_run_picks_gunicorn_unless_debug():
    run = _run_module()
    assert "web" in run.app_processes({"DEBUG": "0"})
    assert "web-debug" not in run.app_processes({})
    debug = run.app_processes({"DEBUG": "1"})
    assert "web-debug" in debug and "web" not in debug
    assert "emulator" not in run.app_processes({"SLIPWAY_AWS": "real"})


def _procfile_command(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return shlex.split(line.split(":", 1)[1])
    raise AssertionError(f"no {name} in the Procfile")


@pytest.mark.django_db
def test_the_web_process_is_gunicorn_with_threads_serving_static_files():
    command = _procfile_command("web")
    assert command[0].endswith("gunicorn")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "SLIPWAY_PORT": str(port),
        "DEBUG": "0",
        "SLIPWAY_SECURE_COOKIES": "0",
        "SLIPWAY_ACCESS_LOG": "",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", "/healthz")
                health = conn.getresponse()
                health.read()
                assert health.status == 200
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.3)
        conn.request("GET", "/static/css/slipway.css")
        css = conn.getresponse()
        body = css.read()
        assert css.status == 200 and css.getheader("Content-Type").startswith("text/css")
        assert b"{" in body
        conn.request("GET", "/catalog/")
        response = conn.getresponse()
        response.read()
        assert response.status == 302 and "/login/" in response.getheader("Location")
    finally:
        server.terminate()
        stderr = server.communicate(timeout=20)[1].decode()
    assert "gthread" in stderr  # threads, as portal/gunicorn.conf.py asks
