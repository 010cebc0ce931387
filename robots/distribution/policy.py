"""The pure decision: who gets the next item of a group, and a reason a supervisor can read.

No I/O here. The engine gathers the facts (work-day states, counters, the client's pinned
manager) and this module turns them into a Decision, so every rule is unit-testable and the
dry run uses exactly the same code as real assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPENED, PAUSED, CLOSED, EXPIRED, NOT_STARTED = "OPENED", "PAUSED", "CLOSED", "EXPIRED", "NONE"
LEAST_LOADED, WEIGHTED = "least_loaded", "weighted"

SKIP_TEXT = {
    PAUSED: "on a break",
    CLOSED: "work day closed",
    EXPIRED: "yesterday's work day left open",
    NOT_STARTED: "work day not started",
    "inactive": "deactivated or unknown user",
    "cap_in_work": "in-work cap reached",
    "cap_day": "daily cap reached",
    "unknown": "work-day status unknown",
}


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

    @property
    def label(self) -> str:
        return self.name or f"user {self.user_id}"

    def numbers(self) -> str:
        return f"in work {self.in_work}, today {self.today}, this month {self.month}"


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


def rule_text(rule: str) -> str:
    if rule == WEIGHTED:
        return ("weighted: the lowest received-today per unit of weight, then this month, "
                "then in work, then who waited longest")
    return ("least loaded: the fewest in work, then received today, then this month, "
            "then who waited longest")


def _skipped_text(members: list[Member], skipped: dict[int, str]) -> str:
    by_id = {m.user_id: m for m in members}
    parts = [f"{by_id[uid].label} ({SKIP_TEXT.get(why, why)})" for uid, why in skipped.items()]
    return "; skipped: " + ", ".join(parts) if parts else ""


def decide(members: list[Member], rule: str = LEAST_LOADED, caps: Caps = Caps(),
           pinned: int | None = None) -> Decision:
    """Pick the member for one item.

    A repeat client's pinned manager gets it even on a break, if still active and with an
    open or paused day; otherwise the normal rule applies and the reason says why.
    """
    by_id = {m.user_id: m for m in members}
    note = ""
    if pinned is not None:
        owner = by_id.get(pinned)
        if owner is not None and skip_reason(owner, Caps(), allow_paused=True) is None:
            return Decision(owner.user_id,
                            f"repeat client: back to their manager {owner.label} "
                            f"({owner.numbers()})", rule, {}, True)
        if owner is None:
            note = f"repeat client's manager (user {pinned}) is not in this group; "
        else:
            why = skip_reason(owner, Caps(), allow_paused=True) or ""
            note = f"repeat client's manager {owner.label} is unavailable " \
                   f"({SKIP_TEXT.get(why, why)}); "
    skipped: dict[int, str] = {}
    eligible: list[Member] = []
    for m in members:
        why = skip_reason(m, caps)
        if why:
            skipped[m.user_id] = why
        else:
            eligible.append(m)
    if not members:
        return Decision(None, "the group has no members", rule, skipped)
    if not eligible:
        return Decision(None, note + "nobody can receive now" + _skipped_text(members, skipped),
                        rule, skipped)
    chosen = min(eligible, key=lambda m: sort_key(m, rule))
    extra = ""
    if rule == WEIGHTED:
        extra = f", weight {chosen.weight:g}"
    reason = (f"{note}{chosen.label} ({chosen.numbers()}{extra}) by {rule_text(rule)}"
              f"{_skipped_text(members, skipped)}")
    return Decision(chosen.user_id, reason, rule, skipped)
