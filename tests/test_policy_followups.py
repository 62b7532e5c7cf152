"""P19 "负责及时跟踪货品发货动向，及时与用户沟通，避免用户不满意": a stalled parcel is told to
its shopper too — once, with what the shop is doing — not only flagged to the agents."""

from __future__ import annotations

from datetime import timedelta

from bot.services import order_import
from bot.services.orders import OrderDesk
from bot.settings import Settings
from storage.repositories import Repo
from tests.aftersales_support import MORNING, SHANGHAI
from tests.test_orders import ORDER, FakeReplier

SHOPPER = 5001


async def test_stalled_parcel_is_told_to_the_shopper_once_P19(
    sessions, settings: Settings,
) -> None:
    settings = settings.model_copy(update={"agent_chat_id": -100500})
    replier = FakeReplier()
    desk = OrderDesk(settings, replier)
    async with sessions() as db:
        repo = Repo(db)
        await repo.customers.upsert_seen(telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林小姐",
                                         username=None, language_code="zh", now=MORNING)
        result = order_import.parse_json([{**ORDER, "telegram_user_id": SHOPPER}], SHANGHAI)
        await order_import.apply(repo, result, MORNING - timedelta(days=5))
        await repo.commit()
        assert await desk.flag_stale(repo, MORNING + timedelta(days=3)) == 1
        order = await repo.orders.by_ref("20260501001")
        assert order is not None
        await repo.orders.add_event(order, MORNING + timedelta(days=4), "上海", "派送中")
        await repo.commit()
        assert await desk.flag_stale(repo, MORNING + timedelta(days=8)) == 1  # stalled again
    to_shopper = [reply.text for chat, reply in replier.sent if chat == SHOPPER]
    assert len(to_shopper) == 1  # once, though the agents were told twice
    assert "20260501001" in to_shopper[0] and "联系快递公司核查" in to_shopper[0]
    assert [chat for chat, _ in replier.sent].count(-100500) == 2
