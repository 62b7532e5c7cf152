"""Settings: shop file, environment overrides with the exact operator-facing names, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    (tmp_path / "faq.zh.yaml").write_text(
        'faq:\n  - id: a\n    question: "多久发货"\n    answer: "48小时内"\n', encoding="utf-8"
    )
    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: Test Shop\nlanguages: [zh, en]\ntimezone: Asia/Shanghai\n"
        "faq:\n  zh: faq.zh.yaml\nsla_reply_seconds: 30\nowner_ids: [5]\n",
        encoding="utf-8",
    )
    return path


def test_shop_file_values_and_relative_faq_paths(shop_file: Path) -> None:
    settings = load_settings({"SHOP_CONFIG": str(shop_file)})
    assert settings.shop_name == "Test Shop"
    assert settings.faq_files["zh"] == shop_file.parent / "faq.zh.yaml"
    assert settings.sla_reply_seconds == 30 and settings.sla_greeting_seconds == 15  # P1/P2
    assert settings.owner_ids == (5,)
    assert settings.offline


def test_environment_overrides_shop_file(shop_file: Path) -> None:
    settings = load_settings({
        "SHOP_CONFIG": str(shop_file), "SLA_REPLY_SECONDS": "20", "OWNER_IDS": "1, 2,3",
        "AGENT_IDS": "4", "AGENT_CHAT_ID": "-1001234", "BOT_TOKEN": "123:abc",
        "TELEGRAM_API_URL": "http://127.0.0.1:8081/", "DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "SLA_GREETING_SECONDS": "10",
    })
    assert settings.sla_reply_seconds == 20 and settings.sla_greeting_seconds == 10
    assert settings.owner_ids == (1, 2, 3) and settings.agent_ids == (4,)
    assert settings.agent_chat_id == -1001234
    assert settings.bot_token is not None and not settings.offline
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.database_url == "sqlite+aiosqlite:///x.db"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("SLA_REPLY_SECONDS", "soon", "SLA_REPLY_SECONDS"),
        ("SLA_REPLY_SECONDS", "0", "SLA_REPLY_SECONDS"),
        ("OWNER_IDS", "1,abc", "OWNER_IDS"),
        ("AGENT_IDS", "-5", "AGENT_IDS"),
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
        ("FAQ_FILE", "/nonexistent/faq.yaml", "FAQ_FILE"),
        ("SHOP_CONFIG", "/nonexistent/shop.yaml", "SHOP_CONFIG"),
    ],
)
def test_bad_values_name_the_variable(
    shop_file: Path, name: str, value: str, needle: str
) -> None:
    environ = {"SHOP_CONFIG": str(shop_file), name: value}
    with pytest.raises(ConfigError, match=needle):
        load_settings(environ)


def test_bad_shop_file_value_names_the_file(shop_file: Path) -> None:
    shop_file.write_text("name: X\ntimezone: Mars/Olympus\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="timezone"):
        load_settings({"SHOP_CONFIG": str(shop_file)})


def test_unknown_shop_file_key_is_refused(shop_file: Path) -> None:
    shop_file.write_text("name: X\nsla_reply_secs: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sla_reply_secs"):
        load_settings({"SHOP_CONFIG": str(shop_file)})


def test_a_shop_file_setting_in_the_environment_is_reported_not_silently_ignored(
        shop_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    """LANGUAGES, TIMEZONE … are shop-file settings: exporting them must say they do not count."""
    with caplog.at_level("WARNING", logger="bot.settings"):
        settings = load_settings({"SHOP_CONFIG": str(shop_file), "LANGUAGES": "en",
                                  "AGENT_CAP": "9"})
    assert settings.languages != ("en",)
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "LANGUAGES" in warned and "AGENT_CAP" in warned and "shop-file setting" in warned
