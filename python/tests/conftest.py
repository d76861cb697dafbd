"""Test fixtures: a real Mandate broker (node + its own redis-server on a free port) for the session."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "py-sdk-admin-token-" + uuid.uuid4().hex
CRM = "https://crm.example.com"
# The machine's own Redis lives there: never start on, connect to or flush it.
SYSTEM_REDIS_PORT = 6379
APPROVAL_INTERVAL_SEC = 1


def free_port() -> int:
    """A TCP port free on 127.0.0.1 a moment ago, never 6379."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != SYSTEM_REDIS_PORT:
            return port


def node_binary() -> str:
    """The repo's pinned Node (the `node` devDependency), else the one on PATH."""
    for candidate in (REPO / "node_modules/.bin/node", REPO / "node_modules/node/bin/node"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("node")
    if not found:
        pytest.exit("node is missing: run `npm ci` in the repo first", returncode=2)
    return found


def redis_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(p)), None
    )
    if not found:
        pytest.exit("redis-server is missing: apt-get install -y redis-server", returncode=2)
    return found


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def die_with_pytest() -> None:
    """In the child before exec: Linux sends it SIGTERM when pytest dies (even if killed), so a
    broker or redis-server never outlives an interrupted run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s, for a process this fixture started."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Broker:
    """A running broker and its admin API."""

    url: str

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                status, text = res.status, res.read()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()
        return status, (json.loads(text) if text else None)

    def create_client(self, **fields: Any) -> dict[str, Any]:
        """Registers a client; returns ``{client_id, client_secret?}``."""
        fields.setdefault("name", f"py {fields.get('kind', 'agent')} {uuid.uuid4().hex[:6]}")
        status, body = self.admin("POST", "/admin/clients", fields)
        assert status == 201, body
        return {"client_id": body["client"]["client_id"], "client_secret": body.get("client_secret")}

    def introspect(self, resource: dict[str, Any], token: str) -> dict[str, Any]:
        """RFC 7662 introspection with a resource client's credentials."""
        import base64
        import urllib.parse

        basic = base64.b64encode(f"{resource['client_id']}:{resource['client_secret']}".encode()).decode()
        req = urllib.request.Request(
            self.url + "/oauth/introspect",
            data=urllib.parse.urlencode({"token": token}).encode(),
            method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())

    def pending_approvals(self) -> list[dict[str, Any]]:
        status, body = self.admin("GET", "/admin/approvals?status=pending")
        assert status == 200, body
        return body["approvals"]

    def decide_when_pending(self, client_id: str, decision: str) -> threading.Thread:
        """In the background: waits for the client's pending approval, then decides it."""

        def run() -> None:
            deadline = time.time() + 20
            while time.time() < deadline:
                mine = [a for a in self.pending_approvals() if a["client_id"] == client_id]
                if mine:
                    status, body = self.admin("POST", f"/admin/approvals/{mine[0]['id']}", {"decision": decision})
                    assert status == 200, body
                    return
                time.sleep(0.1)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


CONFIG = """\
policy: {{ dir: {policies}, schema: {schema} }}
approvals: {{ ttl: 30, interval: {interval} }}
dpop: {{ require_nonce: true }}
"""


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """Starts redis-server on a free port and `mandate start` against it; stops both at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="mandate-pysdk-"))
    config = workdir / "mandate.yaml"
    config.write_text(
        CONFIG.format(
            policies=json.dumps(str(REPO / "config/policies")),
            schema=json.dumps(str(REPO / "config/schema.cedarschema")),
            interval=APPROVAL_INTERVAL_SEC,
        )
    )
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_binary(), "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_pytest,
    )
    node = None
    try:
        deadline = time.time() + 15
        while not ping(redis_port):
            if redis.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"redis-server on port {redis_port} did not start")
            time.sleep(0.05)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}",
            "MANDATE_HOST": "127.0.0.1",
            "MANDATE_PORT": str(free_port()),
            "MANDATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "MANDATE_WORKER_METRICS_PORT": "0",
            "MANDATE_REDIS_PREFIX": f"pysdk-{uuid.uuid4().hex[:8]}:",
            "MANDATE_CONFIG": str(config),
        }
        node = subprocess.Popen(
            [node_binary(), "--import", "tsx", "src/cli.ts", "start"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_pytest,
        )
        url = wait_for_listening(node)
        yield Broker(url)
    finally:
        if node is not None:
            stop(node)
        stop(redis)
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_listening(node: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """Reads the broker's output (and keeps draining it) until `mandate listening on <url>`."""
    found: list[str] = []
    output: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert node.stdout is not None
        for raw in node.stdout:
            line = raw.decode("utf-8", "replace")
            output.append(line)
            del output[:-200]
            match = re.search(r"mandate listening on (\S+)", line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(timeout) or not found:
        stop(node)
        raise RuntimeError("broker did not start:\n" + "".join(output[-60:]))
    return found[0]


class FakeClock:
    """A clock the test moves forward (epoch seconds, starting now)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def resource_client(broker: Broker) -> dict[str, Any]:
    return broker.create_client(kind="resource", resources=[CRM])


def task_id() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"
