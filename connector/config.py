"""Settings from the environment, read and validated once; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the app and the worker need to know about their surroundings."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    public_base_url: str = "http://127.0.0.1:8000"
    b24_client_id: str = ""
    b24_client_secret: str = ""
    b24_oauth_server: str = "https://oauth.bitrix.info"
    secret_key: str = ""
    encryption_key: str = ""
    max_body_bytes: int = 1_048_576
    token_cache_s: float = 5.0
    queue_prefix: str = "cc"
    rest_timeout_s: float = 30.0
    rest_max_retries: int = 4
    rest_backoff_s: float = 0.5
    job_retry_intervals: tuple[int, ...] = (10, 60, 300, 1800)
    scheduler_interval_s: float = 1.0  # how often due timers and retries move to their queue
    log_level: str = "INFO"
    google_client_id: str = ""
    google_client_secret: str = ""
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_api_root: str = ""
    telegram_api_root: str = "https://api.telegram.org"  # the fake Bot API's in tests
    # amoCRM / Kommo integration (connector.amocrm); unset client id = amoCRM off
    amocrm_client_id: str = ""
    amocrm_client_secret: str = ""
    amocrm_redirect_uri: str = ""
    # how an account's host is reached: "{domain}" is e.g. "autoservis.amocrm.ru";
    # tests point it at the emulator ("http://127.0.0.1:PORT/{domain}")
    amocrm_url_template: str = "https://{domain}"
    extra: Mapping[str, Any] = field(default_factory=dict)

    ENV: dict[str, str] = field(
        default_factory=lambda: {
            "redis_url": "REDIS_URL",
            "public_base_url": "PUBLIC_BASE_URL",
            "b24_client_id": "B24_CLIENT_ID",
            "b24_client_secret": "B24_CLIENT_SECRET",
            "b24_oauth_server": "B24_OAUTH_SERVER",
            "secret_key": "CONNECTOR_SECRET_KEY",
            "encryption_key": "CONNECTOR_ENCRYPTION_KEY",
            "max_body_bytes": "CONNECTOR_MAX_BODY_BYTES",
            "token_cache_s": "CONNECTOR_TOKEN_CACHE_S",
            "queue_prefix": "CONNECTOR_QUEUE_PREFIX",
            "rest_timeout_s": "CONNECTOR_REST_TIMEOUT",
            "rest_max_retries": "CONNECTOR_REST_MAX_RETRIES",
            "rest_backoff_s": "CONNECTOR_REST_BACKOFF",
            "job_retry_intervals": "CONNECTOR_JOB_RETRY_INTERVALS",
            "scheduler_interval_s": "CONNECTOR_SCHEDULER_INTERVAL",
            "log_level": "LOG_LEVEL",
            "google_client_id": "GOOGLE_CLIENT_ID",
            "google_client_secret": "GOOGLE_CLIENT_SECRET",
            "google_token_uri": "GOOGLE_TOKEN_URI",
            "google_auth_uri": "GOOGLE_AUTH_URI",
            "google_api_root": "GOOGLE_API_ROOT",
            "telegram_api_root": "TELEGRAM_API_ROOT",
            "amocrm_client_id": "AMOCRM_CLIENT_ID",
            "amocrm_client_secret": "AMOCRM_CLIENT_SECRET",
            "amocrm_redirect_uri": "AMOCRM_REDIRECT_URI",
            "amocrm_url_template": "AMOCRM_URL_TEMPLATE",
        },
        repr=False,
        compare=False,
    )

    @property
    def amocrm_enabled(self) -> bool:
        return bool(self.amocrm_client_id and self.amocrm_client_secret)

    @property
    def oauth_token_url(self) -> str:
        return self.b24_oauth_server.rstrip("/") + "/oauth/token/"

    @property
    def oauth_rest_url(self) -> str:
        return self.b24_oauth_server.rstrip("/") + "/rest/"

    def validate(self) -> Settings:
        """Fail at start-up, naming the variable, rather than on the first request."""
        from cryptography.fernet import Fernet

        if not self.secret_key:
            raise ConfigError("CONNECTOR_SECRET_KEY is required (any long random string)")
        try:
            Fernet(self.encryption_key.encode())
        except Exception as exc:  # noqa: BLE001 - any parse failure means the same thing
            raise ConfigError(
                "CONNECTOR_ENCRYPTION_KEY must be a Fernet key "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc
        for name in ("redis_url", "public_base_url", "b24_oauth_server", "telegram_api_root"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://", "redis://", "rediss://", "unix://")):
                raise ConfigError(f"{self.ENV[name]} is not a URL: {value!r}")
        if "{domain}" not in self.amocrm_url_template or not self.amocrm_url_template.startswith(
                ("http://", "https://")):
            raise ConfigError("AMOCRM_URL_TEMPLATE must be a URL with {domain}, e.g. "
                              "https://{domain}")
        if self.amocrm_client_id and not (self.amocrm_client_secret
                                          and self.amocrm_redirect_uri):
            raise ConfigError("AMOCRM_CLIENT_ID needs AMOCRM_CLIENT_SECRET and "
                              "AMOCRM_REDIRECT_URI")
        if self.max_body_bytes < 1024:
            raise ConfigError("CONNECTOR_MAX_BODY_BYTES must be at least 1024")
        if not 0.05 <= self.scheduler_interval_s <= 60:
            raise ConfigError("CONNECTOR_SCHEDULER_INTERVAL must be 0.05 to 60 seconds")
        return self


def _coerce(kind: Any, raw: str, env_name: str) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in ("tuple[int, ...]",):
            return tuple(int(x) for x in raw.replace(" ", "").split(",") if x)
    except ValueError as exc:
        raise ConfigError(f"{env_name} is malformed: {raw!r}") from exc
    return raw


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment (or a given mapping) plus explicit overrides."""
    env = os.environ if env is None else env
    base = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        env_name = base.ENV.get(f.name)
        if env_name and env.get(env_name):
            values[f.name] = _coerce(f.type, env[env_name], env_name)
    return replace(base, **values, **overrides).validate()
