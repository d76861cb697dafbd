"""The example in python/README.md runs as printed against a real broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import Broker

README = Path(__file__).resolve().parents[1] / "README.md"
SRC = Path(__file__).resolve().parents[1] / "src"


def agent_example() -> str:
    """The first python block of the "For agent developers (Python)" section."""
    text = README.read_text()
    section = text.split("## For agent developers (Python)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the section has a python example"
    return match.group(1)


def test_the_readme_example_runs(broker: Broker, tmp_path: Path) -> None:
    code = agent_example()
    assert 10 <= len(code.strip().splitlines()) <= 20
    script = tmp_path / "example.py"
    script.write_text(code)
    creds = broker.create_client(kind="agent")
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "MANDATE_ISSUER": broker.url,
        "MANDATE_CLIENT_ID": creds["client_id"],
        "MANDATE_CLIENT_SECRET": creds["client_secret"],
    }
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "granted: [{'type': 'agent_task'" in run.stdout
    assert "call the CRM with: ['Authorization', 'DPoP']" in run.stdout
    status, body = broker.admin("GET", f"/admin/grants?client_id={creds['client_id']}")
    assert status == 200, body
    grants = body["grants"]
    assert len(grants) == 1 and grants[0]["status"] == "revoked", grants
