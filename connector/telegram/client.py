"""A small Telegram Bot API client: getMe, sendMessage, sendPhoto, and flood control.

Calls are `POST {root}/bot<token>/<method>` (https://core.telegram.org/bots/api#making-
requests). A 429 answer carries `parameters.retry_after`: we sleep that long and try again,
a few times and only for short waits; a longer wait (or too many) raises
TelegramRateLimited, a Retryable whose `retry_after_s` makes the job's own retry wait at
least that long. The token is part of the URL, so no URL is ever logged or put in an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from connector.telegram import errors

DEFAULT_ROOT = "https://api.telegram.org"


@dataclass(frozen=True)
class Bot:
    """What getMe tells about the bot (https://core.telegram.org/bots/api#user)."""

    id: int
    username: str
    name: str


@dataclass
class BotClient:
    token: str
    root: str = DEFAULT_ROOT
    timeout_s: float = 15.0
    max_wait_s: float = 5.0  # the longest retry_after waited out in-process
    max_waits: int = 3  # how many 429s of one call are waited out in-process
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:  # never the token
        return f"BotClient(root={self.root!r})"

    def _post(self, method: str, data: dict[str, Any], files: dict[str, Any] | None) -> Any:
        url = f"{self.root.rstrip('/')}/bot{self.token}/{method}"
        http = self.session or requests
        try:
            if files:
                resp = http.post(url, data=data, files=files, timeout=self.timeout_s)
            else:
                resp = http.post(url, json=data, timeout=self.timeout_s)
        except requests.RequestException as exc:
            # the exception's text may hold the URL, and so the token: keep only its kind
            raise errors.from_answer(0, {"description": type(exc).__name__}) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 200 and isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        raise errors.from_answer(resp.status_code, body)

    def call(self, method: str, data: dict[str, Any],
             files: dict[str, Any] | None = None) -> Any:
        """One Bot API method; flood control waited out while the waits stay short."""
        waits = 0
        while True:
            try:
                return self._post(method, data, files)
            except errors.TelegramRateLimited as exc:
                wait = exc.retry_after_s if exc.retry_after_s is not None else 1.0
                if waits >= self.max_waits or wait > self.max_wait_s:
                    exc.retry_after_s = max(wait, 1.0)
                    raise
                waits += 1
                self.sleep(wait)

    def get_me(self) -> Bot:
        """The bot this token belongs to (https://core.telegram.org/bots/api#getme)."""
        me = self.call("getMe", {}) or {}
        return Bot(int(me.get("id") or 0), str(me.get("username") or ""),
                   str(me.get("first_name") or ""))

    def send_message(self, chat_id: int | str, html: str,
                     disable_preview: bool = True) -> int:
        """A message in HTML parse mode (the caller escapes it: connector.telegram.html);
        the new message's id (https://core.telegram.org/bots/api#sendmessage)."""
        msg = self.call("sendMessage", {
            "chat_id": chat_id, "text": html, "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": disable_preview}}) or {}
        return int(msg.get("message_id") or 0)

    def send_photo(self, chat_id: int | str, photo: bytes, caption_html: str = "",
                   filename: str = "chart.png") -> int:
        """A picture uploaded as multipart/form-data, with an HTML caption
        (https://core.telegram.org/bots/api#sendphoto, #sending-files)."""
        data: dict[str, Any] = {"chat_id": str(chat_id)}
        if caption_html:
            data.update(caption=caption_html, parse_mode="HTML")
        msg = self.call("sendPhoto", data, files={"photo": (filename, photo, "image/png")}) or {}
        return int(msg.get("message_id") or 0)
