"""`./dev up`: Redis, the web app (gunicorn), a worker and, when no real portal is configured,
the emulator with a demo portal that installs the app. Prints what to open; Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from cryptography.fernet import Fernet

from devstack.processes import (
    ROOT,
    base_env,
    emulator_args,
    gunicorn_args,
    spawn,
    start_redis,
    stop,
    wait_http,
    worker_args,
)

VAR = ROOT / "var"


def dev_keys() -> dict[str, str]:
    """Signing and encryption keys kept in var/ so a restart can still read stored tokens."""
    path = VAR / "dev-keys.env"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        path.write_text(f"CONNECTOR_SECRET_KEY={Fernet.generate_key().decode()}\n"
                        f"CONNECTOR_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n")
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().split())


DEMO_SETTINGS = {
    "distribution": {"groups": [{
        "id": "sales", "name": "Sales", "entity_types": ["lead"], "departments": [2],
        "supervisors": [1], "placeholder_user_ids": [1], "recheck_minutes": 1,
        "auto": [{"entity": "lead"}]}]},
    "deal_folders": {"enabled": True},
    "deal_chats": {"enabled": True},
    "drive_mirror": {"enabled": True},
}


def configure_demo(env: dict[str, str], emu_url: str, app_url: str) -> bool:
    """Switch every capability on for the demo portal and connect the fake Google account."""
    import requests

    from connector.config import load_settings
    from devstack.processes import wait_for
    from robots.drive_mirror import connection
    from wiring import build_services

    try:
        portal = wait_for(lambda: (p := requests.get(f"{emu_url}/_emulator/portal",
                                                     timeout=2).json()).get("installed") and p,
                          60, 0.5, "the demo portal's install")
    except TimeoutError:
        return False
    services = build_services(load_settings(env))
    member_id = portal["member_id"]
    wait_for(lambda: services.store.get_tokens(member_id), 30, 0.2, "stored tokens")
    services.portal_settings.put(member_id, DEMO_SETTINGS)
    if env.get("GOOGLE_API_ROOT"):
        token = connection.connect_token(services, member_id)
        requests.get(f"{app_url}/google/connect?t={token}", timeout=10)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev up")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--emulator-port", type=int, default=8900)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--drive-port", type=int, default=8950)
    args = parser.parse_args()

    env = base_env()
    for key, value in dev_keys().items():
        env.setdefault(key, value)
    procs = []
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    demo = not env.get("B24_CLIENT_ID")
    if not env.get("REDIS_URL"):
        # the demo portal lives only as long as the emulator, so its Redis starts empty too
        procs.append(start_redis(args.redis_port, VAR / "redis", persist=not demo))
        env["REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
        if demo:
            from redis import Redis

            Redis.from_url(env["REDIS_URL"]).flushdb()
    app_url = env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{args.port}")
    emu_url = f"http://127.0.0.1:{args.emulator_port}"
    drive_url = f"http://127.0.0.1:{args.drive_port}"
    if demo:
        env.update(B24_CLIENT_ID="local.demo", B24_CLIENT_SECRET="demo-secret",
                   B24_OAUTH_SERVER=f"{emu_url}/oauth-server")
        procs.append(spawn(emulator_args(args.emulator_port, app_url, "local.demo",
                                         "demo-secret", "--install"), env, logs / "emulator.log"))
    if demo and not env.get("GOOGLE_CLIENT_ID"):  # the local fake Google Drive, too
        from fakedrive import app_env as fake_drive_env

        env.update(fake_drive_env(drive_url, "demo-google-client", "demo"))
        procs.append(spawn([sys.executable, "-m", "fakedrive", "--port", str(args.drive_port)],
                           env, logs / "fakedrive.log"))
    procs.append(spawn(gunicorn_args(args.port, access_log=True), env, logs / "web.log"))
    procs.append(spawn(worker_args(), env, logs / "worker.log"))

    def shutdown(*_: object) -> None:
        stop(procs)
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        wait_http(f"{app_url}/healthz", 30)
    except TimeoutError:
        print(f"the web app did not start; see {logs / 'web.log'}", file=sys.stderr)
        shutdown()
    print(f"""
crm-connector is running.
  App health        {app_url}/healthz
  Installer page    {app_url}/install
  Redis             {env['REDIS_URL']}
  Logs              {logs}/ (web.log, worker.log{', emulator.log' if demo else ''})""")
    if demo:
        configured = configure_demo(env, emu_url, app_url)
        print(f"""
No portal configured (B24_CLIENT_ID unset): a demo portal runs in the emulator and has
installed the app{'' if configured else ' (still installing: see emulator.log)'}. Every
capability is switched on for it: fair distribution of leads to the Sales department,
a folder and a chat per new deal, and the Drive mirror into a local fake Google Drive.
  Demo portal       {emu_url}/_emulator/portal
  Chats             {emu_url}/_emulator/chats
  Fake Drive        {drive_url}/_fake/state
  Run a robot       ./dev demo-robot
  Add a deal        ./dev demo-deal 'Sofa for the lobby'
  Open a work day   ./dev demo-day 3 OPENED   (user 3; also PAUSED, CLOSED)
  Add a lead        ./dev demo-lead 'Instagram request'""")
    print(f"""
CLI (in another terminal, same environment):
  env REDIS_URL={env['REDIS_URL']} $(cat var/dev-keys.env | xargs) .venv/bin/crm-connector portals
Ctrl-C stops everything.""")
    sys.stdout.flush()
    while True:
        for p in procs:
            if p.poll() is not None:
                print(f"a process exited ({' '.join(map(str, p.args[:4]))}); stopping",
                      file=sys.stderr)
                shutdown()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
