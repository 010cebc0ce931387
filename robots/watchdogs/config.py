"""The watchdogs' settings: the rules an admin sets up, and the company's working time.

Six kinds of rule, each a list on the admin page (one kind, one form):
- reaction: a new item must see a reaction within a time; steps escalate on a miss; the "first
  of N to react takes it" variant offers it to several people at once;
- next_activity: a deal in work must always have an open activity or to-do;
- stage_limits: a deal that stays too long in a stage moves to a follow-up pipeline;
- date_reminders: a reminder before (or at) a date field of the deal;
- check_ins: a recurring task while a deal is in a stage, at an interval from a field or from
  the route's length;
- follow_ups: a task N working days after a stage, or on a date the manager sets (looping).

Every rule has an id (its timers' and audit's key), a name (the words people read) and an
on/off switch. Declared once: the store validates, the admin page renders, the CLI describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.i18n import N_
from connector.settings_schema import (
    Bool,
    Choice,
    CrmField,
    Dates,
    Duration,
    EntityTypes,
    ListOf,
    Number,
    Option,
    Pipeline,
    Pipelines,
    Problem,
    Schema,
    Sources,
    Stage,
    Stages,
    Template,
    Text,
    User,
    Users,
)

NAME = "watchdogs"
KINDS = ("reaction", "next_activity", "stage_limits", "date_reminders", "check_ins",
         "follow_ups")

# what a step does
REMIND = "remind"          # the responsible
SUPERVISORS = "supervisors"  # the step's people, told that the responsible missed it
REASSIGN = "reassign"      # hand the item to the next person by fair distribution
PEOPLE = "people"          # named people (observers of a process, a dispatcher)
ACTIONS = (REMIND, SUPERVISORS, REASSIGN, PEOPLE)

TASK, NOTIFY = "task", "notify"
CHANNEL = Choice("channel", N_("How"), N_("A task with a deadline, or a notification."),
                 TASK, options=(Option(TASK, N_("A task")), Option(NOTIFY, N_("A notification"))))

# what counts as a reaction (connector.crm.port.Reactions kinds, and a stage change)
REACTIONS = (Option("stage", N_("A stage change")), Option("call", N_("A call")),
             Option("email", N_("An e-mail")),
             Option("activity", N_("Any other activity or to-do")),
             Option("comment", N_("A comment")))

RULE_ID = r"[a-z0-9_-]{1,40}"
TASK_PLACEHOLDERS = ("TITLE", "ID")
DAY_MIN = 24 * 60
MAX_MIN = 366 * DAY_MIN


def _id_field() -> Text:
    return Text("id", N_("Rule id"), N_("A short id for the audit and the CLI: a-z, 0-9, _ or -."),
                pattern=RULE_ID, messages={"pattern": N_("must be 1-40 of a-z, 0-9, _ or -"),
                                           "type": N_("must be 1-40 of a-z, 0-9, _ or -"),
                                           "required": N_("must be 1-40 of a-z, 0-9, _ or -")})


def _common() -> tuple[Any, ...]:
    return (
        _id_field(),
        Text("name", N_("Name"), N_("The rule's name in reminders and in the audit; the id when "
                                    "not given."), blank=False, default_from="id"),
        Bool("enabled", N_("On"), N_("Off: the rule sets no new timers; pending ones are "
                                     "dropped when they come due."), True),
    )


def _working_time(default: bool) -> Bool:
    return Bool("working_time", N_("Count working time only"),
                N_("Delays run only during the company's working hours (the Working time "
                   "section), so a lead of Friday evening is due on Monday."), default)


STEP = Schema("step", N_("Step"), (
    Duration("after_minutes", N_("After"),
             N_("Minutes after the due time (0: at the due time)."), 0, unit="min", low=0,
             high=MAX_MIN),
    Choice("action", N_("What happens"), N_("Who is told, or what is done."), REMIND,
           options=(Option(REMIND, N_("Remind the responsible")),
                    Option(SUPERVISORS, N_("Tell the supervisors")),
                    Option(REASSIGN, N_("Reassign through fair distribution")),
                    Option(PEOPLE, N_("Tell the named people")))),
    CHANNEL,
    Users("users", N_("People"),
          N_("Supervisors or named people for those steps; the responsible's department head "
             "is not guessed."), []),
    Text("group", N_("Distribution group"),
         N_("For a reassignment: the group id; empty means the only group (or the first that "
            "serves this entity)."), "", pattern=r"[a-z0-9_-]{0,40}"),
), check=lambda s: ("users", N_("name the people this step tells"))
    if s["action"] in (SUPERVISORS, PEOPLE) and not s["users"] else None)

DEFAULT_STEPS = [{"after_minutes": 0, "action": REMIND}]


def _steps(default: list[dict[str, Any]] | None = None) -> ListOf:
    return ListOf("steps", N_("Steps"),
                  N_("What happens when the time is missed, in order; each step once."),
                  [] if default is None else default, item=STEP)


def _check_reaction(rule: dict[str, Any]) -> Problem | None:
    if not rule["reactions"]:
        return "reactions", N_("choose at least one kind of reaction")
    if not rule["steps"] and len(rule["first_of"]) < 2:
        return "steps", N_("add a step, or offer the item to two or more people")
    return None


REACTION = Schema("reaction", N_("Reaction watchdog"), (
    *_common(),
    EntityTypes("entity", N_("Entity"), N_("Which new items are watched."), "lead", many=False),
    Pipelines("category_ids", N_("Pipelines"), N_("None chosen means all."), [],
              entity_from="entity"),
    Stages("stage_ids", N_("Stages"), N_("Only items created in these stages; none means any."),
           [], entity_from="entity"),
    Sources("source_ids", N_("Sources"), N_("Only items from these sources; none means all."),
            [], entity_from="entity"),
    Duration("due_minutes", N_("Reaction due within"),
             N_("Minutes from the item's creation (22 hours = 1320)."), 30, unit="min", low=1,
             high=MAX_MIN),
    Choice("reactions", N_("What counts as a reaction"),
           N_("Any of these by anyone ends the watch."), ["stage", "call", "email", "activity",
                                                        "comment"], options=REACTIONS, many=True),
    _working_time(True),
    Users("first_of", N_("Offer to the first who reacts"),
          N_("Two or more people: each is told at once, the first to react becomes the "
             "responsible and the others are told it is taken. Empty: the responsible only."),
          []),
    _steps(DEFAULT_STEPS),
), check=_check_reaction)

NEXT_ACTIVITY = Schema("next_activity", N_("Next activity required"), (
    *_common(),
    Pipelines("category_ids", N_("Pipelines"), N_("Deals of these pipelines; none means all."),
              [], entity="deal"),
    Duration("grace_minutes", N_("Allowed without an activity"),
             N_("Minutes a deal in work may have no open activity or to-do before the first "
                "step."), 60, unit="min", low=0, high=MAX_MIN),
    _working_time(True),
    _steps(DEFAULT_STEPS),
), check=lambda r: ("steps", N_("add at least one step")) if not r["steps"] else None)

KEEP, DISTRIBUTE, NAMED = "keep", "distribute", "user"


def _check_limit(rule: dict[str, Any]) -> Problem | None:
    if not rule["stage_ids"]:
        return "stage_ids", N_("choose the stages the limit applies to")
    if rule["responsible"] == NAMED and not rule["user"]:
        return "user", N_("choose the new responsible")
    return None


STAGE_LIMIT = Schema("stage_limit", N_("Stage limit"), (
    *_common(),
    Stages("stage_ids", N_("Stages"), N_("Deals longer than the limit in one of these stages "
                                         "are moved."), [], entity="deal"),
    Duration("limit_minutes", N_("Limit"), N_("Minutes in the stage (7 days = 10080)."),
             7 * DAY_MIN, unit="min", low=1, high=MAX_MIN),
    _working_time(False),
    Pipeline("move_category", N_("Move to pipeline"), N_("The follow-up pipeline."), 0,
             entity="deal"),
    Stage("move_stage", N_("Move to stage"), N_("Its stage the deal lands in."), "",
          entity="deal", optional=True),
    Choice("responsible", N_("New responsible"), N_("Who takes the moved deal."), KEEP,
           options=(Option(KEEP, N_("Keep the responsible")),
                    Option(DISTRIBUTE, N_("By fair distribution")),
                    Option(NAMED, N_("A named person")))),
    User("user", N_("Named person"), N_("For 'a named person': who takes it."), 0,
         optional=True),
    Text("group", N_("Distribution group"), N_("For fair distribution: the group id; empty "
                                               "means the only one."), "",
         pattern=r"[a-z0-9_-]{0,40}"),
    Bool("with_task", N_("Set a task"), N_("A task for the responsible of the moved deal."),
         True),
    Template("task", N_("Task for the new responsible"), N_("Its title."),
             N_("Call the client back: {TITLE}"), placeholders=TASK_PLACEHOLDERS),
    Duration("task_minutes", N_("Task deadline"), N_("Minutes after the move."), DAY_MIN,
             unit="min", low=1, high=MAX_MIN),
), check=_check_limit)

RESPONSIBLE, OBSERVERS = "responsible", "observers"
RECIPIENTS = (Option(RESPONSIBLE, N_("The responsible")), Option(OBSERVERS, N_("The observers")),
              Option(PEOPLE, N_("The named people")))


def _check_date(rule: dict[str, Any]) -> Problem | None:
    if not rule["recipients"]:
        return "recipients", N_("choose who is reminded")
    if PEOPLE in rule["recipients"] and not rule["users"]:
        return "users", N_("name the people who are reminded")
    return None


DATE_FIELDS = ("CLOSEDATE", "BEGINDATE")

DATE_REMINDER = Schema("date_reminder", N_("Reminder before a date"), (
    *_common(),
    Pipelines("category_ids", N_("Pipelines"), N_("None chosen means all."), [], entity="deal"),
    CrmField("field", N_("Date field"),
             N_("A date or date-and-time field of the deal (loading, visit, deadline)."),
             entity="deal", field_type="datetime", also=DATE_FIELDS, existing=True,
             messages={"invalid": N_("must be a date field: UF_CRM_…, CLOSEDATE or "
                                     "BEGINDATE")}),
    Duration("before_minutes", N_("How long before"),
             N_("Minutes before the date (2 hours = 120; 0 = at the time)."), 120, unit="min",
             low=0, high=MAX_MIN),
    Choice("recipients", N_("Who is reminded"), N_("One or more."), [RESPONSIBLE],
           options=RECIPIENTS, many=True),
    Users("users", N_("Named people"), N_("For 'the named people'."), []),
    CHANNEL,
), check=_check_date)

FIXED, FROM_FIELD, FROM_DISTANCE = "fixed", "field", "distance"

DISTANCE_STEP = Schema("distance_step", N_("Route length"), (
    Number("from_km", N_("From, km"), N_("Routes at least this long…"), 0, low=0, high=20000),
    Duration("every_minutes", N_("Every"), N_("…get a check-in this often, in minutes."), 240,
             unit="min", low=15, high=7 * DAY_MIN),
))


def _check_check_in(rule: dict[str, Any]) -> Problem | None:
    if not rule["stage_ids"]:
        return "stage_ids", N_("choose the stages the check-ins run in")
    if rule["interval_from"] == FROM_FIELD and not rule["interval_field"]:
        return "interval_field", N_("choose the field that holds the interval")
    if rule["interval_from"] == FROM_DISTANCE:
        if not rule["distance_field"]:
            return "distance_field", N_("choose the field that holds the route's length")
        if not rule["by_distance"]:
            return "by_distance", N_("add at least one route length")
    return None


CHECK_IN = Schema("check_in", N_("Recurring check-in"), (
    *_common(),
    Stages("stage_ids", N_("Stages"), N_("While the deal is in one of these (in transit)."), [],
           entity="deal"),
    Choice("interval_from", N_("Interval"), N_("A fixed interval, a field of the deal (hours), "
                                               "or by the route's length."), FIXED,
           options=(Option(FIXED, N_("Fixed")), Option(FROM_FIELD, N_("From a field (hours)")),
                    Option(FROM_DISTANCE, N_("By the route's length")))),
    Duration("every_minutes", N_("Every"), N_("For a fixed interval, in minutes."), 240,
             unit="min", low=15, high=7 * DAY_MIN),
    CrmField("interval_field", N_("Interval field"), N_("A number field: hours between "
                                                        "check-ins."), "", entity="deal",
             field_type="double", blank=True, existing=True),
    CrmField("distance_field", N_("Route length field"), N_("A number field: kilometres."), "",
             entity="deal", field_type="double", blank=True, existing=True),
    ListOf("by_distance", N_("Interval by route length"),
           N_("Longer routes, rarer check-ins: the longest row that fits applies."),
           [{"from_km": 0, "every_minutes": 120}, {"from_km": 500, "every_minutes": 240},
            {"from_km": 1500, "every_minutes": 480}], item=DISTANCE_STEP),
    _working_time(False),
    Template("task", N_("Task title"), N_("What the responsible is asked to do."),
             N_("Check in with the driver: {TITLE}"), placeholders=TASK_PLACEHOLDERS),
    CHANNEL,
), check=_check_check_in)

AFTER_STAGE, ON_DATE = "after_stage", "on_date"


def _check_follow_up(rule: dict[str, Any]) -> Problem | None:
    if rule["mode"] == AFTER_STAGE and not rule["stage_ids"]:
        return "stage_ids", N_("choose the stages the follow-up counts from")
    if rule["mode"] == ON_DATE and not rule["date_field"]:
        return "date_field", N_("choose the field where the manager sets the date")
    return None


FOLLOW_UP = Schema("follow_up", N_("Follow-up"), (
    *_common(),
    Choice("mode", N_("When"), N_("N working days after a stage, or on a date the manager sets "
                                  "(again and again, until the deal is won or lost)."),
           AFTER_STAGE, options=(Option(AFTER_STAGE, N_("Working days after a stage")),
                                 Option(ON_DATE, N_("On the date in a field")))),
    Stages("stage_ids", N_("Stages"), N_("For 'after a stage': the stages it counts from "
                                         "(delivered)."), [], entity="deal"),
    Number("working_days", N_("Working days after"), N_("For 'after a stage'."), 1, low=0,
           high=365),
    CrmField("date_field", N_("Date field"), N_("For 'on a date': the field the manager sets "
                                                "after a refusal (next call)."), "",
             entity="deal", field_type="datetime", also=DATE_FIELDS, blank=True,
             existing=True),
    Template("task", N_("Task title"), N_("What the responsible is asked to do."),
             N_("Call the client: {TITLE}"), placeholders=TASK_PLACEHOLDERS),
    Duration("task_minutes", N_("Task deadline"), N_("Minutes after the task is set."), 240,
             unit="min", low=1, high=MAX_MIN),
), check=_check_follow_up)

WATCHDOGS = Schema("watchdogs", N_("Watchdogs and reminders"), (
    ListOf("reaction", N_("Reaction watchdogs"),
           N_("New leads, deals or requests that nobody reacts to in time."), [], item=REACTION,
           unique="id"),
    ListOf("next_activity", N_("Next activity required"),
           N_("Deals in work that have no planned activity."), [], item=NEXT_ACTIVITY,
           unique="id"),
    ListOf("stage_limits", N_("Stage limits"),
           N_("Deals that stay in a stage too long move on."), [], item=STAGE_LIMIT,
           unique="id"),
    ListOf("date_reminders", N_("Reminders before a date"),
           N_("Loading, a visit, a deadline: a reminder before it."), [], item=DATE_REMINDER,
           unique="id"),
    ListOf("check_ins", N_("Recurring check-ins"),
           N_("A task every few hours while the deal is in a stage."), [], item=CHECK_IN,
           unique="id"),
    ListOf("follow_ups", N_("Follow-ups"),
           N_("A call after delivery, the next call after a refusal."), [], item=FOLLOW_UP,
           unique="id"),
    Number("audit_days", N_("Keep the audit"), N_("Days the audit of steps is kept."), 90,
           low=1, high=365),
), help=N_("Nothing waits unseen: reactions, planned activities, stage limits, reminders and "
           "check-ins, each a timer per item, in working time."),
   check=lambda s: _unique_ids(s))


def _unique_ids(section: dict[str, Any]) -> Problem | None:
    """Rule ids key timers and the audit, so one id names one rule across all kinds."""
    seen: set[str] = set()
    for kind in KINDS:
        for i, rule in enumerate(section[kind]):
            if rule["id"] in seen:
                return f"{kind}[{i}].id", N_("duplicate rule id {value}"), {"value": rule["id"]}
            seen.add(rule["id"])
    return None


WEEKDAYS = (Option(1, N_("Monday")), Option(2, N_("Tuesday")), Option(3, N_("Wednesday")),
            Option(4, N_("Thursday")), Option(5, N_("Friday")), Option(6, N_("Saturday")),
            Option(7, N_("Sunday")))
CLOCK = r"([01]\d|2[0-3]):[0-5]\d"


def _check_hours(section: dict[str, Any]) -> Problem | None:
    if section["end"] <= section["start"]:
        return "end", N_("must be later than the start")
    if not section["weekdays"]:
        return "weekdays", N_("choose at least one working day")
    return None


WORK_TIME = Schema("work_time", N_("Working time"), (
    Text("start", N_("Work starts"), N_("HH:MM in the portal's time zone (General)."), "09:00",
         pattern=CLOCK, messages={"pattern": N_("must be a time like 09:00")}),
    Text("end", N_("Work ends"), N_("HH:MM."), "18:00", pattern=CLOCK,
         messages={"pattern": N_("must be a time like 18:00")}),
    Choice("weekdays", N_("Working days"), N_("The days of a normal week."), [1, 2, 3, 4, 5],
           options=WEEKDAYS, many=True),
    Bool("production_calendar", N_("Russian production calendar"),
         N_("Public holidays and the moved days off and working Saturdays of the Russian "
            "calendar."), True),
    Dates("days_off", N_("Extra days off"), N_("Dates like 2026-12-31, separated by commas."),
          []),
    Dates("workdays", N_("Extra working days"),
          N_("Dates that are working days although the week or the calendar says not."), []),
    Bool("use_portal_calendar", N_("Use the portal's working time"),
         N_("Take the hours, weekends and holidays set in Bitrix24 (calendar settings) when "
            "the app may read them."), False),
), check=_check_hours, help=N_("The hours and days the watchdogs count in when a rule asks "
                               "for working time."))

SCHEMAS = (WATCHDOGS, WORK_TIME)


def rules(settings: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The enabled rules of a kind, validated (the store returns valid sections)."""
    return [r for r in (settings.get(NAME) or {}).get(kind, []) if r.get("enabled", True)]


def all_rules(settings: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, rule) of every enabled rule, in the order of the page."""
    return [(kind, rule) for kind in KINDS for rule in rules(settings, kind)]


def rule_by_id(settings: Mapping[str, Any], rule_id: str) -> tuple[str, dict[str, Any]] | None:
    return next(((k, r) for k, r in all_rules(settings) if r["id"] == rule_id), None)
