"""`./dev up`: Redis, the web app (gunicorn), two workers (one for documents alone) and,
when no real portal is configured, the emulator with a demo portal that installs the app;
when no amoCRM integration is configured, the amoCRM emulator with a demo account connected
to the app (devstack/amocrm.py). Prints what to open; Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from cryptography.fernet import Fernet

from devstack import amocrm, running
from devstack.ports import refusal
from devstack.processes import (
    ROOT,
    base_env,
    emulator_args,
    gunicorn_args,
    spawn,
    split_workers,
    start_redis,
    stop,
    wait_http,
)
from emulator.seed import DEMO_LANGUAGE
from robots.notices.config import WON_TEMPLATE

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
    # the won-deal notice to the fake Telegram's «Финансы» group (faketelegram DEMO_CHATS)
    "notices": {"rules": [{"id": "won_finance", "name": "Won deal → finance", "enabled": True,
                           "event": "deal_won", "destination": "telegram",
                           "telegram_chat": "-1001000000001", "template": WON_TEMPLATE}]},
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
    if env.get("TELEGRAM_API_ROOT", "").startswith("http://127.0.0.1"):
        from connector.telegram import connection as telegram
        from faketelegram import DEMO_TOKEN

        telegram.connect(services, member_id, DEMO_TOKEN)
    return True


def connect_amo_demo(env: dict[str, str], amo_url: str, fake_telegram: bool
                     ) -> tuple[amocrm.AmoDemo, str] | None:
    """Connect the amoCRM demo account through the app's OAuth redirect and switch its
    capabilities on: (the account, what went wrong or ""); None if the emulator is not up.
    Nothing here stops the stack: the Bitrix24 demo must come up whatever happens."""
    from connector.config import load_settings
    from wiring import build_services

    try:
        demo = amocrm.demo_account(amo_url)
    except TimeoutError:
        return None
    status = amocrm.connect(demo)
    if status != 200:
        return demo, f"the app answered HTTP {status} on its OAuth redirect"
    services = build_services(load_settings(env))
    try:
        amocrm.configure(services, demo, fake_telegram)
    except Exception as exc:  # noqa: BLE001 - reported in the printout
        return demo, f"its settings were not saved: {type(exc).__name__}: {exc}"[:300]
    finally:
        services.redis.close()
    return demo, ""


def wanted_ports(args: argparse.Namespace, env: dict[str, str], demo: bool,
                 amo_demo: bool = False) -> dict[str, tuple[int, str]]:
    """The ports this run would listen on: {what: (port, the option that moves it)}."""
    wanted = {"the web app": (args.port, "--port")}
    if not env.get("REDIS_URL"):
        wanted["Redis"] = (args.redis_port, "--redis-port")
    if demo:
        wanted["the emulator (demo portal)"] = (args.emulator_port, "--emulator-port")
        if not env.get("GOOGLE_CLIENT_ID"):
            wanted["the fake Google Drive"] = (args.drive_port, "--drive-port")
    if amo_demo:
        wanted["the amoCRM emulator (demo account)"] = (args.amocrm_port, "--amocrm-port")
    if (demo or amo_demo) and not env.get("TELEGRAM_API_ROOT"):
        wanted["the fake Telegram Bot API"] = (args.telegram_port, "--telegram-port")
    return wanted


CLI_KEYS = ("REDIS_URL", "PUBLIC_BASE_URL", "B24_CLIENT_ID", "B24_OAUTH_SERVER",
            "GOOGLE_CLIENT_ID", "GOOGLE_TOKEN_URI", "GOOGLE_AUTH_URI", "GOOGLE_API_ROOT",
            "TELEGRAM_API_ROOT", "AMOCRM_CLIENT_ID", "AMOCRM_REDIRECT_URI",
            "AMOCRM_URL_TEMPLATE")
# the demos' own, not secrets
DEMO_CLI_KEYS = ("B24_CLIENT_SECRET", "GOOGLE_CLIENT_SECRET", "AMOCRM_CLIENT_SECRET")


def cli_env(env: dict[str, str], own: set[str], demo: bool) -> dict[str, str]:
    """What the CLI needs to reach this stack (so `reconcile` and `drive connect-url` aim at
    its port): the addresses, and the demo's made-up credentials; never real secrets."""
    keys = CLI_KEYS + (DEMO_CLI_KEYS if demo else ())
    return {k: env[k] for k in keys if env.get(k) and (k in own or k == "PUBLIC_BASE_URL")}


def cli_line(values: dict[str, str]) -> str:
    pairs = " ".join(f"{k}={v}" for k, v in values.items())
    return f"env {pairs} $(cat var/dev-keys.env | xargs) .venv/bin/crm-connector portals"


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev up")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--emulator-port", type=int, default=8900)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--drive-port", type=int, default=8950)
    parser.add_argument("--telegram-port", type=int, default=8960)
    parser.add_argument("--amocrm-port", type=int, default=8970,
                        help="the amoCRM emulator's port (its demo account)")
    parser.add_argument("--no-amocrm", action="store_true",
                        help="no amoCRM demo account")
    parser.add_argument("--language", default=DEMO_LANGUAGE,
                        help="the demo portal's language (default %(default)s)")
    args = parser.parse_args()

    env = base_env()
    demo = not env.get("B24_CLIENT_ID")
    amo_demo = not env.get("AMOCRM_CLIENT_ID") and not args.no_amocrm
    refused = refusal(wanted_ports(args, env, demo, amo_demo))
    if refused:
        print(refused, file=sys.stderr)
        return 2
    before = dict(env)
    for key, value in dev_keys().items():
        env.setdefault(key, value)
    procs = []
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
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
        # the portal's domain is the emulator's own host:port (its default), so the app's
        # frame policy lets the demo pages frame the deal tab and the app page
        procs.append(spawn(emulator_args(args.emulator_port, app_url, "local.demo",
                                         "demo-secret", "--install", "--language",
                                         args.language), env, logs / "emulator.log"))
    fake_drive = demo and not env.get("GOOGLE_CLIENT_ID")
    if fake_drive:
        from fakedrive import app_env as fake_drive_env

        env.update(fake_drive_env(drive_url, "demo-google-client", "demo"))
        procs.append(spawn([sys.executable, "-m", "fakedrive", "--port", str(args.drive_port)],
                           env, logs / "fakedrive.log"))
    amo_url = f"http://127.0.0.1:{args.amocrm_port}"
    if amo_demo:
        env.update(amocrm.app_env(amo_url, app_url))
        procs.append(amocrm.start(args.amocrm_port, app_url, env, logs / "amoemu.log"))
    fake_telegram = (demo or amo_demo) and not env.get("TELEGRAM_API_ROOT")
    telegram_url = f"http://127.0.0.1:{args.telegram_port}"
    if fake_telegram:
        from faketelegram import app_env as fake_telegram_env

        env.update(fake_telegram_env(telegram_url))
        procs.append(spawn([sys.executable, "-m", "faketelegram", "--port",
                            str(args.telegram_port), "--demo"], env, logs / "faketelegram.log"))
    procs.append(spawn(gunicorn_args(args.port, access_log=True), env, logs / "web.log"))
    procs += [spawn(args, env, logs / f"{name}.log") for name, args in split_workers()]

    def shutdown(*_: object) -> None:
        running.clear()
        stop(procs)
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        wait_http(f"{app_url}/healthz", 30)
    except TimeoutError:
        print(f"the web app did not start; see {logs / 'web.log'}", file=sys.stderr)
        shutdown()
    configured = configure_demo(env, emu_url, app_url) if demo else False
    amo = connect_amo_demo(env, amo_url, fake_telegram) if amo_demo else None
    cli = cli_env(env, {k for k in env if env[k] != before.get(k)}, demo or amo_demo)
    running.write({"app": app_url, "redis": env["REDIS_URL"], "cli_env": cli,
                   **({"emulator": emu_url, "demo_portal": f"{emu_url}/"} if demo else {}),
                   **({"amocrm": amo_url} if amo_demo else {}),
                   **({"drive": drive_url} if fake_drive else {}),
                   **({"telegram": telegram_url} if fake_telegram else {})})
    if demo:
        print(f"""
Demo portal: {emu_url}/   (open it in a browser)
No portal configured (B24_CLIENT_ID unset): a demo portal runs in the emulator and has
installed the app{'' if configured else ' (still installing: see emulator.log)'}.
Every capability is switched on for it: fair distribution of leads to the Sales department,
a folder and a chat per new deal, the Drive mirror into a local fake Google Drive, and a
won deal told to the «Финансы» group of a local fake Telegram.
Its pages: leads and deals (add one), a deal card with the app's tab, the app's page as the
admin or a manager (switch user at the top), chats, work-day buttons, robots.""")
    print("""
crm-connector is running.""")
    if demo:
        print(f"""  Deals             {emu_url}/demo/deals
  Chats             {emu_url}/demo/chats""")
    emulator_log = (", emulator.log" if demo else "") + (", amoemu.log" if amo_demo else "")
    print(f"""  App health        {app_url}/healthz
  Installer page    {app_url}/install
  Redis             {env['REDIS_URL']}
  Logs              {logs}/ (web.log, worker.log, documents-worker.log{emulator_log})""")
    if fake_drive:
        print(f"  Fake Drive        {drive_url}/_fake/state")
    if fake_telegram:
        print(f"  Fake Telegram     {telegram_url}/_fake/sent   (what the bot sent)")
    if demo:
        print("""  Run a robot       ./dev demo-robot
  Add a deal        ./dev demo-deal 'Sofa for the lobby'
  Open a work day   ./dev demo-day 3 OPENED   (user 3; also PAUSED, CLOSED)
  Add a lead        ./dev demo-lead 'Instagram request'""")
    if amo is not None:
        print(amocrm.lines(amo[0], amo[1], app_url))
    print(f"""
CLI (in another terminal; `./dev cli <command>` does the same):
  {cli_line(cli)}
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
