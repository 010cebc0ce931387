"""The composition root: the one place that puts the capabilities, the core's own per-portal
tasks and the pages together, for the web app, the worker and the CLI alike.

connector/ knows no capability by name; this package hands it the list in `robots`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask

from connector.capability import Capability, Registry
from connector.config import Settings, load_settings
from connector.services import Services, assemble_with
from connector.services import build_services as build_core

log = logging.getLogger(__name__)


def capabilities() -> list[Capability]:
    from robots import CAPABILITIES

    return list(CAPABILITIES)


def reconcile_portal(services: Services, member_id: str) -> dict[str, Any]:
    """Register what the capabilities want on the portal (install, update, CLI)."""
    from install.registrations import reconcile

    portal = services.store.get(member_id)
    if portal is None or portal.status == "uninstalled":
        return {"skipped": "not installed"}
    from connector.crm.port import AMOCRM, crm_of
    from connector.jobs import ensure_periodic

    if crm_of(member_id) == AMOCRM:
        from install.amocrm_registrations import reconcile_amo

        done = reconcile_amo(services.registry, services.amo().client(member_id),
                             services.settings.public_base_url, services.settings.secret_key)
        return {"applied": done.applied, "errors": done.errors,
                "periodic": ensure_periodic(services, member_id)}
    doc = services.portal_settings.get(member_id)
    outcome = reconcile(services.registry, services.client(member_id),
                        services.settings.public_base_url, portal.user_id,
                        doc["events"]["offline_backup"])
    granted = {s.strip() for s in (portal.scope or "").split(",") if s.strip()}
    missing = sorted(services.registry.scopes() - granted) if granted else []
    if missing:  # what the capabilities declare they need and the app was not granted
        log.warning("portal %s lacks scopes %s: reinstall the app with them", member_id,
                    ", ".join(missing))
    return {"applied": outcome.applied, "errors": outcome.errors, "missing_scopes": missing,
            "periodic": ensure_periodic(services, member_id)}


def purge_portal(services: Services, member_id: str, clean: Any = False) -> dict[str, Any]:
    """Uninstall clean-up: the portal's periodic chains and timers stop, its jobs go."""
    from connector import periodic
    from connector.timers import Timers
    from install.cleanup import purge_portal as purge

    done = purge(services, member_id, bool(clean))
    if done.get("skipped"):  # installed again meanwhile: its chains and timers stay
        return done
    timers = Timers(services.queues, services.redis, services.settings.queue_prefix)
    return {**done, "periodic_stopped": periodic.cancel_tenant(services.queues, member_id),
            "timers_cancelled": timers.cancel_tenant(member_id)}


def core_tasks() -> dict[str, Any]:
    from connector.jobs import drain_offline
    from install.lifecycle import tell_admins_rekeyed

    return {"reconcile": reconcile_portal, "purge_portal": purge_portal,
            "drain_offline": drain_offline, "tell_admins_rekeyed": tell_admins_rekeyed}


def build_services(settings: Settings, web: bool = False,
                   caps: Iterable[Capability] | None = None) -> Services:
    """Services with the capability registry and the core tasks."""
    from install import lifecycle

    registry = Registry(capabilities() if caps is None else caps)
    return build_core(settings, web=web, registry=registry, tasks=core_tasks(),
                      lifecycle=lifecycle)


def create_app(config: Settings | Mapping[str, Any] | None = None,
               caps: Iterable[Capability] | None = None) -> Flask:
    """The web app: the core's routes, the installer, the deal tab, the Google connection."""
    from admin.views import bp as admin_bp
    from connector.app import create_app as build_app
    from install.amocrm import bp as amocrm_bp
    from install.views import bp as install_bp
    from placements.amocrm_widget import bp as amocrm_widget_bp
    from placements.google_connect import bp as google_bp
    from placements.views import bp as placements_bp

    return build_app(config, lambda s: build_services(s, web=True, caps=caps),
                     [install_bp, admin_bp, placements_bp, google_bp, amocrm_bp,
                      amocrm_widget_bp])


def main(argv: list[str] | None = None) -> int:
    """The `crm-connector` command: the core's commands and each capability's."""
    from connector.cli import main as cli_main

    def build() -> Services:
        return build_services(load_settings())

    assemble_with(build)
    return cli_main(argv, build, Registry(capabilities()).commands())
