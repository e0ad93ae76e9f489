"""A small fault-injecting HTTP proxy in front of the AWS emulator, for tests.

The emulator cannot throttle, fail or stall on demand; this proxy can. Tests add rules matched
by AWS operation name ("UpdateFunctionConfiguration", "CreateRole", ...): answer N times with
an AWS-shaped error (in the wire format of that service's protocol), or delay the request.
Everything else is forwarded untouched. It also counts requests per operation.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# Lambda speaks REST-JSON: the operation is in the method and path.
LAMBDA_ROUTES = [
    ("POST", r"^/2015-03-31/functions/?$", "CreateFunction"),
    ("GET", r"^/2015-03-31/functions/?$", "ListFunctions"),
    ("GET", r"^/2015-03-31/functions/[^/]+/?$", "GetFunction"),
    ("DELETE", r"^/2015-03-31/functions/[^/]+/?$", "DeleteFunction"),
    ("GET", r"^/2015-03-31/functions/[^/]+/configuration$", "GetFunctionConfiguration"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/configuration$", "UpdateFunctionConfiguration"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/code$", "UpdateFunctionCode"),
    ("POST", r"^/2015-03-31/functions/[^/]+/versions$", "PublishVersion"),
]


def operation_of(method: str, path: str, headers, body: bytes) -> tuple[str, str]:
    """(operation, protocol) of an AWS request: protocol is json, rest-json or query."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    clean = urlparse(path).path
    for verb, pattern, name in LAMBDA_ROUTES:
        if method == verb and re.match(pattern, clean):
            return name, "rest-json"
    if body and b"Action=" in body:
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        return action, "query"
    return f"{method} {clean}", "rest-json"


def error_response(protocol: str, status: int, code: str, message: str):
    """(headers, body) of an AWS error in the given protocol's wire format."""
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return {"Content-Type": "application/x-amz-json-1.1"}, body
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fault-proxy</RequestId>"
            "</ErrorResponse>"
        ).encode()
        return {"Content-Type": "text/xml"}, body
    body = json.dumps({"message": message, "Type": "User"}).encode()
    return {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body


@dataclass
class Rule:
    """Fail (or delay) the next `times` requests for `operation` ("*": any operation)."""

    operation: str
    times: int = 1
    status: int = 400
    code: str = "ThrottlingException"
    message: str = "Rate exceeded"
    delay: float = 0.0  # seconds to hold the request before forwarding (no error)


class FaultProxy:
    def __init__(self, upstream: str):
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.rules: list[Rule] = []
        self.counts: Counter = Counter()
        self.faults: Counter = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation, protocol = operation_of(self.command, self.path, self.headers, body)
                rule = proxy._take(operation)
                if rule and not rule.delay:
                    headers, payload = error_response(
                        protocol, rule.status, rule.code, rule.message
                    )
                    self.send_response(rule.status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if rule:
                    time.sleep(rule.delay)
                self._forward(body)

            def _forward(self, body: bytes):
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"{proxy.upstream[0]}:{proxy.upstream[1]}"
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                # The client may have died while we held its request (the kill test does that).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, operation: str) -> Rule | None:
        with self.lock:
            self.counts[operation] += 1
            for rule in self.rules:
                if rule.operation in (operation, "*") and rule.times > 0:
                    rule.times -= 1
                    self.faults[operation] += 1
                    return rule
        return None

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.counts.clear()
            self.faults.clear()

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
