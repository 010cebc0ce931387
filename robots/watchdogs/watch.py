"""The watchdogs' engine: one timer per (rule, item), set from events, acted on when it fires.

`evaluate` is the only path. An event about an item (or its activity) evaluates it: the facts
are read once for all the rules, each rule's plan (robots.watchdogs.plan) sets, moves or
cancels the pair's timer. A timer evaluates the same way and then does the steps of its rule
that are due, once each: the step is remembered as done only after its write, and a retry
finds the task its first attempt made by the task's tag (`FindTask`), so a crash between the
write and the record never makes a second reminder. Nothing polls the items.

Per (rule, item) the engine keeps a small hash: the plan's memory ("m") and the next due step
("n": when, which, and whom it will reach — so the timer's read asks for those people and
those tags in the same request as the item).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from connector.context import JobContext
from connector.crm import port as crm
from connector.i18n import N_, Msg, t
from robots.watchdogs import audit, config, steps
from robots.watchdogs.config import NAME
from robots.watchdogs.plan import PROBLEMS, Due, Facts, Memory, Plan, parse_time, plan
from robots.watchdogs.worktime import WorkTime, from_settings

MEMORY_TTL_S = 400 * 86400
CALENDAR_TTL_S = 12 * 3600
LOCK_S = 120
ALSO_DUE_MAX = 12  # a firing timer also does this many other due items: ≤ 50 reads in one
NOTE_SKEW_S = 300  # the portal's clock may lag ours: a killed step's note is looked for
WRITING_TTL_S = 7 * 24 * 3600  # longer than any retry of a step
REACTION_WINDOW_S = 60 * 86400  # reactions older than this never matter to a new item's watch
# neutral owner types of activities (Bitrix24 OWNER_TYPE_ID: 1 lead, 2 deal; 3, 4 are people)
OWNER_KINDS = {1: "lead", 2: "deal"}


def _ctx(ctx: JobContext) -> JobContext:
    return ctx.of(NAME)


def pairs_for(settings: Mapping[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The enabled rules that watch items of this kind."""
    out = []
    for rule_kind, rule in config.all_rules(settings):
        if rule_kind == "reaction":
            if rule["entity"] == kind:
                out.append((rule_kind, rule))
        elif kind == "deal":
            out.append((rule_kind, rule))
    return out


# memory ----------------------------------------------------------------------------------
def _mkey(ctx: JobContext, rule_id: str, ref: crm.ItemRef) -> str:
    return _ctx(ctx).key("m", rule_id, ref.kind, ref.id)


def load(ctx: JobContext, rule_id: str, ref: crm.ItemRef) -> tuple[Memory, dict[str, Any]]:
    raw_m, raw_n = ctx.redis.hmget(_mkey(ctx, rule_id, ref), "m", "n")
    mem = Memory()
    if raw_m:
        d = json.loads(raw_m)
        mem = Memory(d.get("first_stage", ""), d.get("since", 0.0), d.get("stage_since", 0.0),
                     d.get("stage", ""), frozenset(d.get("done", ())),
                     frozenset(d.get("ours", ())))
    return mem, json.loads(raw_n) if raw_n else {}


def save(ctx: JobContext, rule_id: str, ref: crm.ItemRef, mem: Memory,
         nxt: Mapping[str, Any] | None) -> None:
    d = asdict(mem)
    d["done"], d["ours"] = sorted(mem.done), sorted(mem.ours)
    key = _mkey(ctx, rule_id, ref)
    member = f"{rule_id}|{ref.kind}|{ref.id}"
    with ctx.redis.pipeline() as pipe:
        pipe.hset(key, "m", json.dumps(d))
        if nxt:
            pipe.hset(key, "n", json.dumps(nxt))
            pipe.zadd(due_key(ctx), {member: float(nxt["at"])})
        else:
            pipe.hdel(key, "n")
            pipe.zrem(due_key(ctx), member)
        pipe.expire(key, MEMORY_TTL_S)
        pipe.execute()


def forget(ctx: JobContext, rule_id: str, ref: crm.ItemRef) -> None:
    with ctx.redis.pipeline() as pipe:
        pipe.delete(_mkey(ctx, rule_id, ref))
        pipe.zrem(due_key(ctx), f"{rule_id}|{ref.kind}|{ref.id}")
        pipe.execute()


def due_key(ctx: JobContext) -> str:
    """Every pending step of the portal by due time ("<rule>|<kind>|<id>"), for the pages."""
    return _ctx(ctx).key("due")


def upcoming(ctx: JobContext, limit: int = 50, rule_id: str = "", ref: crm.ItemRef | None = None
             ) -> list[dict[str, Any]]:
    """The next pending steps, soonest first: rule, item, step, due time, whom it reaches."""
    out = []
    for raw, at in ctx.redis.zrange(due_key(ctx), 0, -1, withscores=True):
        rid, kind, item_id = raw.decode().split("|")
        if (rule_id and rid != rule_id) or (ref and (kind, int(item_id)) != (ref.kind, ref.id)):
            continue
        _, nxt = load(ctx, rid, crm.ItemRef(kind, int(item_id)))
        out.append({"rule": rid, "ref": f"{kind}/{item_id}", "at": at,
                    "step": str(nxt.get("key", "|")).rsplit("|", 1)[-1],
                    "users": nxt.get("users", [])})
        if len(out) >= limit:
            break
    return out


def audit_key(ctx: JobContext) -> str:
    """The portal's audit of steps (robots.watchdogs.audit), newest first."""
    return _ctx(ctx).key("audit")


def watched(ctx: JobContext) -> dict[str, int]:
    """How many items each rule watches now (has a pending step for)."""
    counts: dict[str, int] = {}
    for raw in ctx.redis.zrange(due_key(ctx), 0, -1):
        rid = raw.decode().split("|", 1)[0]
        counts[rid] = counts.get(rid, 0) + 1
    return counts


def timer_key(rule_id: str, ref: crm.ItemRef) -> str:
    return f"{rule_id}:{ref.kind}:{ref.id}"


# working time ------------------------------------------------------------------------------
def _calendar_key(ctx: JobContext) -> str:
    return _ctx(ctx).key("calendar")


def worktime(ctx: JobContext, reading: crm.Reading | None = None) -> WorkTime:
    """The company's working time; the portal's own calendar (cached) when the admin asked."""
    section = ctx.settings["work_time"]
    portal = None
    if section["use_portal_calendar"]:
        cached = ctx.redis.get(_calendar_key(ctx))
        if cached:
            portal = json.loads(cached) or None
        elif reading is not None and "calendar" in reading.values:
            portal = reading.values["calendar"]
            ctx.redis.set(_calendar_key(ctx), json.dumps(portal), ex=CALENDAR_TTL_S)
        elif reading is not None and "calendar" in reading.errors:
            ctx.log.warning("portal calendar not readable: %s", reading.errors["calendar"])
            ctx.redis.set(_calendar_key(ctx), json.dumps({}), ex=CALENDAR_TTL_S)
    return from_settings(section, ctx.tz, portal)


# reads -----------------------------------------------------------------------------------
def queries(ctx: JobContext, ref: crm.ItemRef, fire: str = "") -> dict[str, crm.Query]:
    """Everything the item's rules need, as one read; for a timer of rule `fire`, also the
    people its due step reaches and the tags of the tasks it may already have made."""
    pairs = pairs_for(ctx.settings, ref.kind)
    if not pairs:
        return {}
    kinds = {k for k, _ in pairs}
    observers = any(k == "date_reminders" and config.OBSERVERS in r["recipients"]
                    for k, r in pairs)
    moved = "stage_limits" in kinds  # how long it has been in its stage
    out: dict[str, crm.Query] = {"item": crm.GetItem(ref, observers=observers, moved=moved)}
    if "reaction" in kinds:
        # from the hour: the same read asked twice in a job (a batch, then its item) is one
        out["reactions"] = crm.Reactions(ref, _iso(time.time() // 3600 * 3600 - REACTION_WINDOW_S))
    if "next_activity" in kinds:
        out["open"] = crm.OpenActivities(ref)
    if ctx.settings["work_time"]["use_portal_calendar"] and not ctx.redis.exists(
            _calendar_key(ctx)):
        out["calendar"] = crm.WorkCalendar()
    if fire:
        _, nxt = load(ctx, fire, ref)
        users = [int(u) for u in nxt.get("users", []) if int(u)]
        if users:
            out["people"] = crm.GetPeople(tuple(users))
        if nxt.get("channel") == config.TASK:
            for uid in users:
                out[f"find_{uid}"] = crm.FindTask(f"{nxt['tag']}-{uid}")
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _complete(ctx: JobContext, wanted: Mapping[str, crm.Query],
              reading: crm.Reading | None) -> crm.Reading:
    """The reading with whatever it lacks of `wanted` read now (one more request at most)."""
    reading = reading or crm.Reading()
    missing = {k: q for k, q in wanted.items()
               if k not in reading.values and k not in reading.errors}
    if missing:
        more = ctx.crm.read(missing)
        reading = crm.Reading({**reading.values, **more.values},
                              {**reading.errors, **more.errors})
    return reading


# the engine ------------------------------------------------------------------------------
def evaluate(ctx: JobContext, ref: crm.ItemRef, reading: crm.Reading | None = None,
             fire: str = "", wait: bool = True) -> dict[str, Any]:
    """Plan every rule for the item; when `fire` names a rule, do its due steps. With
    wait=False an item another job holds is left to it."""
    ctx = _ctx(ctx)
    pairs = pairs_for(ctx.settings, ref.kind)
    if fire and not any(r["id"] == fire for _, r in pairs):
        forget(ctx, fire, ref)  # switched off or deleted since: its pending step goes too
        return {"skipped": f"rule {fire} is off or gone"}
    if not pairs:
        return {"skipped": "no rule watches this kind"}
    lock = ctx.redis.lock(_ctx(ctx).key("lock", ref.kind, ref.id), timeout=LOCK_S,
                          blocking_timeout=LOCK_S)
    if not lock.acquire(blocking=wait):
        return {"skipped": "another job has the item"}
    try:
        reading = _complete(ctx, queries(ctx, ref, fire), reading)
        facts, wt = _facts(ctx, reading)
        return {r["id"]: _one(ctx, kind, r, ref, facts, wt, reading, fire == r["id"])
                for kind, r in pairs}
    finally:
        lock.release()


def _facts(ctx: JobContext, reading: crm.Reading) -> tuple[Facts, WorkTime]:
    """What the plans see of the item now, and the working time they count in."""
    try:
        item = reading.get("item")
    except crm.NotFound:
        item = None
    reactions = _soft(ctx, reading, "reactions")
    if item is not None and reactions:
        reactions = _without_notes_in_flight(ctx, item.ref, reactions)
    return (Facts(item, time.time(), reactions, _soft(ctx, reading, "open")),
            worktime(ctx, reading))


def _writing_key(ctx: JobContext, ref: crm.ItemRef) -> str:
    return _ctx(ctx).key("writing", ref.kind, ref.id)


def _without_notes_in_flight(ctx: JobContext, ref: crm.ItemRef,
                             reactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A step killed while its write ran may have left its note (a comment by the app's
    user) without the app learning the note's id: until a step of the item is written, such
    comments since then are that note, not a reaction."""
    began = ctx.redis.get(_writing_key(ctx, ref))
    if began is None:
        return reactions
    since, author = float(began) - NOTE_SKEW_S, int(ctx.portal.user_id or 0)
    return [r for r in reactions if not (
        r.get("kind") == "comment" and (not author or int(r.get("author") or 0) == author)
        and (parse_time(r.get("at"), "UTC") or 0.0) >= since)]


def _soft(ctx: JobContext, reading: crm.Reading, key: str) -> Any:
    """A fact the rules can do without for now: a failed read raises (the job retries)."""
    if key in reading.errors:
        raise reading.errors[key]
    return reading.values.get(key)


def _one(ctx: JobContext, kind: str, rule: dict[str, Any], ref: crm.ItemRef, facts: Facts,
         wt: WorkTime, reading: crm.Reading, firing: bool) -> str:
    mem, nxt = load(ctx, rule["id"], ref)
    p = plan(kind, rule, facts, wt, mem, ctx.tz)
    mem = p.memory
    if kind == "reaction" and facts.item is not None:
        mem = _take(ctx, rule, facts.item, p, mem)
    done: list[str] = []
    if firing and p.watching:
        for due in p.due_now(facts.now):
            mem = _act(ctx, kind, rule, due, facts.item, mem, reading, nxt)
            done.append(due.step)
        p = plan(kind, rule, facts, wt, mem, ctx.tz)
        mem = p.memory
    key = timer_key(rule["id"], ref)
    if not p.watching and p.why in PROBLEMS and f"problem|{p.why}" not in mem.done:
        ctx.log.warning("watchdog %s on %s: %s", rule["id"], ref.label, t("en", p.why, **p.params))
        _audit(ctx, rule, kind, ref, "-", "skipped", p.why, p.params)
        mem = replace(mem, done=mem.done | {f"problem|{p.why}"})
    if not p.watching or p.next is None:
        if ctx.cancel_timer(key) or (firing and not done):
            _audit(ctx, rule, kind, ref, "-", "stopped", p.why or N_("all its steps are done"),
                   p.params)
        save(ctx, rule["id"], ref, mem, None)
        return f"stopped: {p.why}" if not p.watching else "nothing due"
    due = p.next
    assert facts.item is not None
    users = steps.recipients(kind, rule, due, facts.item)
    new_next = {"at": due.at, "key": due.key, "users": users,
                "channel": _channel(kind, rule, due),
                "tag": steps.tag(ctx.member_id, rule["id"], ref, due)}
    # a firing timer is still pending until it returns: its successor is always scheduled
    if firing or nxt.get("at") != due.at or nxt.get("key") != due.key or not ctx.timer_due(key):
        ctx.schedule(key, due.at, "fire", {"rule": rule["id"], "kind": ref.kind, "id": ref.id})
    save(ctx, rule["id"], ref, mem, new_next)
    return "done " + ",".join(done) if done else f"due {due.step} at {int(due.at)}"


def _channel(kind: str, rule: Mapping[str, Any], due: Due) -> str:
    if kind in ("reaction", "next_activity"):
        if due.step == "offer":
            return config.NOTIFY
        step = rule["steps"][int(due.step)]
        return config.NOTIFY if step["action"] == config.REASSIGN else step["channel"]
    if kind in ("stage_limits", "follow_ups"):
        return config.TASK
    return str(rule["channel"])


def _people(ctx: JobContext, reading: crm.Reading, ids: list[int]) -> dict[int, crm.Person]:
    known = dict(reading.values.get("people") or {})
    missing = tuple(i for i in dict.fromkeys(ids) if i and i not in known)
    if missing:
        known |= ctx.crm.read({"people": crm.GetPeople(missing)}).get("people") or {}
    return known


def _act(ctx: JobContext, kind: str, rule: dict[str, Any], due: Due, item: crm.Item | None,
         mem: Memory, reading: crm.Reading, nxt: Mapping[str, Any]) -> Memory:
    """Do one due step (once), note it in the timeline, the item's history and the audit."""
    assert item is not None
    ids = steps.recipients(kind, rule, due, item)
    people = _people(ctx, reading, ids)
    who = steps.audience(ids, people)
    env = steps.Env(ctx.lang, ctx.tz, ctx.member_id,
                    ctx.crm.link(ctx.crm.item_link(item.ref), item.title or
                                 steps.item_words(ctx.lang, item.ref)),
                    ctx.crm.mention, time.time())
    step = steps.build(kind, rule, due, item, who, env)
    ours = set(mem.ours)
    # a retried step: the tasks its first attempt made are found by their tags, not made again
    # (the timer's read looked for the predicted step's; another due step is looked up now)
    made = {k: op for k, op in step.ops.items() if isinstance(op, crm.CreateTask)}
    found = {k: reading.values.get(f"find_{k.removeprefix('task_')}") for k in made}
    if made and nxt.get("key") != due.key:
        got = ctx.crm.read({k: crm.FindTask(op.tag) for k, op in made.items()})
        found = {k: got.get(k) for k in made}
    for key, task_id in found.items():
        if task_id:
            ours.add(f"task:{task_id}")
            del step.ops[key]
    if step.reassign is not None:
        step.params |= _reassign(ctx, item, rule, step.reassign, f"{rule['id']}:{due.key}")
    if not step.skipped:
        note = t(ctx.lang, N_("Watchdog «{rule}»: {what}"), rule=rule["name"],
                 what=t(ctx.lang, step.msgid, **step.params))
        ops = {**step.ops, "note": crm.AddComment(item.ref, note)}
        writing = _writing_key(ctx, item.ref)
        if (began := ctx.redis.get(writing)) is not None:  # a killed attempt's note landed?
            since = _iso(float(began) - NOTE_SKEW_S)
            if noted := ctx.crm.read({"c": crm.FindComment(item.ref, note, since)}).get("c"):
                ours.add(f"comment:{noted}")
                del ops["note"]
        else:
            ctx.redis.set(writing, time.time(), ex=WRITING_TTL_S)
        applied = ctx.crm.apply(ops)
        ctx.redis.delete(writing)
        failed = {k: e for k, e in applied.errors.items() if k != "note"}
        if failed:
            first = next(iter(failed.values()))
            if not isinstance(first, crm.NotFound | crm.AccessDenied | crm.CrmPermanent):
                raise first  # retried; the tasks made meanwhile are found by their tags
            step.params["error"] = str(first)
            step.msgid, step.skipped = N_("Step failed: {error}"), True
        ours |= {f"comment:{v}" if k == "note" else f"task:{v}"
                 for k, v in applied.values.items()
                 if (k == "note" or k.startswith("task_")) and v}
    _audit(ctx, rule, kind, item.ref, due.step, "skipped" if step.skipped else "done",
           step.msgid, step.params, {uid: p.name for uid, p in people.items() if p.name})
    ctx.remember(item.ref, step.msgid, identity=f"wd:{rule['id']}:{due.key}", **step.params)
    return replace(mem, done=mem.done | {due.key}, ours=frozenset(ours))


def _reassign(ctx: JobContext, item: crm.Item, rule: Mapping[str, Any],
              what: Mapping[str, Any], key: str) -> dict[str, Any]:
    service = ctx.service("reassign")
    if service is None:
        return {"outcome": t(ctx.lang, N_("fair distribution is not available"))}
    reason = t(ctx.lang, N_("rule «{rule}»: the time was missed"), rule=rule["name"])
    out = service(ctx, item.ref, str(what.get("group") or ""),
                  tuple(int(u) for u in what.get("exclude") or () if u), reason, key=key)
    return {"outcome": out.get("reason", ""), "user": out.get("user_id", 0)}


def _take(ctx: JobContext, rule: dict[str, Any], item: crm.Item, p: Plan, mem: Memory
          ) -> Memory:
    """"The first of N to react takes it": assign them and tell the others, once."""
    who = p.reacted_by
    done_key = "created|taken"
    if len(rule["first_of"]) < 2 or who not in rule["first_of"] or done_key in mem.done:
        return mem
    what = f"{steps.item_words(ctx.lang, item.ref)} «{item.title}»"
    ops: dict[str, crm.Op] = {}
    if item.assigned != who:
        ops["assign"] = crm.Assign(item.ref, who)
    for uid in rule["first_of"]:
        if uid != who:
            ops[f"notify_{uid}"] = crm.NotifyUser(uid, t(
                ctx.lang, N_("{item} is taken by {user}"), item=what, user=ctx.crm.mention(who)),
                tag=f"{steps.tag(ctx.member_id, rule['id'], item.ref, Due('taken', 0, 'created'))}"
                    f"-{uid}")
    params = {"rule": rule["name"], "item": what, "user": ctx.crm.mention(who)}
    note = t(ctx.lang, N_("Watchdog «{rule}»: {what}"), rule=rule["name"],
             what=t(ctx.lang, N_("{user} reacted first and takes it"), **params))
    applied = ctx.crm.apply({**ops, "note": crm.AddComment(item.ref, note)})
    if applied.errors.get("assign"):
        raise applied.errors["assign"]
    _audit(ctx, rule, "reaction", item.ref, "taken", "done",
           N_("{user} reacted first and takes it"), params)
    ctx.remember(item.ref, N_("{user} reacted first and takes it"),
                 identity=f"wd:{rule['id']}:taken", user=who)
    note_id = applied.values.get("note")
    ours = set(mem.ours) | ({f"comment:{note_id}"} if note_id else set())
    return replace(mem, done=mem.done | {done_key}, ours=frozenset(ours))


def _audit(ctx: JobContext, rule: Mapping[str, Any], kind: str, ref: crm.ItemRef, step: str,
           outcome: str, msgid: Msg, params: Mapping[str, Any],
           names: Mapping[int, str] | None = None) -> None:
    audit.record(ctx.redis, audit_key(ctx), rule["id"], kind, ref, step, outcome,
                 msgid, params, int(ctx.settings[NAME]["audit_days"]), names=names)


def preview(ctx: JobContext, ref: crm.ItemRef) -> list[dict[str, Any]]:
    """What every rule plans for the item now, from one read; nothing written, no timer set
    (the admin page's and the CLI's dry run)."""
    ctx = _ctx(ctx)
    pairs = pairs_for(ctx.settings, ref.kind)
    if not pairs:
        return []
    reading = ctx.crm.read(queries(ctx, ref))
    facts, wt = _facts(ctx, reading)
    item = facts.item
    out = []
    for kind, rule in pairs:
        mem, _ = load(ctx, rule["id"], ref)
        p = plan(kind, rule, facts, wt, mem, ctx.tz)
        out.append({"rule": rule, "kind": kind, "plan": p, "item": item})
    return out


# activities point at their item ------------------------------------------------------------
def owner_of(activity: Mapping[str, Any]) -> crm.ItemRef | None:
    """The item an activity belongs to: a lead, a deal or a smart-process item."""
    owner_type, owner_id = int(activity.get("owner_type") or 0), int(
        activity.get("owner_id") or 0)
    if not owner_id or owner_type in (3, 4) or owner_type <= 0:
        return None
    return crm.ItemRef(OWNER_KINDS.get(owner_type, f"item:{owner_type}"), owner_id)


def fire(ctx: JobContext, arg: Mapping[str, Any]) -> dict[str, Any]:
    """A timer came due: evaluate the item and do the rule's due steps — and those of the
    portal's other items due by now (up to ALSO_DUE_MAX), all read in one request. So a
    backlog (a busy hour, workers back after an outage) drains at a fraction of a request
    per reminder; each item so done has its own timer moved on, which then does nothing."""
    ctx = _ctx(ctx)
    ref = crm.ItemRef(str(arg["kind"]), int(arg["id"]))
    rule = str(arg["rule"])
    others = also_due(ctx, rule, ref)
    if not others:
        return evaluate(ctx, ref, crm.Reading(), fire=rule)
    wanted: dict[str, crm.Query] = {}
    for n, (rid, oref) in enumerate([(rule, ref), *others]):
        wanted |= {f"{n}.{k}": q for k, q in queries(ctx, oref, rid).items()}
    ctx.crm.read(wanted)
    shared = replace(ctx, crm=ctx.services.crm(ctx.member_id, dict(ctx.crm.seen)))
    out = evaluate(shared, ref, crm.Reading(), fire=rule)
    out["also"] = {f"{rid}|{oref.label}": evaluate(shared, oref, crm.Reading(), fire=rid,
                                                   wait=False) for rid, oref in others}
    return out


def also_due(ctx: JobContext, rule_id: str, ref: crm.ItemRef) -> list[tuple[str, crm.ItemRef]]:
    """Other (rule, item) pairs of the portal whose next step is due by now, soonest first."""
    me = f"{rule_id}|{ref.kind}|{ref.id}"
    out = []
    for raw in _ctx(ctx).redis.zrangebyscore(due_key(ctx), "-inf", time.time(), start=0,
                                             num=ALSO_DUE_MAX + 1):
        member = raw.decode()
        rid, kind, item_id = member.rsplit("|", 2)
        if member != me and item_id.isdigit():
            out.append((rid, crm.ItemRef(kind, int(item_id))))
    return out[:ALSO_DUE_MAX]
