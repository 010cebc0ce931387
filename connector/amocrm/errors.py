"""amoCRM answers → typed errors the job runner understands (Permanent / Retryable / AuthLost).

Errors come as `application/problem+json` (`type`, `title`, `status`, `detail`, on a 400
`validation-errors: [{request_id, errors: [{code, path, detail}]}]`, OAuth's `hint`), but
the gateway's 429 and 403 are HTML pages (research notes §5), so the status decides the
class and the body only adds words.

| status | class | why |
|---|---|---|
| 400 | AmoValidationError (Permanent) | bad input; keeps the per-request_id errors |
| 401 | AmoUnauthorized (Permanent) | the client refreshes once and retries once |
| 401/400 on the token endpoint | AmoAuthLost (AuthLost) | refresh token dead: reinstall |
| 402 | AmoPaymentRequired (Permanent) | the account's subscription ended |
| 403 | AmoBlocked (Permanent) | amoCRM blocked the integration; stop, an admin re-enables |
| 404 | AmoNotFound (Permanent) | |
| 429 | AmoRateLimited (Retryable) | after the client's bounded backoff |
| 5xx, network | AmoRetryableError (Retryable) | |
| other | AmoPermanentError | |
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from connector.errors import AuthLost, ConnectorError, Permanent, Retryable


@dataclass(frozen=True)
class FieldError:
    code: str
    path: str
    detail: str


@dataclass
class Problem:
    """A problem+json body, or what could be read of a non-JSON one."""

    status: int
    title: str = ""
    detail: str = ""
    type: str = ""
    hint: str = ""
    validation: dict[str, list[FieldError]] = field(default_factory=dict)
    raw: Any = None


class AmoError(ConnectorError):
    """An amoCRM error answer; its subclass says whether a retry can help."""

    def __init__(self, problem: Problem, method: str = "", path: str = ""):
        self.problem = problem
        self.status = problem.status
        self.method = method
        self.path = path
        words = problem.hint or problem.detail or problem.title
        super().__init__(f"amocrm {method} {path}: {problem.status} {words}".strip())


class AmoPermanentError(AmoError, Permanent):
    """Retrying cannot help."""


class AmoRetryableError(AmoError, Retryable):
    """5xx, network failure: retried in-process a few times, then by the job."""


class AmoRateLimited(AmoRetryableError):
    """429 that outlived the client's bounded backoff."""

    retry_after_s: float | None = None


class AmoUnauthorized(AmoPermanentError):
    """401 on an API call: the access token is refused (the client refreshes once)."""


class AmoAuthLost(AmoError, AuthLost):
    """The token endpoint refused our refresh token or code; the account must reconnect."""


class AmoBlocked(AmoPermanentError):
    """403: amoCRM blocked the integration's API access (or the tenant is marked blocked)."""


class AmoPaymentRequired(AmoPermanentError):
    """402: the account's subscription ended; writes are refused."""


class AmoNotFound(AmoPermanentError):
    """404: no such path or object."""


class AmoValidationError(AmoPermanentError):
    """400 with `validation-errors`, kept per request_id (the batch item)."""

    @property
    def by_request_id(self) -> dict[str, list[FieldError]]:
        return self.problem.validation


def parse_problem(status: int, body: bytes | str | None, content_type: str = "") -> Problem:
    """Read a problem+json (or plain JSON) body; HTML and garbage keep only the status."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    data: Any = None
    if text.strip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        title = _html_title(text) if "html" in content_type or "<" in text[:200] else ""
        return Problem(status=status, title=title or f"HTTP {status}", raw=text[:500])
    validation: dict[str, list[FieldError]] = {}
    for group in data.get("validation-errors") or []:
        if not isinstance(group, dict):
            continue
        rid = str(group.get("request_id", ""))
        for err in group.get("errors") or []:
            if isinstance(err, dict):
                validation.setdefault(rid, []).append(FieldError(
                    str(err.get("code", "")), str(err.get("path", "")),
                    str(err.get("detail", ""))))
    return Problem(
        status=int(data.get("status") or status) if str(data.get("status", "")).isdigit()
        else status,
        title=str(data.get("title", "")), detail=str(data.get("detail", "")),
        type=str(data.get("type", "")), hint=str(data.get("hint", "")),
        validation=validation, raw=data,
    )


def _html_title(text: str) -> str:
    low = text.lower()
    start = low.find("<title>")
    end = low.find("</title>", start)
    if start >= 0 and end > start:
        return text[start + 7:end].strip()[:200]
    return ""


def error_for(status: int, body: bytes | str | None = None, content_type: str = "",
              method: str = "", path: str = "") -> AmoError:
    """The typed error for an amoCRM answer of `status` (the HTTP status decides)."""
    problem = parse_problem(status, body, content_type)
    problem.status = status
    cls: type[AmoError]
    if status == 400:
        cls = AmoValidationError if problem.validation else AmoPermanentError
    elif status == 401:
        cls = AmoUnauthorized
    elif status == 402:
        cls = AmoPaymentRequired
    elif status == 403:
        cls = AmoBlocked
    elif status == 404:
        cls = AmoNotFound
    elif status == 429:
        cls = AmoRateLimited
    elif status >= 500 or status == 0:
        cls = AmoRetryableError
    else:
        cls = AmoPermanentError
    return cls(problem, method, path)


def network_error(exc: Exception, method: str = "", path: str = "") -> AmoRetryableError:
    return AmoRetryableError(Problem(status=0, title=type(exc).__name__), method, path)
