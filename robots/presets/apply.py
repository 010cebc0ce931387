"""Applying a preset and undoing it.

The settings are saved the one way settings are saved (connector.settings_audit.save: the
store validates, the trail names the preset); what each section was before is kept, so an
undo puts back exactly the sections nobody has changed since and says which it left. The
CRM fields and smart processes the preset's settings use are made by a job after the save
(`prepare`), each the way its capability makes it, and kept on undo: they hold data.
"""

from __future__ import annotations

import json
import time
from typing import Any

from connector import settings_audit
from connector.capability import whole
from connector.context import JobContext
from connector.i18n import t
from robots.presets.catalog import BY_ID, Preset
from robots.presets.plan import Plan, plan

KEEP_S = 365 * 24 * 3600


def plan_for(ctx: JobContext, preset: Preset, user_id: Any, department: int) -> Plan:
    """The preset on this portal for this admin (their id may come as text from a frame)."""
    stored = ctx.services.portal_settings.get(ctx.member_id)
    schemas = ctx.services.portal_settings.schemas
    return plan(preset, stored, schemas, whole(user_id), department,
                lambda m: t(ctx.lang, m))


def applied(ctx: JobContext, preset_id: str) -> dict[str, Any] | None:
    raw = ctx.redis.get(ctx.key("applied", preset_id))
    return json.loads(raw) if raw else None


def apply(ctx: JobContext, preset: Preset, user_id: int, department: int) -> dict[str, Any]:
    """Save the preset's settings (SettingsInvalid: nothing saved) and queue the set-up."""
    found = plan_for(ctx, preset, user_id, department)
    stored = ctx.services.portal_settings.get(ctx.member_id)
    before = {name: stored.get(name) for name in found.sections}
    changed = [name for name, changes in found.changes.items() if changes]
    if changed:
        settings_audit.save(ctx.services, ctx.member_id, {**stored, **found.sections},
                            str(user_id))
    earlier = applied(ctx, preset.id)
    record = {"at": time.time(), "user": user_id, "sections": changed,
              # a second apply keeps what the portal had before the first: undo goes there
              "before": {**{n: before[n] for n in changed},
                         **((earlier or {}).get("before") or {})},
              "after": {n: found.sections[n] for n in found.sections}}
    ctx.redis.set(ctx.key("applied", preset.id), json.dumps(record, ensure_ascii=False),
                  ex=KEEP_S)
    job = ctx.enqueue_job("prepare", {"preset": preset.id}, preset.id)
    return {"changed": sum(len(found.changes[n]) for n in changed), "sections": changed,
            "job": job}


def undo(ctx: JobContext, preset: Preset) -> dict[str, Any]:
    """Put back the sections the preset changed, unless someone changed them since."""
    record = applied(ctx, preset.id)
    if record is None:
        return {"undone": [], "kept": [], "none": True}
    stored = ctx.services.portal_settings.get(ctx.member_id)
    undone, kept = [], []
    doc = dict(stored)
    for name, before in (record.get("before") or {}).items():
        if stored.get(name) == record["after"].get(name):
            doc[name] = before
            undone.append(name)
        else:
            kept.append(name)
    if undone:
        settings_audit.save(ctx.services, ctx.member_id, doc, str(record.get("user", "")))
    ctx.redis.delete(ctx.key("applied", preset.id), ctx.key("prepared", preset.id))
    return {"undone": undone, "kept": kept}


def prepare(ctx: JobContext, arg: dict[str, Any]) -> dict[str, Any]:
    """The preset's task: its CRM fields and its capabilities' smart processes, made now."""
    preset = BY_ID[str(arg["preset"])]
    made: list[str] = []
    for f in preset.fields:
        ctx.crm.ensure_item_field(f.kind, f.code, f.type_, t(ctx.lang, f.label))
        made.append(f.code)
    for name in preset.setups:
        service = ctx.service(f"setup:{name}")
        if service is not None:
            made += service(ctx)
    ctx.redis.set(ctx.key("prepared", preset.id), json.dumps(
        {"at": time.time(), "made": made}, ensure_ascii=False), ex=KEEP_S)
    return {"preset": preset.id, "made": made}


def prepared(ctx: JobContext, preset_id: str) -> dict[str, Any] | None:
    raw = ctx.redis.get(ctx.key("prepared", preset_id))
    return json.loads(raw) if raw else None


