"""What can stop a document from being made, in words the admin can act on.

The problems are robot errors: the robot's answer and the page show the text in the portal's
language, and nothing is retried (a retry cannot fix a template or a product row). A PDF
conversion that failed this time (ConversionRetryable) is the one kind that is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.errors import Retryable
from connector.i18n import Msg, t
from connector.triggers import RobotError


def _param(value: Any, lang: str) -> Any:
    if isinstance(value, Msg):
        return t(lang, value)
    text_in = getattr(value, "text_in", None)  # a phrase of its own (a place in a template)
    return text_in(lang) if callable(text_in) else value


class DocumentProblem(RobotError):
    """A msgid and its parameters; a parameter that is a msgid, or has text_in(lang), is
    put in the reader's language too."""

    def __init__(self, msgid: str, params: Mapping[str, Any] | None = None):
        super().__init__(msgid, **dict(params or {}))

    def text(self, lang: str) -> str:
        return t(lang, self.msgid, **{k: _param(v, lang) for k, v in self.params.items()})


class TemplateProblem(DocumentProblem):
    """The template cannot be used: too big, not a .docx, a syntax error, a field the data
    lacks, something the sandbox refuses, or a render that ran out of time or memory."""


class DataProblem(DocumentProblem):
    """The deal's data cannot make a document (a product row with a negative price)."""


class ConversionProblem(DocumentProblem):
    """The PDF cannot be made and a retry would not change that: LibreOffice is not
    installed, or it cannot read the document."""


class ConversionRetryable(Retryable):
    """The PDF was not made this time (LibreOffice ran out of time, crashed, or every
    profile was busy): the job's retries may succeed. A msgid and its parameters, as a
    DocumentProblem, so the last failure can be told in the reader's language."""

    def __init__(self, msgid: str, params: Mapping[str, Any] | None = None):
        self.msgid = msgid
        self.params = dict(params or {})
        super().__init__(msgid.format(**self.params) if self.params else msgid)

    def text(self, lang: str) -> str:
        return t(lang, self.msgid, **{k: _param(v, lang) for k, v in self.params.items()})
