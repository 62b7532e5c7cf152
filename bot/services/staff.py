"""Who the agents are and the owner's tunable numbers, kept in the database (P10).

Until the agents' own table exists, the roster is a JSON list in ``ShopSetting['agents']``,
seeded once from ``AGENT_IDS``; the owner adds and removes agents in Telegram. Owner settings
(swap limit, complaint steps, caps…) live under ``ShopSetting['owner:<name>']`` with defaults
here, so every reader gets the same value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select

from bot.settings import Settings
from storage.models import ShopSetting
from storage.repositories import Repo

AGENTS_KEY = "agents"
CALENDAR_KEY = "shift_calendar"

# Owner-tunable settings with their defaults (text, as stored).
OWNER_DEFAULTS: dict[str, str] = {
    "swap_limit": "2",  # P12: swaps per agent per calendar month
    # P14 "一次罚款30元，第二次翻倍，第三次将予以开除": 30 元, doubled, dismissal.
    "complaint_steps": "30,60,dismiss",
    "complaint_period": "all",  # P14: cumulative per agent (or "month", "quarter", "year")
    "agent_cap": "",  # empty: the shop file's agent_cap
    "sla_greeting_seconds": "",
    "sla_reply_seconds": "",
    "shop_name": "",
    "languages": "",
}


async def owner_setting(repo: Repo, name: str) -> str:
    """The owner's value, else the default."""
    value = await repo.faq.setting(f"owner:{name}")
    return OWNER_DEFAULTS.get(name, "") if value is None else value


async def set_owner_setting(repo: Repo, name: str, value: str) -> None:
    await repo.faq.set_setting(f"owner:{name}", value)


async def agent_ids(repo: Repo) -> list[int]:
    """The roster in rotation order."""
    raw = await repo.faq.setting(AGENTS_KEY)
    if not raw:
        return []
    try:
        return [int(x) for x in json.loads(raw)]
    except (ValueError, TypeError):
        return []


async def set_agents(repo: Repo, ids: Iterable[int]) -> None:
    await repo.faq.set_setting(AGENTS_KEY, json.dumps(list(dict.fromkeys(ids))))


async def add_agent(repo: Repo, user_id: int) -> bool:
    """Returns False when already an agent; the agents' console table (issue 3) follows."""
    console = getattr(repo, "agents", None)
    if console is not None:
        await console.ensure([user_id])
    ids = await agent_ids(repo)
    if user_id in ids:
        return False
    await set_agents(repo, [*ids, user_id])
    return True


async def remove_agent(repo: Repo, user_id: int) -> bool:
    console = getattr(repo, "agents", None)
    row = await console.by_telegram_id(user_id) if console is not None else None
    if row is not None:
        row.on_duty = False  # kept for history (their chats name them); never assigned again
    ids = await agent_ids(repo)
    if user_id not in ids:
        return False
    await set_agents(repo, [i for i in ids if i != user_id])
    return True


async def console_switched_off(repo: Repo) -> set[int]:
    """Agents whose own switch in the agents' console (issue 3) is off."""
    console = getattr(repo, "agents", None)
    if console is None:
        return set()
    return {a.telegram_user_id for a in await console.all() if not a.on_duty}


async def forced_on(repo: Repo) -> list[int]:
    """Anyone (an owner too) who switched themselves on with /duty on."""
    rows = await repo.session.scalars(
        select(ShopSetting).where(ShopSetting.key.like("duty:%"), ShopSetting.value == "on")
    )
    return [int(row.key.split(":", 1)[1]) for row in rows]


async def calendar_enabled(repo: Repo) -> bool:
    """P11: the owner turns the shift calendar on (/shifts on). Off (a fresh shop), every
    agent counts as on duty, as before the calendar existed."""
    return await repo.faq.setting(CALENDAR_KEY) == "on"


async def set_calendar_enabled(repo: Repo, enabled: bool) -> None:
    await repo.faq.set_setting(CALENDAR_KEY, "on" if enabled else "off")


async def seed_staff(repo: Repo, settings: Settings) -> None:
    """First start: the roster from AGENT_IDS and the shop's time zone for the calendar."""
    if await repo.faq.setting(AGENTS_KEY) is None:
        await set_agents(repo, settings.agent_ids)
    await repo.faq.set_setting("timezone", settings.timezone)
    await repo.commit()


async def duty_switch(repo: Repo, agent_id: int) -> str:
    """'on', 'off' or 'auto' (the calendar decides)."""
    return await repo.faq.setting(f"duty:{agent_id}") or "auto"


async def set_duty_switch(repo: Repo, agent_id: int, value: str) -> None:
    """The agent's own switch; the agents' console (issue 3) keeps the same on/off."""
    if value not in ("on", "off", "auto"):
        raise ValueError("duty switch is on, off or auto")
    await repo.faq.set_setting(f"duty:{agent_id}", value)
    console = getattr(repo, "agents", None)
    row = await console.by_telegram_id(agent_id) if console is not None else None
    if row is not None:
        row.on_duty = value != "off"


async def duty_switches(repo: Repo, ids: Iterable[int]) -> dict[int, str]:
    return {i: await duty_switch(repo, i) for i in ids}


async def set_agent_cap(repo: Repo, agent_id: int, cap: int) -> bool:
    """One agent's cap on open chats, in the agents' console table (issue 3) when present."""
    console = getattr(repo, "agents", None)
    row = await console.by_telegram_id(agent_id) if console is not None else None
    if row is None:
        return False
    row.cap = cap
    return True
