"""The amoCRM widget's pages: its settings area and the lead card tab (`lcard`), opened with
amoCRM's own short-lived X-Auth-Token."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("amocrm_widget", __name__, url_prefix="/amocrm/widget")
