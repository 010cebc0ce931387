"""create_app(): the application factory — settings, services, blueprints, error pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify

from connector.config import Settings, load_settings
from connector.page_i18n import init_pages
from connector.services import Services, build_services


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app. `config` may be Settings, overrides for the environment, or None."""
    if isinstance(config, Settings):
        settings = config.validate()
    else:
        settings = load_settings(**dict(config or {}))
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__, template_folder="../templates/html")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SECRET_KEY"] = settings.secret_key
    services = build_services(settings, web=True)
    app.extensions["connector"] = services

    from connector.routes import bp as core_bp
    from install.views import bp as install_bp
    from placements.google_connect import bp as google_bp
    from placements.views import bp as placements_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(install_bp)
    app.register_blueprint(placements_bp)
    app.register_blueprint(google_bp)
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
