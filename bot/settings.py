"""Settings: the shop file, overridden by the environment; bad values give clear errors.

Environment names are fixed (operators and deployment tooling rely on them): BOT_TOKEN,
TELEGRAM_API_URL, DATABASE_URL, SHOP_CONFIG, FAQ_FILE, OWNER_IDS, AGENT_IDS, AGENT_CHAT_ID,
SLA_GREETING_SECONDS, SLA_REPLY_SECONDS, SLA_HOLDING_BACKOFF, SERVICE_HOURS, SHIFT_CALENDAR.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from phrases.yaml_text import load_yaml
from storage.engine import DEFAULT_DATABASE_URL

DEMO_SHOP = Path(__file__).with_name("demo") / "shop.yaml"
SUPPORTED_LANGUAGES = ("zh", "en")

UserId = Annotated[int, Field(gt=0)]

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and why."""


def _split_ids(value: Any) -> Any:
    """'1, 2,3' → [1, 2, 3]; lists pass through; empty text → []."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseModel):
    """Everything the bot is configured with; built by ``load_settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # From the shop file
    shop_name: str = Field(min_length=1, max_length=100)
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    timezone: str = "Asia/Shanghai"
    faq_files: dict[str, Path] = Field(default_factory=dict)
    phrase_files: tuple[Path, ...] = ()
    agent_cap: int = Field(default=5, ge=1, le=100)
    conversation_idle_minutes: int = Field(default=60, ge=1)
    long_text_limit: int = Field(default=2000, ge=100, le=4096)

    # Overridable by the environment
    bot_token: SecretStr | None = None
    telegram_api_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    faq_file: Path | None = None
    owner_ids: tuple[UserId, ...] = ()
    agent_ids: tuple[UserId, ...] = ()
    agent_chat_id: int | None = None
    sla_greeting_seconds: int = Field(default=15, ge=1, le=3600)
    sla_reply_seconds: int = Field(default=20, ge=1, le=3600)
    # SLA clock: holding replies in a row before an assigned chat goes to another agent.
    sla_reassign_after_misses: int = Field(default=3, ge=1, le=100)
    # P2 holding replies for one shopper message: the first after sla_reply_seconds, then one
    # after each of these pauses (seconds); so at most 1 + len(...) per message.
    sla_holding_backoff: tuple[int, ...] = Field(default=(120, 600), max_length=10)
    # P24: when a person can answer while the shift calendar is off: the policy's hours (P11),
    # "always" for a shop staffed round the clock (bot/services/availability.py).
    service_hours: str = "mon-sat 18:30-24:00; sun 09:30-24:00"
    # P11/P24: the shift calendar (the rota) decides who is on duty and the hours shoppers are
    # told, on by default as soon as agents exist. "off": every present agent is on duty within
    # service_hours (shops that staff differently; tests). The owner's /shifts on|off wins.
    shift_calendar: bool = True

    # Orders and after-sales (P17–P22)
    orders_api_token: SecretStr | None = None  # the order endpoint starts only when set
    orders_api_port: int = Field(default=8081, ge=1, le=65535)
    orders_api_host: str = Field(default="127.0.0.1", pattern=r"^[\w.:-]+$")  # 0.0.0.0: all
    shipment_stale_days: int = Field(default=3, ge=1, le=60)  # P19: no tracking event → flag
    follow_up_days_after_delivery: int = Field(default=3, ge=0, le=90)  # P17 回访
    follow_up_days_after_ticket: int = Field(default=2, ge=0, le=90)
    ticket_due_hours: int = Field(default=48, ge=1, le=720)  # P18 handling-rate deadline
    notice_rate_per_second: float = Field(default=25.0, gt=0, le=30)  # P22, Telegram ≤ ~30/s
    # The catalogue (P5, P6): a CSV/JSON file loaded on start when it changed (shop file key
    # ``catalogue``), and 催付: one reminder this long after an unpaid order arrives, sent only
    # between the two times of ``payment_reminder_hours`` (shop time).
    catalogue_file: Path | None = None
    payment_reminder_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    payment_reminder_hours: str = Field(
        default="09:00-22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
    # Reports (P15, P23): weekly report for the Monday meeting; daily summary at "HH:MM",
    # or, when unset, at the end of the day's last shift.
    report_weekly: str = Field(
        # P15: delivered before "每周一午时14:30开部门例会"
        default="mon 14:00", pattern=r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):[0-5]\d$"
    )
    report_daily_at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # Scale: Redis for FSM storage and per-user event isolation; webhook mode when
    # WEBHOOK_URL is set (several processes behind one public URL), else long polling.
    redis_url: str | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    webhook_secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    webhook_listen: str = Field(default="127.0.0.1:8080", pattern=r"^[^:\s]*:\d{1,5}$")
    # The web chat (bot/web): listens when set (always in the offline playground); the sites
    # allowed to embed it (Origin checked on the WebSocket; the bot's own pages always are);
    # the visitors' token secret (unset: generated once, kept in the database); rate limits.
    web_chat_listen: str | None = Field(default=None, pattern=r"^[^:\s]*:\d{1,5}$")
    web_chat_origins: tuple[str, ...] = ()
    web_chat_secret: str | None = Field(default=None, min_length=16)
    web_chat_visitor_per_minute: int = Field(default=20, ge=1)
    web_chat_ip_per_minute: int = Field(default=120, ge=1)

    @field_validator("owner_ids", "agent_ids", "sla_holding_backoff", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _split_ids(value)

    @field_validator("web_chat_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip().rstrip("/") for v in value.split(",") if v.strip()]
        for origin in value or ():
            if not str(origin).startswith(("http://", "https://")) or "/" in str(origin)[8:]:
                raise ValueError(f"{origin!r}: an origin is scheme://host[:port], e.g. "
                                 "https://shop.example")
        return value

    @field_validator("sla_holding_backoff")
    @classmethod
    def _backoff(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= seconds <= 86400 for seconds in value):
            raise ValueError("pauses are seconds between 1 and 86400, e.g. '120,600'")
        return value

    @field_validator("service_hours")
    @classmethod
    def _service_hours(cls, value: str) -> str:
        from bot.services.availability import parse_service_hours  # it reads these settings

        parse_service_hours(value)
        return value.strip().lower()

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in SUPPORTED_LANGUAGES]
        if unknown or not value:
            raise ValueError(f"languages must be among {SUPPORTED_LANGUAGES}, got {list(value)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, _, tail = token.partition(":")
        if not head.isdigit() or not tail:
            raise ValueError("does not look like a bot token (expected '123456:ABC…')")
        return SecretStr(token)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def offline(self) -> bool:
        return self.bot_token is None

    @property
    def default_language(self) -> str:
        return self.languages[0]


# Environment variable → Settings field. An empty variable counts as unset.
ENVIRONMENT = {
    "BOT_TOKEN": "bot_token",
    "TELEGRAM_API_URL": "telegram_api_url",
    "DATABASE_URL": "database_url",
    "FAQ_FILE": "faq_file",
    "OWNER_IDS": "owner_ids",
    "AGENT_IDS": "agent_ids",
    "AGENT_CHAT_ID": "agent_chat_id",
    "SLA_GREETING_SECONDS": "sla_greeting_seconds",
    "SLA_REPLY_SECONDS": "sla_reply_seconds",
    "SLA_HOLDING_BACKOFF": "sla_holding_backoff",
    "SERVICE_HOURS": "service_hours",
    "SHIFT_CALENDAR": "shift_calendar",
    "REDIS_URL": "redis_url",
    "WEBHOOK_URL": "webhook_url",
    "WEBHOOK_SECRET": "webhook_secret",
    "WEBHOOK_LISTEN": "webhook_listen",
    "ORDERS_API_TOKEN": "orders_api_token",
    "ORDERS_API_PORT": "orders_api_port",
    "ORDERS_API_HOST": "orders_api_host",
    "WEB_CHAT_LISTEN": "web_chat_listen",
    "WEB_CHAT_ORIGINS": "web_chat_origins",
    "WEB_CHAT_SECRET": "web_chat_secret",
    "WEB_CHAT_VISITOR_PER_MINUTE": "web_chat_visitor_per_minute",
    "WEB_CHAT_IP_PER_MINUTE": "web_chat_ip_per_minute",
}

# Shop-file key → Settings field, where they differ.
SHOP_FILE_KEYS = {"name": "shop_name", "faq": "faq_files", "phrases": "phrase_files",
                  "catalogue": "catalogue_file"}


def read_shop_file(path: Path) -> dict[str, Any]:
    """The shop file as Settings fields; relative file paths are taken from the file's folder."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as error:
        raise ConfigError(f"SHOP_CONFIG: no such file: {path}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"SHOP_CONFIG: {path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"SHOP_CONFIG: {path} must hold a mapping of settings")
    values = {SHOP_FILE_KEYS.get(key, key): value for key, value in data.items()}
    folder = path.parent
    if isinstance(values.get("faq_files"), dict):
        values["faq_files"] = {k: folder / v for k, v in values["faq_files"].items()}
    if isinstance(values.get("catalogue_file"), str):
        values["catalogue_file"] = folder / values["catalogue_file"]
    if isinstance(values.get("phrase_files"), list):
        values["phrase_files"] = [folder / p for p in values["phrase_files"]]
    return values


def shop_file_only(environ: Mapping[str, str]) -> list[str]:
    """Environment names that look like settings but are read only from the shop file.

    An operator who exports LANGUAGES=en expects it to count; saying it does not beats a shop
    that quietly speaks the other language.
    """
    by_env = set(ENVIRONMENT.values())
    return sorted(name.upper() for name in Settings.model_fields
                  if name not in by_env and environ.get(name.upper(), "").strip())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Shop file (SHOP_CONFIG or the demo shop) with environment values on top."""
    environ = os.environ if environ is None else environ
    shop_path = Path(environ.get("SHOP_CONFIG") or DEMO_SHOP)
    values = read_shop_file(shop_path)
    for name, field in ENVIRONMENT.items():
        if environ.get(name, "").strip():
            values[field] = environ[name].strip()
    for name in shop_file_only(environ):
        log.warning("%s is set in the environment but is a shop-file setting (%s: %s); "
                    "the environment value is ignored", name, shop_path, name.lower())
    try:
        settings = Settings(**values)
    except ValidationError as error:
        reverse = {field: env for env, field in ENVIRONMENT.items()}
        lines = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "?"
            where = reverse.get(field, f"{shop_path}: {field}")
            if field in reverse and environ.get(reverse[field], "").strip() == "":
                where = f"{shop_path}: {field}"
            lines.append(f"{where}: {problem['msg']}")
        raise ConfigError("bad settings:\n  " + "\n  ".join(lines)) from error
    if settings.faq_file is not None and not settings.faq_file.is_file():
        raise ConfigError(f"FAQ_FILE: no such file: {settings.faq_file}")
    return settings
