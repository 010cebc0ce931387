"""Typed settings: each field declared once validates input, fills its default and describes itself.

A `Schema` is one section of a portal's settings document (`general`, `distribution`, …). Its
fields know their kind, label, help, default and validation messages (English msgids, marked
with `N_()` and rendered in the reader's language), so the CLI and the admin forms read the
same declaration and nobody writes a form by hand. Reference kinds (users, pipelines, chats…)
store ids exactly as the CRM names them, so stored documents stay what they were.

`connector/` declares only the core sections (`CORE_SCHEMAS`); each capability exports its own
and the caller hands the mapping to `SettingsStore` — there is no global registry.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from redis import Redis
from redis.exceptions import WatchError

from connector.i18n import N_, Msg, t

# (field path relative to the schema, message msgid[, its {placeholders}])
Problem = tuple[str, str] | tuple[str, str, dict[str, Any]]
Check = Callable[[dict[str, Any]], Problem | None]


class SettingsInvalid(ValueError):
    """Names the offending field (dotted path) and says why, in either language."""

    def __init__(self, path: str, reason_msgid: str, **params: Any):
        self.path = path
        self.reason_msgid = reason_msgid
        self.params = params
        super().__init__(f"{path}: {self.reason}")

    @property
    def reason(self) -> str:
        """The reason in English (the msgid with its placeholders filled)."""
        return t("en", self.reason_msgid, **self.params)

    def message(self, lang: str) -> str:
        return f"{self.path}: {t(lang, self.reason_msgid, **self.params)}"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a field that has none: the value must be given."""

COMMON_MESSAGES: Mapping[str, Msg] = {"required": N_("is required")}


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "number", float: "number", str: "text", list: "list",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Field:
    """One setting. Subclasses say what a valid value is; `clean` returns it normalised."""

    name: str
    label: Msg
    help: Msg
    default: Any = REQUIRED
    # per-field wording of a refusal, by message key (see each kind's MESSAGES)
    messages: Mapping[str, Msg] = field(default_factory=dict, kw_only=True)
    # when not given, take the value of this sibling field (a group's name is its id)
    default_from: str = field(default="", kw_only=True)

    kind: ClassVar[str] = ""
    MESSAGES: ClassVar[Mapping[str, Msg]] = {}

    def clean(self, path: str, value: Any) -> Any:
        raise NotImplementedError

    def fail(self, path: str, key: str, **params: Any) -> NoReturn:
        msgid = self.messages.get(key) or self.MESSAGES.get(key) or COMMON_MESSAGES[key]
        raise SettingsInvalid(path, msgid, **params)

    def extra(self, lang: str) -> dict[str, Any]:
        """What this kind adds to the description (range, options, reference…)."""
        return {}

    def describe(self, lang: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "kind": self.kind, "label": t(lang, self.label),
            "help": t(lang, self.help),
            "required": self.default is REQUIRED and not self.default_from,
            "default": None if self.default is REQUIRED else self.default,
        }
        if self.default_from:
            out["default_from"] = self.default_from
        return {**out, **self.extra(lang)}


@dataclass(frozen=True)
class Bool(Field):
    kind: ClassVar[str] = "bool"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"type": N_("must be true or false, got {got}")}

    def clean(self, path: str, value: Any) -> Any:
        if not isinstance(value, bool):
            self.fail(path, "type", got=_type_name(value))
        return value


def _number(f: Field, path: str, value: Any, whole: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        f.fail(path, "type", got=_type_name(value))
    if whole and isinstance(value, float):
        f.fail(path, "whole")
    return value if whole else float(value)


@dataclass(frozen=True)
class Number(Field):
    """A number in [low, high] (or (low, high] with low_open); whole unless whole=False."""

    low: float = field(default=0, kw_only=True)
    high: float = field(default=10**12, kw_only=True)
    whole: bool = field(default=True, kw_only=True)
    low_open: bool = field(default=False, kw_only=True)

    kind: ClassVar[str] = "number"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be a number, got {got}"),
        "whole": N_("must be a whole number"),
        "range": N_("must be between {low} and {high}"),
        "range_open": N_("must be above {low} and at most {high}"),
    }

    def clean(self, path: str, value: Any) -> Any:
        number = _number(self, path, value, self.whole)
        if self.low_open and not self.low < number <= self.high:
            self.fail(path, "range_open", low=self.low, high=self.high)
        if not self.low <= number <= self.high:
            self.fail(path, "range", low=self.low, high=self.high)
        return number

    def extra(self, lang: str) -> dict[str, Any]:
        return {"min": self.low, "max": self.high, "whole": self.whole,
                "min_exclusive": self.low_open}


@dataclass(frozen=True)
class Duration(Field):
    """A whole number of seconds or minutes, stored as that number."""

    unit: str = field(default="s", kw_only=True)  # "s" or "min"
    low: int = field(default=0, kw_only=True)
    high: int = field(default=86400, kw_only=True)

    kind: ClassVar[str] = "duration"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be a number, got {got}"),
        "whole": N_("must be a whole number"),
        "range_s": N_("must be between {low} and {high} seconds"),
        "range_min": N_("must be between {low} and {high} minutes"),
    }

    def __post_init__(self) -> None:
        if self.unit not in ("s", "min"):
            raise ValueError(f"{self.name}: unit must be 's' or 'min'")

    def clean(self, path: str, value: Any) -> Any:
        number = _number(self, path, value, whole=True)
        if not self.low <= number <= self.high:
            self.fail(path, f"range_{self.unit}", low=self.low, high=self.high)
        return number

    def extra(self, lang: str) -> dict[str, Any]:
        return {"unit": self.unit, "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Option:
    value: Any
    label: Msg


@dataclass(frozen=True)
class Choice(Field):
    """One of the options; with many=True a list of them (each at most once, in option order)."""

    options: tuple[Option, ...] = field(default=(), kw_only=True)
    many: bool = field(default=False, kw_only=True)

    kind: ClassVar[str] = "choice"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"choice": N_("must be one of {allowed}"),
                                             "choices": N_("must be a list of {allowed}")}

    def clean(self, path: str, value: Any) -> Any:
        allowed = [o.value for o in self.options]
        if self.many:
            if not isinstance(value, list) or any(
                    isinstance(v, bool) or v not in allowed for v in value):
                self.fail(path, "choices", allowed=", ".join(map(str, allowed)))
            return [v for v in allowed if v in value]
        if isinstance(value, bool) or value not in allowed:
            self.fail(path, "choice", allowed=", ".join(map(str, allowed)))
        return value

    def extra(self, lang: str) -> dict[str, Any]:
        return {"options": [{"value": o.value, "label": t(lang, o.label)} for o in self.options],
                "many": self.many}


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Dates(Field):
    """Calendar days as "YYYY-MM-DD" (extra days off, working Saturdays), sorted, each once."""

    kind: ClassVar[str] = "dates"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a list of dates like 2026-12-31"),
        "date": N_("{value} is not a date like 2026-12-31")}

    def clean(self, path: str, value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(path, "invalid")
        for v in value:
            try:
                if not ISO_DATE.match(v):
                    raise ValueError(v)
                datetime.date.fromisoformat(v)
            except ValueError:
                self.fail(path, "date", value=v)
        return sorted(set(value))


def _text(f: Field, path: str, value: Any) -> str:
    if not isinstance(value, str):
        f.fail(path, "type", got=_type_name(value))
    return value


@dataclass(frozen=True)
class Text(Field):
    """Free text, optionally non-blank, of a regular form, or of a bounded length; `long`
    text (a list an admin keeps, one entry a line) is edited in a text area."""

    blank: bool = field(default=True, kw_only=True)
    pattern: str = field(default="", kw_only=True)
    max_length: int = field(default=0, kw_only=True)
    long: bool = field(default=False, kw_only=True)

    kind: ClassVar[str] = "text"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be text, got {got}"),
        "blank": N_("must be a non-empty string"),
        "pattern": N_("is not of the expected form"),
        "length": N_("must be at most {max} characters"),
    }

    def clean(self, path: str, value: Any) -> Any:
        text = _text(self, path, value)
        if not self.blank and not text.strip():
            self.fail(path, "blank")
        if self.pattern and not re.fullmatch(self.pattern, text):
            self.fail(path, "pattern")
        if self.max_length and len(text) > self.max_length:
            self.fail(path, "length", max=self.max_length)
        return text

    def extra(self, lang: str) -> dict[str, Any]:
        return {"blank": self.blank, "pattern": self.pattern or None,
                "max_length": self.max_length or None}


@dataclass(frozen=True)
class TimeZone(Field):
    kind: ClassVar[str] = "timezone"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be text, got {got}"),
        "zone": N_("is not an IANA time zone such as Europe/Moscow"),
    }

    def clean(self, path: str, value: Any) -> Any:
        try:
            zoneinfo.ZoneInfo(_text(self, path, value))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.fail(path, "zone")
        return value


PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


@dataclass(frozen=True)
class Template(Field):
    """Text with {PLACEHOLDERS} filled from the item; only the listed ones are allowed. A
    `long` one (a message of several lines) is edited in a text area, which keeps its line
    breaks: a one-line input would drop them on the next save."""

    placeholders: tuple[str, ...] = field(default=(), kw_only=True)
    long: bool = field(default=False, kw_only=True)

    kind: ClassVar[str] = "template"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be text, got {got}"),
        "placeholder": N_("unknown placeholder {{{name}}} (allowed: {allowed})"),
        "blank": N_("must not be empty"),
    }

    def clean(self, path: str, value: Any) -> Any:
        text = _text(self, path, value)
        unknown = set(PLACEHOLDER.findall(text)) - set(self.placeholders)
        if unknown:
            self.fail(path, "placeholder", name=sorted(unknown)[0],
                      allowed=", ".join(self.placeholders))
        if not text.strip():
            self.fail(path, "blank")
        return text

    def extra(self, lang: str) -> dict[str, Any]:
        return {"placeholders": list(self.placeholders)}


@dataclass(frozen=True)
class Reference(Field):
    """The id of a CRM object (one, or a list), stored exactly as the CRM names it.

    Numeric ids are whole numbers from `lowest` (0 = none when `optional`); others are text.
    `entity` (or a sibling field named by `entity_from`) says whose pipelines/stages/fields.
    """

    optional: bool = field(default=False, kw_only=True)
    entity: str = field(default="", kw_only=True)
    entity_from: str = field(default="", kw_only=True)

    kind: ClassVar[str] = ""
    many: ClassVar[bool] = False
    numeric: ClassVar[bool] = True
    lowest: ClassVar[int] = 1
    highest: ClassVar[int] = 2**63 - 1

    def _one(self, value: Any) -> bool:
        if self.numeric:
            ok = isinstance(value, int) and not isinstance(value, bool)
            return ok and self.lowest <= value <= self.highest
        return isinstance(value, str) and bool(value.strip())

    def clean(self, path: str, value: Any) -> Any:
        if self.many:
            if not isinstance(value, list) or not all(self._one(v) for v in value):
                self.fail(path, "invalid")
            return list(value)
        none = 0 if self.numeric else ""
        if not (self.optional and value == none and type(value) is type(none)) and not self._one(
                value):
            self.fail(path, "invalid")
        return value

    def extra(self, lang: str) -> dict[str, Any]:
        ref = {"type": self.kind.removesuffix("s") if self.many else self.kind,
               "many": self.many, "optional": self.optional}
        if self.entity:
            ref["entity"] = self.entity
        if self.entity_from:
            ref["entity_from"] = self.entity_from
        return {"reference": ref}


@dataclass(frozen=True)
class User(Reference):
    kind: ClassVar[str] = "user"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a user id (a positive whole number)")}


@dataclass(frozen=True)
class Users(Reference):
    kind: ClassVar[str] = "users"
    many: ClassVar[bool] = True
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a list of positive user ids")}


@dataclass(frozen=True)
class Department(Reference):
    kind: ClassVar[str] = "department"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a department id (a positive whole number)")}


@dataclass(frozen=True)
class Departments(Reference):
    kind: ClassVar[str] = "departments"
    many: ClassVar[bool] = True
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a list of positive department ids")}


@dataclass(frozen=True)
class Pipeline(Reference):
    """A pipeline (category) id; 0 is the entity's default pipeline."""

    kind: ClassVar[str] = "pipeline"
    lowest: ClassVar[int] = 0
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a pipeline id")}


@dataclass(frozen=True)
class Pipelines(Reference):
    kind: ClassVar[str] = "pipelines"
    many: ClassVar[bool] = True
    lowest: ClassVar[int] = 0
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a list of pipeline ids")}


@dataclass(frozen=True)
class Stage(Reference):
    kind: ClassVar[str] = "stage"
    numeric: ClassVar[bool] = False
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a stage (status) id")}


@dataclass(frozen=True)
class Stages(Reference):
    kind: ClassVar[str] = "stages"
    many: ClassVar[bool] = True
    numeric: ClassVar[bool] = False
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a list of status ids")}


@dataclass(frozen=True)
class Source(Reference):
    kind: ClassVar[str] = "source"
    numeric: ClassVar[bool] = False
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a source id")}


@dataclass(frozen=True)
class Sources(Reference):
    kind: ClassVar[str] = "sources"
    many: ClassVar[bool] = True
    numeric: ClassVar[bool] = False
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_("must be a list of source ids")}


@dataclass(frozen=True)
class SmartProcess(Reference):
    """A smart process by its entityTypeId."""

    kind: ClassVar[str] = "smart_process"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a smart process entityTypeId (a positive whole number)")}


@dataclass(frozen=True)
class Chat(Reference):
    kind: ClassVar[str] = "chat"
    highest: ClassVar[int] = 10**12
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be a chat id (a whole number, 0 = none)")}


ENTITY = re.compile(r"^(lead|deal|item:\d+)$")


@dataclass(frozen=True)
class EntityTypes(Field):
    """CRM entity types: 'lead', 'deal' or 'item:<entityTypeId>' of a smart process."""

    many: bool = field(default=True, kw_only=True)

    kind: ClassVar[str] = "entity_types"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must list 'lead', 'deal' or 'item:<entityTypeId>'"),
        "invalid_one": N_("must be 'lead', 'deal' or 'item:<entityTypeId>'"),
    }

    def clean(self, path: str, value: Any) -> Any:
        def ok(v: Any) -> bool:
            return isinstance(v, str) and bool(ENTITY.match(v))

        if not self.many:
            if not ok(value):
                self.fail(path, "invalid_one")
            return value
        if not isinstance(value, list) or not value or not all(ok(v) for v in value):
            self.fail(path, "invalid")
        return list(value)

    def extra(self, lang: str) -> dict[str, Any]:
        return {"reference": {"type": "entity_type", "many": self.many, "optional": False},
                "options": ["lead", "deal", "item:<entityTypeId>"]}


CRM_FIELD = re.compile(r"^UF_CRM_[A-Z0-9_]{1,43}$")
# an amoCRM custom field's own id (the adapter takes a field by id or by code)
AMOCRM_FIELD_ID = re.compile(r"^[1-9][0-9]{0,11}$")


@dataclass(frozen=True)
class CrmField(Field):
    """A user field of an entity (UF_CRM_…), created by the app if missing; `also` names
    standard fields that are accepted too; `blank` allows "" (= no field)."""

    entity: str = field(default="deal", kw_only=True)
    field_type: str = field(default="", kw_only=True)
    also: tuple[str, ...] = field(default=(), kw_only=True)
    blank: bool = field(default=False, kw_only=True)
    # the field must exist already (a rule reads it; the app will not create it): a form that
    # knows the portal's fields refuses another name
    existing: bool = field(default=False, kw_only=True)

    kind: ClassVar[str] = "crm_field"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {"invalid": N_(
        "must be UF_CRM_ + A-Z, 0-9, _ (on amoCRM also the field's number)")}

    def clean(self, path: str, value: Any) -> Any:
        ok = isinstance(value, str) and (
            bool(CRM_FIELD.match(value) or AMOCRM_FIELD_ID.match(value))
            or value in self.also or (self.blank and value == ""))
        if not ok:
            self.fail(path, "invalid")
        return value

    def extra(self, lang: str) -> dict[str, Any]:
        return {"reference": {"type": "crm_field", "many": False, "optional": self.blank,
                              "entity": self.entity, "field_type": self.field_type or None},
                "also": list(self.also)}


@dataclass(frozen=True)
class DiskStorage(Field):
    """'common' (the portal's shared drive) or a Disk storage id, as text or a number."""

    kind: ClassVar[str] = "disk_storage"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "invalid": N_("must be 'common' or a storage id (a positive number)")}

    def clean(self, path: str, value: Any) -> Any:
        ok = value == "common" or (not isinstance(value, bool) and isinstance(value, int | str)
                                   and str(value).isdigit() and int(value) > 0)
        if not ok:
            self.fail(path, "invalid")
        return value

    def extra(self, lang: str) -> dict[str, Any]:
        return {"reference": {"type": "disk_storage", "many": False, "optional": False},
                "also": ["common"]}


@dataclass(frozen=True)
class PerUser(Field):
    """A value per user: {"<user id>": value}; keys stay text as JSON has them."""

    value: Field | None = field(default=None, kw_only=True)

    kind: ClassVar[str] = "per_user"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must map user ids to values"),
        "key": N_("is not a user id"),
    }

    def clean(self, path: str, value: Any) -> Any:
        assert self.value is not None
        if not isinstance(value, dict):
            self.fail(path, "type")
        out = {}
        for key, item in value.items():
            if not str(key).isdigit() or int(key) <= 0:
                self.fail(f"{path}.{key}", "key")
            out[str(int(key))] = self.value.clean(f"{path}.{key}", item)
        return out

    def extra(self, lang: str) -> dict[str, Any]:
        assert self.value is not None
        return {"reference": {"type": "user", "many": True, "optional": False},
                "value": self.value.describe(lang)}


@dataclass(frozen=True)
class StagesByEntity(Field):
    """Status ids per entity type: {"lead": ["IN_PROCESS"], "item:128": ["DT128_1:NEW"]}."""

    entities_from: str = field(default="", kw_only=True)

    kind: ClassVar[str] = "stages_by_entity"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must map an entity type to status ids"),
        "entity": N_("must be 'lead', 'deal' or 'item:<entityTypeId>'"),
        "invalid": N_("must be a list of status ids"),
    }

    def clean(self, path: str, value: Any) -> Any:
        if not isinstance(value, dict):
            self.fail(path, "type")
        for entity, stages in value.items():
            if not ENTITY.match(entity):
                self.fail(f"{path}.{entity}", "entity")
            if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
                self.fail(f"{path}.{entity}", "invalid")
        return {entity: list(stages) for entity, stages in value.items()}

    def extra(self, lang: str) -> dict[str, Any]:
        return {"reference": {"type": "stage", "many": True, "optional": False,
                              "entity_from": self.entities_from or None}}


@dataclass(frozen=True)
class ListOf(Field):
    """A list of objects with their own fields and checks (distribution groups, auto rules).

    `unique` names a field whose value may appear once in the list.
    """

    item: Schema | None = field(default=None, kw_only=True)
    unique: str = field(default="", kw_only=True)

    kind: ClassVar[str] = "list"
    MESSAGES: ClassVar[Mapping[str, Msg]] = {
        "type": N_("must be a list"),
        "duplicate": N_("duplicate {name} {value}"),
    }

    def clean(self, path: str, value: Any) -> Any:
        assert self.item is not None
        if not isinstance(value, list):
            self.fail(path, "type")
        seen: set[Any] = set()
        out = []
        for i, raw in enumerate(value):
            clean = self.item.validate(raw, f"{path}[{i}]")
            if self.unique:
                key = clean[self.unique]
                if key in seen:
                    self.fail(f"{path}[{i}].{self.unique}", "duplicate", name=self.unique,
                              value=key)
                seen.add(key)
            out.append(clean)
        return out

    def extra(self, lang: str) -> dict[str, Any]:
        assert self.item is not None
        return {"item": self.item.describe(lang), "unique": self.unique or None}


@dataclass(frozen=True)
class Schema:
    """One settings section (or the shape of one object in a list): fields and a cross-check.

    `check` sees the cleaned values and returns (field, msgid[, params]) for a refusal.
    The defaults are validated when the schema is declared, so a wrong one fails at import.
    """

    name: str
    title: Msg
    fields: tuple[Field, ...]
    check: Check | None = None
    help: Msg | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: a field is declared twice")
        self.defaults()

    @functools.cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def defaults(self) -> dict[str, Any]:
        """Every field's default; required fields are absent."""
        return {f.name: f.clean(f"{self.name}.{f.name}", f.default) for f in self.fields
                if f.default is not REQUIRED and not f.default_from}

    def validate(self, values: Any, path: str = "") -> dict[str, Any]:
        """The section with defaults filled, or SettingsInvalid naming the dotted path."""
        path = path or self.name
        if not isinstance(values, dict):
            raise SettingsInvalid(path, N_("must be an object"))
        known = self.by_name
        for key in values:
            if key not in known:
                raise SettingsInvalid(f"{path}.{key}", N_("unknown field"))
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name in values:
                out[f.name] = f.clean(f"{path}.{f.name}", values[f.name])
            elif f.default_from:
                out[f.name] = out[f.default_from]
            elif f.default is REQUIRED:
                f.fail(f"{path}.{f.name}", "required")
            else:
                out[f.name] = f.clean(f"{path}.{f.name}", f.default)
        if self.check and (problem := self.check(out)):
            where, msgid, *params = problem
            raise SettingsInvalid(f"{path}.{where}", msgid, **(params[0] if params else {}))
        return out

    def describe(self, lang: str) -> dict[str, Any]:
        """A JSON-able description of every field, for a form renderer and the CLI."""
        return {"name": self.name, "title": t(lang, self.title),
                "help": t(lang, self.help) if self.help else "",
                "fields": [f.describe(lang) for f in self.fields]}


def walk(schema: Schema, values: Any, path: str = "") -> Iterable[tuple[str, Field, Any]]:
    """(dotted path, field, value) of every field of a validated section, lists included."""
    if not isinstance(values, dict):
        return
    for f in schema.fields:
        here = f"{path}.{f.name}" if path else f.name
        value = values.get(f.name)
        yield here, f, value
        if isinstance(f, ListOf) and f.item is not None and isinstance(value, list):
            for i, item in enumerate(value):
                yield from walk(f.item, item, f"{here}[{i}]")


def schema_map(*groups: Iterable[Schema]) -> dict[str, Schema]:
    """One mapping name → schema from the core's and each capability's schemas."""
    out: dict[str, Schema] = {}
    for schema in (s for group in groups for s in group):
        if schema.name in out:
            raise ValueError(f"settings section {schema.name!r} is declared twice")
        out[schema.name] = schema
    return out


def validate_document(doc: Any, schemas: Mapping[str, Schema]) -> dict[str, Any]:
    """A whole document against these schemas: defaults filled, unknown sections refused."""
    if not isinstance(doc, dict):
        raise SettingsInvalid("$", N_("the settings document must be a JSON object"))
    for name in doc:
        if name not in schemas:
            raise SettingsInvalid(name, N_("unknown section (known: {known})"),
                                  known=", ".join(sorted(schemas)))
    return {name: schema.validate(doc.get(name, {})) for name, schema in schemas.items()}


def defaults(schemas: Mapping[str, Schema]) -> dict[str, Any]:
    return validate_document({}, schemas)


def describe(schemas: Mapping[str, Schema], lang: str) -> dict[str, Any]:
    return {name: schema.describe(lang) for name, schema in schemas.items()}


class SettingsStore:
    """Each portal's document; reads return every known section complete and valid.

    Sections this process has no schema for (a capability not loaded here) are returned and
    kept exactly as stored: never dropped, never rewritten.
    """

    def __init__(self, redis: Redis, prefix: str, schemas: Mapping[str, Schema]):
        self.redis = redis
        self.prefix = prefix
        self.schemas = schemas

    def key(self, member_id: str) -> str:
        return f"{self.prefix}:settings:{member_id}"

    def _stored(self, raw: bytes | None) -> dict[str, Any]:
        return json.loads(raw) if raw else {}

    def get(self, member_id: str) -> dict[str, Any]:
        stored = self._stored(self.redis.get(self.key(member_id)))
        out = {}
        for name, schema in self.schemas.items():
            values = stored.get(name, {})
            if isinstance(values, dict):  # fields removed in this version are dropped
                values = {k: v for k, v in values.items() if k in schema.by_name}
            out[name] = schema.validate(values)
        return {**out, **{k: v for k, v in stored.items() if k not in self.schemas}}

    def put(self, member_id: str, doc: Any) -> dict[str, Any]:
        """Validate the known sections and store them; sections of capabilities not loaded
        here keep their stored value (given back unchanged is fine, changed is refused)."""
        if not isinstance(doc, dict):
            raise SettingsInvalid("$", N_("the settings document must be a JSON object"))
        key = self.key(member_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = self._stored(pipe.get(key))
                    foreign = {k: v for k, v in stored.items() if k not in self.schemas}
                    for name, value in doc.items():
                        if name not in self.schemas and foreign.get(name, ...) != value:
                            raise SettingsInvalid(name, N_("unknown section (known: {known})"),
                                                  known=", ".join(sorted(self.schemas)))
                    clean = validate_document(
                        {k: v for k, v in doc.items() if k in self.schemas}, self.schemas)
                    full = {**clean, **foreign}
                    pipe.multi()
                    pipe.set(key, json.dumps(full, ensure_ascii=False))
                    pipe.execute()
                    return full
                except WatchError:
                    continue  # another process saved meanwhile: merge over its document

    def delete(self, member_id: str) -> None:
        self.redis.delete(self.key(member_id))


def in_pipelines(chosen: Iterable[Any], category_id: Any) -> bool:
    """Is an item of this pipeline among a `Pipelines` field's choice (none chosen: all)?"""
    ids = {str(c) for c in chosen}
    return not ids or str(category_id or 0) in ids  # no pipeline given means the first, 0


GENERAL = Schema("general", N_("General"), (
    TimeZone("timezone", N_("Time zone"),
             N_("The time zone for 'today' and 'this month', e.g. Europe/Moscow."),
             "Europe/Moscow"),
    Choice("language", N_("Language"),
           N_("The language of the messages the app writes; 'auto' follows the portal."),
           "auto", options=(Option("auto", N_("The portal's language")),
                            Option("ru", N_("Russian")), Option("en", N_("English")))),
    Users("admin_user_ids", N_("Administrators to notify"),
          N_("The people who are told about failures."), []),
), help=N_("Portal-wide choices every capability reads."))

EVENTS = Schema("events", N_("CRM events"), (
    Bool("offline_backup", N_("Offline events as a backup"),
         N_("Also bind CRM events as offline events, so an outage of the app loses none."), True),
    Duration("drain_every_s", N_("Offline queue drain interval"),
             N_("Seconds between reads of the portal's offline event queue."), 60,
             unit="s", low=10, high=3600),
), help=N_("How CRM events reach the app."))

WEEKDAYS = (Option(1, N_("Monday")), Option(2, N_("Tuesday")), Option(3, N_("Wednesday")),
            Option(4, N_("Thursday")), Option(5, N_("Friday")), Option(6, N_("Saturday")),
            Option(7, N_("Sunday")))
CLOCK = r"([01]\d|2[0-3]):[0-5]\d|24:00"


def _check_schedule(row: dict[str, Any]) -> Problem | None:
    if not row["weekdays"]:
        return "weekdays", N_("choose at least one working day")
    if row["end"] <= row["start"]:
        return "end", N_("must be later than the start")
    return None


# amoCRM has no work-day tracking: who works when is the admin's schedule per manager (the
# company's working time, work_time, for anyone without one) and the manager's own "away"
# switch on the widget (connector.amocrm.presence). Only amoCRM tenants are shown it.
SCHEDULE = Schema("schedule", N_("Manager's schedule"), (
    User("user_id", N_("Manager"), N_("The amoCRM user this schedule is for.")),
    Choice("weekdays", N_("Working days"), N_("The days of a normal week."), [1, 2, 3, 4, 5],
           options=WEEKDAYS, many=True),
    Text("start", N_("Work starts"), N_("HH:MM in the time zone of General."), "09:00",
         pattern=CLOCK, messages={"pattern": N_("must be a time like 09:00")}),
    Text("end", N_("Work ends"), N_("HH:MM; 24:00 is midnight."), "18:00", pattern=CLOCK,
         messages={"pattern": N_("must be a time like 18:00")}),
), check=_check_schedule)

AMOCRM = Schema("amocrm", N_("Managers' working hours (amoCRM)"), (
    ListOf("schedules", N_("Schedules"),
           N_("A manager without a schedule works the company's working time (Watchdogs → "
              "Working time), holidays included."), [], item=SCHEDULE, unique="user_id"),
), help=N_("When each manager takes new leads: inside their hours and not «away» on the "
           "widget."))

CORE_SCHEMAS: tuple[Schema, ...] = (GENERAL, EVENTS, AMOCRM)
