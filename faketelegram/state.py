"""The fake Bot API's state and rules: bots, chats, what was sent, flood control, faults.

Each rule cites the Telegram document it follows:
- API: https://core.telegram.org/bots/api (#making-requests, #sendmessage, #sendphoto, #getme)
- flood control: https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
Pure Python under one lock; the HTTP layer (faketelegram.app) only parses and answers.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# "<bot id>:<secret>" — a token of another form is answered 404 Not Found, as the real API
# answers a URL it cannot route (#authorizing-your-bot)
TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
MAX_TEXT = 4096  # #sendmessage: "1-4096 characters after entities parsing"
MAX_CAPTION = 1024  # #sendphoto: "0-1024 characters after entities parsing"
# #html-style: the tags the HTML parse mode understands (and their synonyms)
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
        "code", "pre", "blockquote", "tg-emoji"}
ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


class ApiError(Exception):
    """An unsuccessful answer: {"ok": false, "error_code", "description"[, "parameters"]}
    (#making-requests)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code,
                               "description": self.description}
        if self.retry_after is not None:  # #responseparameters
            out["parameters"] = {"retry_after": self.retry_after}
        return out


@dataclass
class Bot:
    id: int
    token: str
    username: str
    first_name: str


@dataclass
class Chat:
    """A chat the bot can write to. Private chats have positive ids, groups negative ones
    (supergroups -100…), as Telegram numbers them (#chat)."""

    id: int
    type: str = "private"  # private | group | supergroup | channel
    title: str = ""
    blocked: bool = False  # private: the user blocked the bot; a group: the bot was kicked


@dataclass
class Fault:
    """The next `remaining` matching calls answer this error (a forced 429, a 500)."""

    remaining: int
    code: int
    description: str
    retry_after: int | None = None
    method: str = ""
    chat_id: str = ""


@dataclass
class Limits:
    """Flood control as the FAQ puts it: "avoid sending more than one message per second"
    in one chat, "not more than 20 messages per minute" to one group, about 30 messages per
    second in all. Switch off or tighten for a test."""

    enabled: bool = True
    per_chat_s: float = 1.0
    group_per_minute: int = 20
    global_per_second: int = 30


@dataclass
class State:
    clock: Callable[[], float] = time.time
    bots: dict[str, Bot] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    chats: dict[int, Chat] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _chat_times: dict[int, deque[float]] = field(default_factory=dict)
    _all_times: deque[float] = field(default_factory=deque)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # set-up ------------------------------------------------------------------------------
    def add_bot(self, token: str, username: str, first_name: str = "") -> Bot:
        if not TOKEN.match(token):
            raise ValueError("a bot token is '<digits>:<20-100 of A-Z a-z 0-9 _ ->'")
        with self.lock:
            bot = Bot(int(token.split(":")[0]), token, username, first_name or username)
            self.bots[token] = bot
            self.revoked.discard(token)
            return bot

    def revoke(self, token: str) -> None:
        """@BotFather's /revoke: the old token answers 401 Unauthorized from now on."""
        with self.lock:
            self.revoked.add(token)

    def add_chat(self, chat_id: int, type_: str = "", title: str = "",
                 blocked: bool = False) -> Chat:
        kind = type_ or ("private" if chat_id > 0 else
                         "supergroup" if str(chat_id).startswith("-100") else "group")
        with self.lock:
            chat = Chat(chat_id, kind, title, blocked)
            self.chats[chat_id] = chat
            return chat

    # the API -----------------------------------------------------------------------------
    def authorize(self, token: str) -> Bot:
        if not TOKEN.match(token):
            raise ApiError(404, "Not Found")
        bot = self.bots.get(token)
        if bot is None or token in self.revoked:
            raise ApiError(401, "Unauthorized")  # #making-requests: a wrong or revoked token
        return bot

    def call(self, token: str, method: str, params: dict[str, Any],
             photo: bytes | None = None) -> Any:
        with self.lock:
            self.calls.append({"method": method, "chat_id": str(params.get("chat_id", "")),
                               "at": self.clock()})
            bot = self.authorize(token)
            self._fault(method, str(params.get("chat_id", "")))
            if method.lower() == "getme":
                # #getme: "Returns basic information about the bot in form of a User object"
                return {"id": bot.id, "is_bot": True, "first_name": bot.first_name,
                        "username": bot.username, "can_join_groups": True,
                        "can_read_all_group_messages": False, "supports_inline_queries": False}
            if method.lower() == "sendmessage":
                return self._send(bot, params, "text", photo=None)
            if method.lower() == "sendphoto":
                return self._send(bot, params, "caption", photo=photo)
            raise ApiError(404, "Not Found")  # an unknown method

    def _fault(self, method: str, chat_id: str) -> None:
        for fault in self.faults:
            if fault.remaining <= 0:
                continue
            if fault.method and fault.method.lower() != method.lower():
                continue
            if fault.chat_id and fault.chat_id != chat_id:
                continue
            fault.remaining -= 1
            raise ApiError(fault.code, fault.description, fault.retry_after)

    def _chat(self, raw: Any) -> Chat:
        # #sendmessage: chat_id is "Integer or String" (@channelusername for channels)
        if raw in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(str(raw))
        except ValueError:
            raise ApiError(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat.blocked:  # the errors the API gives a bot no longer welcome in the chat
            raise ApiError(403, "Forbidden: bot was blocked by the user" if chat.type ==
                           "private" else "Forbidden: bot was kicked from the group chat")
        return chat

    def _flood(self, chat: Chat) -> None:
        """FAQ "My bot is hitting limits": 429 with parameters.retry_after (#responseparameters),
        description "Too Many Requests: retry after N"."""
        lim = self.limits
        if not lim.enabled:
            return
        now = self.clock()
        times = self._chat_times.setdefault(chat.id, deque())
        while times and now - times[0] > 60:
            times.popleft()
        while self._all_times and now - self._all_times[0] > 1:
            self._all_times.popleft()
        wait = 0.0
        if times and now - times[-1] < lim.per_chat_s:
            wait = lim.per_chat_s - (now - times[-1])
        if chat.type in ("group", "supergroup") and len(times) >= lim.group_per_minute:
            wait = max(wait, 60 - (now - times[-lim.group_per_minute]))
        if len(self._all_times) >= lim.global_per_second:
            wait = max(wait, 1 - (now - self._all_times[0]))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        times.append(now)
        self._all_times.append(now)

    def _send(self, bot: Bot, params: dict[str, Any], text_field: str,
              photo: bytes | None) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        raw = str(params.get(text_field) or "")
        mode = str(params.get("parse_mode") or "")
        shown = parse_html(raw) if mode.upper() == "HTML" else raw
        if text_field == "text":
            if not shown.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(shown) > MAX_TEXT:
                raise ApiError(400, "Bad Request: message is too long")
        else:
            if photo is None and not params.get("photo"):
                raise ApiError(400, "Bad Request: there is no photo in the request")
            if len(shown) > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
        self._flood(chat)
        message_id = next(self._ids)
        record: dict[str, Any] = {
            "message_id": message_id, "bot": bot.username, "chat_id": chat.id,
            "method": "sendPhoto" if text_field == "caption" else "sendMessage",
            "raw": raw, "text": shown, "parse_mode": mode, "at": self.clock()}
        if photo is not None:
            record.update(photo_size=len(photo), photo_sha256=hashlib.sha256(photo).hexdigest(),
                          photo_png=photo.startswith(b"\x89PNG"))
        self.sent.append(record)
        # #message: the sent Message
        out: dict[str, Any] = {"message_id": message_id, "date": int(self.clock()),
                               "chat": {"id": chat.id, "type": chat.type,
                                        **({"title": chat.title} if chat.title else {})},
                               "from": {"id": bot.id, "is_bot": True,
                                        "first_name": bot.first_name, "username": bot.username}}
        if text_field == "text":
            out["text"] = shown
        else:
            out["caption"] = shown
            out["photo"] = [{"file_id": f"photo{message_id}", "file_unique_id": f"u{message_id}",
                             "width": 800, "height": 600, "file_size": len(photo or b"")}]
        return out


def parse_html(text: str) -> str:
    """The text a reader sees of an HTML-mode message, or the 400 Telegram gives for markup
    it cannot parse (#html-style: only the listed tags; every other <, > and & escaped)."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0

    def offset(i: int) -> int:  # Telegram counts the offset in UTF-8 bytes
        return len(text[:i].encode("utf-8"))

    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            m = _TAG.match(text, pos)
            if not m or m[2].lower() not in TAGS:
                name = m[2] if m else ""
                raise ApiError(400, f"Bad Request: can't parse entities: Unsupported start "
                                    f"tag \"{name}\" at byte offset {offset(pos)}")
            name = m[2].lower()
            if m[1]:
                if not stack or stack[-1] != name:
                    raise ApiError(400, f"Bad Request: can't parse entities: Unmatched end "
                                        f"tag at byte offset {offset(pos)}, expected "
                                        f"\"</{stack[-1] if stack else ''}>\", found "
                                        f"\"</{name}>\"")
                stack.pop()
            else:
                stack.append(name)
            pos = m.end()
        elif ch == ">":
            raise ApiError(400, "Bad Request: can't parse entities: Unexpected end tag at "
                                f"byte offset {offset(pos)}")
        elif ch == "&":
            m = _ENTITY.match(text, pos)
            if m and m[1].startswith("#"):
                num = m[1][1:]
                out.append(chr(int(num[1:], 16) if num[:1] in "xX" else int(num)))
                pos = m.end()
            elif m and m[1] in ENTITIES:
                out.append(ENTITIES[m[1]])
                pos = m.end()
            else:  # the API leaves an "&" that starts no known entity as it is
                out.append("&")
                pos += 1
        else:
            out.append(ch)
            pos += 1
    if stack:
        raise ApiError(400, "Bad Request: can't parse entities: Can't find end tag "
                            f"corresponding to start tag \"{stack[-1]}\"")
    return "".join(out)
