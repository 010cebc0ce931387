"""create_app(): the application factory — settings, services, blueprints, error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Flask, jsonify

from connector.config import Settings, load_settings
from connector.page_i18n import init_pages
from connector.services import Services, build_services


def create_app(config: Settings | Mapping[str, Any] | None = None,
               build: Callable[[Settings], Services] | None = None,
               blueprints: Sequence[Blueprint] = ()) -> Flask:
    """Build the web app. `config` may be Settings, overrides for the environment, or None.

    `build` makes the Services (with the capabilities) and `blueprints` are the pages of the
    installer and the placements: both come from the composition root (wiring).
    """
    if isinstance(config, Settings):
        settings = config.validate()
    else:
        settings = load_settings(**dict(config or {}))
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__, template_folder="../templates/html", static_folder="../templates/static")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SECRET_KEY"] = settings.secret_key
    services = build(settings) if build else build_services(settings, web=True)
    app.extensions["connector"] = services

    from connector.routes import bp as core_bp

    app.register_blueprint(core_bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    init_pages(app)  # Flask-Babel: the viewer's language, the portal's time zone

    @app.errorhandler(413)
    def too_large(_: Exception) -> Any:
        return jsonify(error="body_too_large", limit=settings.max_body_bytes), 413

    @app.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return jsonify(error="not_found"), 404

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Any:
        return jsonify(error="method_not_allowed"), 405

    return app


def services_of(app: Flask) -> Services:
    return app.extensions["connector"]
