"""Who the agents are and the owner's tunable numbers, kept in the database (P10).

The roster is the agents table, seeded once from ``AGENT_IDS``; the owner adds and removes
agents in Telegram. Every agent check, the queue and the shift calendar read the table (never
``AGENT_IDS``, fixed at start), so a removal counts at once in every process. Owner settings
(swap limit, complaint steps, caps…) live under ``ShopSetting['owner:<name>']`` with defaults
here, so every reader gets the same value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.services.lifecycle import Lifecycle
from bot.settings import Settings
from storage.base import utcnow
from storage.models import ShopSetting
from storage.repositories import Repo

if TYPE_CHECKING:
    from bot.services.knowledge import KnowledgeBase
    from phrases.catalogue import PhraseCatalogue
    from phrases.staff import StaffWords

AGENTS_KEY = "agents"  # the roster before the agents table was the one source (read once)
ROSTER_SEEDED_KEY = "roster_seeded"
CALENDAR_KEY = "shift_calendar"  # the owner's explicit /shifts on|off
CALENDAR_DEFAULT_KEY = "shift_calendar_default"  # SHIFT_CALENDAR, written at every start

# Owner-tunable settings with their defaults (text, as stored).
OWNER_DEFAULTS: dict[str, str] = {
    "swap_limit": "2",  # P12: swaps per agent per calendar month
    # P14 "一次罚款30元，第二次翻倍，第三次将予以开除": 30 元, doubled, dismissal.
    "complaint_steps": "30,60,dismiss",
    "complaint_period": "all",  # P14: cumulative per agent (or "month", "quarter", "year")
    "late_grace_minutes": "5",  # P11 "上班不得迟到": first activity later than this is late
    "swap_fine": "20",  # P12 "若交待不清造成误班、空班的扣罚20元"
    "bot_survey_share": "20",  # P21: percent of bot-only conversations asked for a score
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


async def shop_agent_cap(repo: Repo, default: int) -> int:
    """Open chats per agent unless the agent has a cap of their own: the owner's ``/cap n``,
    else the shop file's ``agent_cap`` (``default``)."""
    value = await owner_setting(repo, "agent_cap")
    return int(value) if value.isdigit() else default


async def set_owner_setting(repo: Repo, name: str, value: str) -> None:
    await repo.faq.set_setting(f"owner:{name}", value)


async def agent_ids(repo: Repo) -> list[int]:
    """The roster in rotation order: the agents table, the one source of who is an agent."""
    return await repo.agents.roster_ids()


async def is_agent(repo: Repo, user_id: int) -> bool:
    """An agent check (P10): read from the table each time, never from AGENT_IDS, so a removal
    by the owner counts at once in every process."""
    return await repo.agents.is_agent(user_id)


class RosterCheck:
    """"Is this user on the roster?" for one update: read from the agents table the first
    time a filter asks, then remembered until the update ends (the routers of one update ask
    up to five times). Never kept across updates, so a removal counts at the next update in
    every process (P10). The middleware that opens the update's session makes one
    (``data["roster"]``)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._known: dict[int, bool] = {}

    async def has(self, user_id: int) -> bool:
        known = self._known.get(user_id)
        if known is None:
            known = self._known[user_id] = await self.repo.agents.is_agent(user_id)
        return known


async def set_agents(repo: Repo, ids: Iterable[int]) -> None:
    """Make the roster exactly ``ids`` (in this order for newcomers)."""
    wanted = list(dict.fromkeys(ids))
    await repo.agents.remove([i for i in await agent_ids(repo) if i not in wanted])
    await repo.agents.ensure(wanted)


PERSON_KEY = "person:{}"  # a name seen on a message the owner forwarded, for "add as agent"


async def remember_person(repo: Repo, user_id: int, name: str, username: str | None) -> None:
    """The name on a message the owner forwarded: the buttons under it carry only the id, so
    a later "add as agent" still knows who it is (P10: people by name)."""
    await repo.faq.set_setting(PERSON_KEY.format(user_id), json.dumps(
        {"name": name[:200], "username": username}, ensure_ascii=False))


async def add_agent(repo: Repo, user_id: int, name: str = "",
                    username: str | None = None) -> bool:
    """Put someone on the roster; returns False when already an agent.

    ``name``: from a message of theirs (replied to or forwarded), else the one remembered from
    a forward (:func:`remember_person`); stored even for an agent already on the roster, so
    /agents shows a name before they ever write in the agents' group.
    """
    if not name:
        seen = json.loads(await repo.faq.setting(PERSON_KEY.format(user_id)) or "{}")
        name, username = str(seen.get("name") or ""), seen.get("username") or username
    added = not await repo.agents.is_agent(user_id)
    if added:
        await repo.agents.ensure([user_id])
    row = await repo.agents.by_telegram_id(user_id)
    if row is not None and (name.strip() or username):
        row.name, row.username = name.strip()[:200] or row.name, username or row.username
    return added


async def remove_agent(repo: Repo, user_id: int, now: datetime | None = None) -> bool:
    """Off the roster at once: no agent powers, no new chats, off every shift's duty.

    Chats they own go back to the queue (any agent may /take them; the SLA clock and the next
    assignment hand them on), so no shopper is left with someone who can no longer answer.
    """
    if not await repo.agents.is_agent(user_id):
        return False
    for conversation in await repo.agents.assigned_to(user_id):
        await Lifecycle().release(repo, conversation, user_id, now or utcnow(),
                                  reason="agent_removed")
    await repo.agents.remove([user_id])
    await repo.faq.set_setting(f"duty:{user_id}", "auto")  # a later /addagent starts clean
    return True


async def console_switched_off(repo: Repo) -> set[int]:
    """Agents whose own switch in the agents' console is off."""
    return {a.telegram_user_id for a in await repo.agents.all() if not a.on_duty}


async def forced_on(repo: Repo) -> list[int]:
    """Agents who switched themselves on with /duty on; an owner only once on the roster."""
    rows = await repo.session.scalars(
        select(ShopSetting).where(ShopSetting.key.like("duty:%"), ShopSetting.value == "on")
    )
    roster = set(await agent_ids(repo))
    return [i for i in (int(row.key.split(":", 1)[1]) for row in rows) if i in roster]


async def calendar_enabled(repo: Repo) -> bool:
    """P11/P24: the shift calendar decides who is on duty (and the hours shoppers are told)
    as soon as agents exist. The owner's explicit ``/shifts on|off`` wins; a shop whose owner
    never chose (new or running) follows ``SHIFT_CALENDAR`` (on unless set to off). Off: every
    present agent is on duty within the service hours, as before the calendar existed."""
    chosen = await repo.faq.setting(CALENDAR_KEY)
    if chosen is None:
        chosen = await repo.faq.setting(CALENDAR_DEFAULT_KEY) or "on"
    return chosen == "on" and bool(await repo.agents.roster_ids())


async def set_calendar_default(repo: Repo, enabled: bool) -> None:
    """The shop's default (``SHIFT_CALENDAR``) when the owner never chose; written at start."""
    await repo.faq.set_setting(CALENDAR_DEFAULT_KEY, "on" if enabled else "off")


async def set_calendar_enabled(repo: Repo, enabled: bool) -> None:
    await repo.faq.set_setting(CALENDAR_KEY, "on" if enabled else "off")


async def seed_staff(repo: Repo, settings: Settings) -> None:
    """First start: the roster from AGENT_IDS, once; and the shop's time zone for the calendar.

    Seeded once only: an agent the owner removed stays removed after a restart even while
    still listed in AGENT_IDS. A database from before the agents table was the roster keeps
    the owner's edits (the old JSON list); owners' rows made then are dropped (an owner is
    an agent only when added as one).
    """
    if await repo.faq.setting(ROSTER_SEEDED_KEY) is None:
        legacy = await repo.faq.setting(AGENTS_KEY)
        await set_agents(repo, _legacy_ids(legacy) if legacy is not None else settings.agent_ids)
        await repo.faq.set_setting(ROSTER_SEEDED_KEY, "1")
    await repo.faq.set_setting("timezone", settings.timezone)
    await set_calendar_default(repo, settings.shift_calendar)
    await repo.commit()


def _legacy_ids(raw: str) -> list[int]:
    try:
        return [int(x) for x in json.loads(raw)]
    except (ValueError, TypeError):
        return []


async def duty_switch(repo: Repo, agent_id: int) -> str:
    """'on', 'off' or 'auto' (the calendar decides)."""
    return await repo.faq.setting(f"duty:{agent_id}") or "auto"


async def set_duty_switch(repo: Repo, agent_id: int, value: str) -> None:
    """The agent's own switch; the agents' console keeps the same on/off."""
    if value not in ("on", "off", "auto"):
        raise ValueError("duty switch is on, off or auto")
    await repo.faq.set_setting(f"duty:{agent_id}", value)
    row = await repo.agents.by_telegram_id(agent_id)
    if row is not None:
        row.on_duty = value != "off"


async def duty_switches(repo: Repo, ids: Iterable[int]) -> dict[int, str]:
    return {i: await duty_switch(repo, i) for i in ids}


async def set_agent_cap(repo: Repo, agent_id: int, cap: int) -> bool:
    """One agent's cap on open chats; False for someone not on the roster."""
    row = await repo.agents.by_telegram_id(agent_id)
    if row is None:
        return False
    row.cap = cap
    return True


async def agent_names(repo: Repo) -> dict[int, str]:
    """Agents by Telegram id → the name they go by (the owner sees people, not ids)."""
    from storage.models.agents import Agent

    rows = await repo.session.scalars(select(Agent))
    return {a.telegram_user_id: a.name or (f"@{a.username}" if a.username else
                                           str(a.telegram_user_id)) for a in rows}


STAFF_LANGS = ("zh", "en")


async def staff_lang(repo: Repo, user_id: int | None, shop_lang: str) -> str:
    """The language a staff member reads: their own ``/lang`` choice, else the shop's."""
    if user_id is not None:
        chosen = await repo.faq.setting(f"staff_lang:{user_id}")
        if chosen in STAFF_LANGS:
            return chosen
    return shop_lang


async def set_staff_lang(repo: Repo, user_id: int, lang: str) -> None:
    """``/lang zh|en``: stored per person (owners need not be agents); the caller commits."""
    if lang not in STAFF_LANGS:
        raise ValueError(lang)
    await repo.faq.set_setting(f"staff_lang:{user_id}", lang)


async def staff_words(repo: Repo, knowledge: KnowledgeBase, user_id: int | None) -> StaffWords:
    """The staff texts for this person (see phrases/staff.py): ``w("card.orders", count=2)``."""
    return knowledge.staff_words(
        await staff_lang(repo, user_id, knowledge.settings.default_language))


async def words_for(repo: Repo, catalogue: PhraseCatalogue, settings: Settings,
                    user_id: int | None) -> StaffWords:
    """``staff_words`` for services that hold a phrase catalogue (``Wording``), not the
    knowledge base: owner alerts from the order desk and the after-care."""
    from phrases.staff import StaffWords

    return StaffWords(catalogue, await staff_lang(repo, user_id, settings.default_language))
