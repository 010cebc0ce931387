"""amoCRM's side of install and ingress: the OAuth redirect, account webhooks at a
per-tenant secret address, digital-pipeline widget actions and the disable hook."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("amocrm", __name__, url_prefix="/amocrm")
