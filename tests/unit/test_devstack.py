"""`./dev up`'s own parts: it refuses busy ports before starting anything, records the running
stack for the `./dev demo-*` helpers, prints a CLI line that aims at its port, and the
emulator it starts serves the demo portal at its own address, in Russian."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devstack import running
from devstack.__main__ import cli_env, cli_line
from devstack.ports import is_busy
from devstack.processes import ROOT, free_port, split_workers, stop, wait_for


def clean_env() -> dict[str, str]:
    """No real portal and no Redis of one's own: `./dev up` would run the demo."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("B24_", "GOOGLE_", "REDIS_URL", "PUBLIC_BASE_URL", "PORT"))}


def test_a_busy_port_is_refused_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        others = [free_port() for _ in range(3)]
        result = subprocess.run(
            [sys.executable, "-m", "devstack", "--port", str(busy), "--emulator-port",
             str(others[0]), "--redis-port", str(others[1]), "--drive-port", str(others[2])],
            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {busy} (the web app) is in use" in result.stderr
    assert "--port N" in result.stderr
    for port in others:  # none of the others was started
        assert str(port) not in result.stderr and not is_busy(port)
    assert result.stdout == ""


def test_a_free_port_is_free_and_a_listening_one_busy():
    port = free_port()
    assert not is_busy(port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert is_busy(port)


def test_the_running_stack_is_found_by_the_helpers(tmp_path: Path, capsys: pytest.CaptureFixture):
    state = tmp_path / "devstack.json"
    assert running.read(state) is None and running.main(["emulator"], state) == 1
    assert "./dev up" in capsys.readouterr().err
    running.write({"emulator": "http://127.0.0.1:18900", "cli_env": {"A": "1", "B": "2"}},
                  state)
    assert running.main(["emulator"], state) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:18900\n"
    assert running.main(["cli_env"], state) == 0
    assert capsys.readouterr().out == "A=1 B=2\n"
    assert running.main(["drive"], state) == 1  # not started in this run
    running.clear(state)
    assert not state.exists()


def test_a_record_left_by_a_killed_stack_is_ignored(tmp_path: Path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    state = tmp_path / "devstack.json"
    state.write_text(json.dumps({"emulator": "http://127.0.0.1:1", "pid": int(gone)}))
    assert running.read(state) is None


def test_the_cli_line_aims_at_this_stack_and_prints_no_real_secret():
    env = {"REDIS_URL": "redis://127.0.0.1:6390/0", "PUBLIC_BASE_URL": "http://127.0.0.1:8123",
           "B24_CLIENT_ID": "local.real", "B24_CLIENT_SECRET": "real-secret",
           "CONNECTOR_SECRET_KEY": "k", "B24_OAUTH_SERVER": "https://oauth.bitrix.info"}
    real = cli_line(cli_env(env, {"REDIS_URL"}, demo=False))
    assert "PUBLIC_BASE_URL=http://127.0.0.1:8123" in real
    assert "REDIS_URL=redis://127.0.0.1:6390/0" in real
    assert "real-secret" not in real and "CONNECTOR_SECRET_KEY" not in real
    assert "B24_CLIENT_ID" not in real  # the operator's own, already in their environment
    demo = cli_env({**env, "B24_CLIENT_SECRET": "demo-secret"},
                   {"REDIS_URL", "B24_CLIENT_ID", "B24_CLIENT_SECRET", "B24_OAUTH_SERVER"}, True)
    assert demo["B24_CLIENT_SECRET"] == "demo-secret" and demo["PUBLIC_BASE_URL"]
    assert cli_line(demo).endswith("$(cat var/dev-keys.env | xargs) .venv/bin/crm-connector "
                                   "portals")


def test_the_emulator_serves_the_demo_portal_at_its_own_address_in_russian():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", str(port)], cwd=ROOT,
                            env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        portal = wait_for(lambda: requests.get(f"{url}/_emulator/portal", timeout=2).json(),
                          30, 0.1, "the emulator")
        assert portal["domain"] == f"127.0.0.1:{port}"  # what the app's frame policy names
        desktop = requests.get(f"{url}/", timeout=5)
        assert desktop.url == f"{url}/demo/" and '<html lang="ru">' in desktop.text
    finally:
        stop([proc])


def test_it_runs_a_worker_for_documents_alone_and_one_for_every_other_queue():
    from connector.queue import DOCUMENTS, QUEUE_NAMES

    layout = {name: args[args.index("--queues") + 1].split(",")
              for name, args in split_workers()}
    assert layout == {"worker": [n for n in QUEUE_NAMES if n != DOCUMENTS],
                      "documents-worker": [DOCUMENTS]}
