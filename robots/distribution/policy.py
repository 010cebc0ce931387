"""The pure decision: who gets the next item of a group, and a reason a supervisor can read.

No I/O here. The engine gathers the facts (work-day states, counters, the client's pinned
manager) and this module turns them into a Decision, so every rule is unit-testable and the
dry run uses exactly the same code as real assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.i18n import N_, t

OPENED, PAUSED, CLOSED, EXPIRED, NOT_STARTED = "OPENED", "PAUSED", "CLOSED", "EXPIRED", "NONE"
LEAST_LOADED, WEIGHTED = "least_loaded", "weighted"

SKIP_TEXT = {
    PAUSED: N_("on a break"),
    CLOSED: N_("work day closed"),
    EXPIRED: N_("yesterday's work day left open"),
    NOT_STARTED: N_("work day not started"),
    "inactive": N_("deactivated or unknown user"),
    "cap_in_work": N_("in-work cap reached"),
    "cap_day": N_("daily cap reached"),
    "unknown": N_("work-day status unknown"),
}


def skip_text(lang: str, why: str) -> str:
    return t(lang, SKIP_TEXT[why]) if why in SKIP_TEXT else why


@dataclass
class Member:
    """One candidate with the facts the rule needs."""

    user_id: int
    name: str = ""
    day: str = NOT_STARTED
    active: bool = True
    weight: float = 1.0
    in_work: int = 0
    today: int = 0
    month: int = 0
    last_assigned_at: float = 0.0

    def label(self, lang: str = "en") -> str:
        return self.name or t(lang, N_("user {id}"), id=self.user_id)

    def numbers(self, lang: str = "en") -> str:
        return t(lang, N_("in work {in_work}, today {today}, this month {month}"),
                 in_work=self.in_work, today=self.today, month=self.month)


@dataclass(frozen=True)
class Caps:
    max_in_work: int = 0  # 0 = no cap
    max_per_day: int = 0


@dataclass
class Decision:
    user_id: int | None
    reason: str
    rule: str
    skipped: dict[int, str] = field(default_factory=dict)
    repeat_client: bool = False

    @property
    def assigned(self) -> bool:
        return self.user_id is not None


def skip_reason(m: Member, caps: Caps, allow_paused: bool = False) -> str | None:
    """Why this member cannot receive now, or None when eligible."""
    if not m.active:
        return "inactive"
    if m.day == PAUSED and allow_paused:
        pass
    elif m.day != OPENED:
        return m.day if m.day in SKIP_TEXT else "unknown"
    if caps.max_in_work and m.in_work >= caps.max_in_work:
        return "cap_in_work"
    if caps.max_per_day and m.today >= caps.max_per_day:
        return "cap_day"
    return None


def sort_key(m: Member, rule: str) -> tuple[float, ...]:
    """Lower is first. Ties end with who waited longest, then the lower user id."""
    if rule == WEIGHTED:
        w = m.weight if m.weight > 0 else 1e-9
        return ((m.today + 1) / w, (m.month + 1) / w, m.in_work, m.last_assigned_at, m.user_id)
    return (m.in_work, m.today, m.month, m.last_assigned_at, m.user_id)


def rule_text(rule: str, lang: str = "en") -> str:
    if rule == WEIGHTED:
        return t(lang, N_("weighted: the lowest received-today per unit of weight, then this "
                          "month, then in work, then who waited longest"))
    return t(lang, N_("least loaded: the fewest in work, then received today, then this month, "
                      "then who waited longest"))


def _skipped_text(members: list[Member], skipped: dict[int, str], lang: str) -> str:
    by_id = {m.user_id: m for m in members}
    parts = [f"{by_id[uid].label(lang)} ({skip_text(lang, why)})" for uid, why in skipped.items()]
    return t(lang, N_("; skipped: {people}"), people=", ".join(parts)) if parts else ""


def decide(members: list[Member], rule: str = LEAST_LOADED, caps: Caps = Caps(),
           pinned: int | None = None, lang: str = "en") -> Decision:
    """Pick the member for one item.

    A repeat client's pinned manager gets it even on a break, if still active and with an
    open or paused day; otherwise the normal rule applies and the reason says why.
    """
    by_id = {m.user_id: m for m in members}
    note = ""
    if pinned is not None:
        owner = by_id.get(pinned)
        if owner is not None and skip_reason(owner, Caps(), allow_paused=True) is None:
            return Decision(owner.user_id, t(
                lang, N_("repeat client: back to their manager {name} ({numbers})"),
                name=owner.label(lang), numbers=owner.numbers(lang)), rule, {}, True)
        if owner is None:
            note = t(lang, N_("repeat client's manager (user {id}) is not in this group; "),
                     id=pinned)
        else:
            why = skip_reason(owner, Caps(), allow_paused=True) or ""
            note = t(lang, N_("repeat client's manager {name} is unavailable ({why}); "),
                     name=owner.label(lang), why=skip_text(lang, why))
    skipped: dict[int, str] = {}
    eligible: list[Member] = []
    for m in members:
        why = skip_reason(m, caps)
        if why:
            skipped[m.user_id] = why
        else:
            eligible.append(m)
    if not members:
        return Decision(None, t(lang, N_("the group has no members")), rule, skipped)
    if not eligible:
        return Decision(None, note + t(lang, N_("nobody can receive now"))
                        + _skipped_text(members, skipped, lang), rule, skipped)
    chosen = min(eligible, key=lambda m: sort_key(m, rule))
    numbers = chosen.numbers(lang)
    if rule == WEIGHTED:
        numbers += t(lang, N_(", weight {weight}"), weight=f"{chosen.weight:g}")
    reason = note + t(lang, N_("{name} ({numbers}) by {rule}"), name=chosen.label(lang),
                      numbers=numbers, rule=rule_text(rule, lang)) + _skipped_text(
        members, skipped, lang)
    return Decision(chosen.user_id, reason, rule, skipped)
