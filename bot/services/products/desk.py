"""The catalogue desk (P5, P6): product questions answered from the catalogue, before the FAQ.

Consulted by the conversation for every text message a bot-handled shopper sends. It answers
when a product is named in the message, or when one is in context (the last product this
conversation asked about) and the message asks about price, stock, size, colour, material,
care or fit; it recommends in-stock items when asked for ideas (P6). Otherwise it returns
None and the FAQ answers as before. Names (``ProductIndex``), which picture shows which product
(``by_photo``) and a copy of each product with its variants are held in memory. A copy is
used only after one small query found the product's ``updated_at`` unchanged (every change of
a product, its stock or price moves it, in whichever process or tool made the change:
``ProductRepo.changed``); a stale or missing one is read again. A catalogue picture the
shopper sends back puts its product in context (``photo``).

Events it records (reports: 询单转化率, recommendations shown/clicked):
``product_asked`` {customer, product_id, code, aspects}, ``recommendation_shown`` {customer,
products}, ``recommendation_clicked`` {customer, product_id}.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.services import callbacks
from bot.services.canned import Canned
from bot.services.knowledge import KnowledgeBase
from bot.services.products.importer import price_now, promo_active
from bot.services.products.index import (
    Hit,
    ProductIndex,
    cues_in,
    has_word,
    kinds_in,
    lexicon,
    measures_in,
    normalise,
    wishes_in,
)
from bot.services.products.wording import FIT_NAMES, SITUATIONS, money, product_say
from bot.services.replies import Button, Photo, Reply
from phrases.catalogue import say
from phrases.lang import has_chinese, series
from phrases.sizing import Body, parse_body, pick_size
from phrases.splitting import split_message
from storage.models import Conversation, Customer, Event
from storage.models.products import Product, ProductVariant
from storage.repositories import Repo
from storage.repositories.products import detached_copy

TIE = 1.0  # two products whose scores differ less than this are "two candidates"
RECOMMEND_COUNT = 3
ASPECT_CUES = {"price", "stock", "colour", "material", "care", "fit", "size", "measure"}
MULTI_LETTER_SIZE = re.compile(r"(?<![a-z0-9])(xxxl|xxl|[2-5]xl|xl|xs|xxs)(?![a-z0-9])")
ONE_LETTER_SIZE = re.compile(r"(?<![A-Za-z0-9])([SML])(?![A-Za-z0-9])")
SIZE_WITH_WORD = re.compile(r"(?<![a-z0-9])([a-z0-9]{1,4})\s*(?:码|号)|size\s+([a-z0-9]{1,4})\b")
ACTIONS = ("pick", "details", "sizes", "rec")
SIZE_CHOICES = 6  # items offered when measurements come with no product (best sellers first)
# The bot's last message asked which product (two close names; measurements with no item):
# the question it kept in ``product_which`` is still open for the product named next.
WHICH_TAGS = frozenset(SITUATIONS[s][1][0]
                       for s in ("product_which", "size_which", "measure_which"))


@dataclass(frozen=True)
class Asked:
    """What a message wants to know about a product."""

    aspects: frozenset[str]
    size: str | None
    colour: str | None  # as the variant names it, in the message's language
    body: Body


def _faqs_question(cues: set[str]) -> bool:
    """Shipping, returns, damage … asked of a named product ("亚麻衬衫运费多少"): the FAQ's
    question, unless the product itself is asked about too (its price is not enough)."""
    return "veto" in cues and not cues & (ASPECT_CUES - {"price"})


class CatalogueDesk:
    """Answers product questions, advises sizes, recommends; long-lived, one per process."""

    def __init__(self, knowledge: KnowledgeBase, clock: Clock) -> None:
        self.knowledge = knowledge
        self.clock = clock
        self.index = ProductIndex(())
        self.meta: dict[int, tuple[frozenset[str], str, int]] = {}  # tags, season, sales
        self.by_photo: dict[str, int] = {}  # a catalogue picture's stored name → its product
        self.held: dict[int, Product] = {}  # copies, used while their version is current
        self.sized: tuple[int, ...] = ()  # products with a size chart, best sellers first
        self.loaded_at: datetime | None = None
        self.stamp: tuple[int, datetime | None] | None = None

    # ------------------------------------------------------------------ the index
    async def reload(self, repo: Repo) -> None:
        """Rebuild the name index from the products on sale (after an import, or stale)."""
        products = await repo.products.active()
        lexicon()  # the cue words, read at start rather than by the first shopper's message
        self.index = ProductIndex(products)
        self.held = {p.id: detached_copy(p) for p in products}
        self.meta = {p.id: (frozenset(p.tags), p.season.lower(), p.sales) for p in products}
        self.by_photo = {source: p.id for p in products for source in p.photos}
        self.sized = tuple(p.id for p in sorted(products, key=lambda p: -p.sales)
                           if p.size_chart)
        self.loaded_at = self.clock.now()
        self.stamp = await repo.products.stamp()

    async def refresh(self, repo: Repo) -> None:
        """Rebuild only when the catalogue changed (the periodic job; another process's import)."""
        if await repo.products.stamp() != self.stamp:
            await self.reload(repo)
        self.loaded_at = self.clock.now()

    async def _fresh(self, repo: Repo, now: datetime) -> None:
        if self.loaded_at is None:
            await self.reload(repo)

    # ------------------------------------------------------------------ a message
    async def answer(
        self, repo: Repo, customer: Customer, conversation: Conversation, text: str,
        now: datetime, *, faq_sure: bool = False,
    ) -> list[Reply] | None:
        """Replies for a product question, or None when the message is not one.

        A product named in the message is answered here even when the FAQ has an answer
        (its answer is about this product); a wish without "recommend" (送妈妈) gives way to a
        confident FAQ answer (``faq_sure``): "礼物包装" is the FAQ's. Reads happen without
        autoflush, so the conversation's pending changes do not take SQLite's write lock
        before the reply is sent (see ``ConversationService._deliver``).
        """
        with repo.session.no_autoflush:
            return await self._answer(repo, customer, conversation, text, now, faq_sure)

    async def _answer(
        self, repo: Repo, customer: Customer, conversation: Conversation, text: str,
        now: datetime, faq_sure: bool,
    ) -> list[Reply] | None:
        await self._fresh(repo, now)
        if not len(self.index):
            return None
        norm = normalise(text)
        cues = cues_in(norm)
        hits = self.index.find(text)
        if "veto" in cues and not hits:
            return None  # 运费 / 退货 …: the FAQ's, even with a product in context
        if not hits and ("recommend" in cues or ("wish" in cues and not faq_sure)):
            return await self.recommend(repo, customer, conversation, norm, now)
        if hits:
            text = await self._with_open_question(repo, conversation, text, norm, cues)
            close = [h for h in hits[1:] if hits[0].score - h.score < TIE]
            if close:
                return await self._which(repo, conversation, [hits[0], close[0]], text, now)
            product = await self._product(repo, hits[0].product_id)
        else:
            body = parse_body(text)
            if not (cues & ASPECT_CUES or body.height_cm or _size_like(text, norm)):
                return None  # nothing a product in context could answer: no query at all
            product = await self._in_context(repo, conversation)
            named = kinds_in(norm)
            kinds = self.index.kinds.get(product.id, set()) if product is not None else set()
            if product is not None and named and not named & kinds:
                product = None  # "这件衬衫…" while a T-shirt is in context: not about it
            if product is None and body.complete:
                return await self._which_sized(repo, conversation, text, now, "size_which",
                                               height=body.height_text,
                                               weight=body.weight_text)
            if product is None and "measure" in cues:  # 衣长多少 with no product known
                return await self._which_sized(
                    repo, conversation, text, now, "measure_which",
                    measure=self._measure_names(measures_in(norm), lang=conversation.language))
            if product is None:
                return None
            asked = self._asked(product, text, norm, cues, body)
            if not (asked.aspects or asked.size or asked.colour or body.height_cm):
                return None
        if product is None:
            return None
        if _faqs_question(cues):
            return None  # "亚麻衬衫运费多少": a shipping question that names a product
        return await self.about(repo, customer, conversation, product, text, now)

    def asks_measure(self, text: str) -> bool:
        """A garment measure asked (衣长多少, sleeve length?): this desk's question, before
        the FAQ, also as one clause of a several-question message (P5)."""
        return bool(len(self.index)) and bool(measures_in(normalise(text)))

    def takes(self, clause: str) -> bool:
        """One clause of a several-question message this desk answers (P2, P5): a garment
        measure asked, or a product named with something to ask of it that is not a
        shipping or returns question ("亚麻衬衫运费多少" stays the FAQ's)."""
        if self.asks_measure(clause):
            return True
        if not len(self.index) or not self.index.find(clause):
            return False
        cues = cues_in(normalise(clause))
        return bool(cues & ASPECT_CUES) and not _faqs_question(cues)

    async def photo(
        self, repo: Repo, customer: Customer, conversation: Conversation,
        unique_ids: Sequence[str], caption: str, now: datetime,
    ) -> list[Reply] | None:
        """A picture the shopper sent that is one of the catalogue's (forwarded, or sent back
        from this chat): its product is now in context (P5, "sent a photo of"); a question in
        the caption is answered about it, else its card is shown. None for any other picture."""
        if not unique_ids:
            return None
        with repo.session.no_autoflush:
            await self._fresh(repo, now)
            ids = [self.by_photo[s] for s in await repo.products.photo_sources(unique_ids)
                   if s in self.by_photo]
            product = await self._product(repo, ids[0]) if ids else None
            if product is None or not product.active:
                return None
            return await self.about(repo, customer, conversation, product, caption, now)

    async def about(
        self, repo: Repo, customer: Customer, conversation: Conversation, product: Product,
        text: str, now: datetime,
    ) -> list[Reply]:
        """The answer about one product for this message (it becomes the product in context)."""
        norm = normalise(text)
        for name in sorted(self.index.names_of(product.id), key=len, reverse=True):
            norm = norm.replace(name, " ")  # "白衬衫" names the shirt, not the colour asked
            text = text.replace(name, " ")
        asked = self._asked(product, text, norm, cues_in(norm), parse_body(text))
        lang = conversation.language
        lines: list[str] = []
        extra: list[Reply] = []
        aspects = asked.aspects
        if asked.body.height_cm is not None or "size" in aspects:
            lines += self._size_lines(product, asked.body, lang, extra)
        if "measure" in aspects:
            lines += self._measure_lines(product, measures_in(norm), lang)
        if "price" in aspects:
            lines.append(self._price_line(product, asked, lang, now))
        if aspects & {"stock", "colour"} or asked.size or asked.colour:
            lines.append(self._stock_line(product, asked, lang))
        if "material" in aspects and product.material:
            lines.append(self._say("product_material", lang, product=self._title(product, lang),
                                   material=_of(product.material, lang)))
        if ("care" in aspects or "material" in aspects) and product.care:
            lines.append(self._say("product_care", lang, care=_of(product.care, lang)))
        if "fit" in aspects:
            lines.append(self._say("product_fit", lang, product=self._title(product, lang),
                                   fit=FIT_NAMES.get(lang, FIT_NAMES["en"]).get(product.fit,
                                                                                product.fit)))
        _record(repo, "product_asked", conversation_id=conversation.id, at=now,
                              customer=customer.id, product_id=product.id, code=product.code,
                              aspects=sorted(aspects))
        if not lines:
            return [self.card(product, lang, now)]
        return [Reply("\n".join(line for line in lines if line)), *extra]

    # ------------------------------------------------------------------ buttons
    async def choose(
        self, repo: Repo, customer: Customer, conversation: Conversation, action: str,
        product_id: int, now: datetime,
    ) -> list[Reply]:
        """A product button: ``pick`` (which of two), ``details``, ``sizes``, ``rec``."""
        with repo.session.no_autoflush:
            return await self._choose(repo, customer, conversation, action, product_id, now)

    async def _choose(
        self, repo: Repo, customer: Customer, conversation: Conversation, action: str,
        product_id: int, now: datetime,
    ) -> list[Reply]:
        if action not in ACTIONS:
            return []
        product = await self._product(repo, product_id)
        if product is None or not product.active:
            return []
        lang = conversation.language
        if action == "pick":
            asked = await repo.events.latest("product_which", conversation.id)
            question = str(asked.data.get("text", "")) if asked is not None else ""
            return await self.about(repo, customer, conversation, product, question, now)
        if action == "rec":
            _record(repo, "recommendation_clicked", conversation_id=conversation.id,
                                  at=now, customer=customer.id, product_id=product.id)
        if action == "sizes":
            _record(repo, "product_asked", conversation_id=conversation.id, at=now,
                                  customer=customer.id, product_id=product.id,
                                  code=product.code, aspects=["stock"])
            asked = Asked(frozenset({"stock"}), None, None, Body(None, None))
            return [Reply(self._stock_line(product, asked, lang))]
        _record(repo, "product_asked", conversation_id=conversation.id, at=now,
                              customer=customer.id, product_id=product.id, code=product.code,
                              aspects=[])
        return [self.card(product, lang, now)]

    # ------------------------------------------------------------------ recommendations
    async def recommend(
        self, repo: Repo, customer: Customer, conversation: Conversation, norm: str,
        now: datetime,
    ) -> list[Reply]:
        """P6: up to three items in stock that fit the wish (tags, season), best sellers first."""
        lang = conversation.language
        tags, seasons = wishes_in(norm)

        def score(item: tuple[int, tuple[frozenset[str], str, int]]) -> float:
            product_tags, season, sales = item[1]
            fit = 10 * len(tags & product_tags) + 5 * (season in seasons) + 3 * (
                bool(seasons) and season in ("all", "四季"))  # all-season fits, less well
            return fit + math.log1p(sales) / 10

        ranked = sorted(self.meta.items(), key=score, reverse=True)
        if tags or seasons:
            matching = [item for item in ranked if score(item) >= 3]
            ranked = matching or ranked
        picks: list[Product] = []
        for start in range(0, min(len(ranked), 60), 12):
            ids = [product_id for product_id, _ in ranked[start:start + 12]]
            for product in await self._products(repo, ids):
                if product.active and _in_stock(product.variants) and len(picks) < 3:
                    picks.append(product)
            if len(picks) >= RECOMMEND_COUNT:
                break
        if not picks:
            text, key = self._phrase("recommend_none", lang)
            return [Reply(text, ((Button(self._human_label(lang), callbacks.ASK_HUMAN),),), key)]
        photos = tuple(Photo(p.photos[0], self._say(
            "recommend_caption", lang, product=self._title(p, lang),
            price=self._price_text(p, now), material=_of(p.material, lang)))
            for p in picks if p.photos)
        rows = tuple((Button(self._say("product_button", lang, "details",
                                       product=self._title(p, lang))[:60],
                             callbacks.product("rec", p.id)),) for p in picks)
        rows += ((Button(self._human_label(lang), callbacks.ASK_HUMAN),),)
        _record(repo, "recommendation_shown", conversation_id=conversation.id, at=now,
                              customer=customer.id, products=[p.id for p in picks])
        text, key = self._phrase("recommend_intro", lang)
        return [Reply(text, rows, key, photos=photos)]

    # ------------------------------------------------------------------ agents
    async def inline(self, repo: Repo, query: str, limit: int = 5) -> list[Canned]:
        """Agents' inline query (P5): product cards for the names in ``query``, in the
        query's language, ready to send into the shopper's topic."""
        if not query.strip() or not len(self.index):
            return []
        lang = "zh" if has_chinese(query) else "en"
        now = self.clock.now()
        with repo.session.no_autoflush:
            products = await self._products(
                repo, [hit.product_id for hit in self.index.find(query)[:limit]])
        return [Canned(f"product:{p.id}", f"🛍 {self._title(p, lang)}",
                       self.card(p, lang, now).text) for p in products if p.active]

    # ------------------------------------------------------------------ pieces
    async def _which(
        self, repo: Repo, conversation: Conversation, hits: Sequence[Hit], text: str,
        now: datetime,
    ) -> list[Reply]:
        """P4 for products: two fit the words, so ask which one (two buttons)."""
        lang = conversation.language
        _record(repo, "product_which", conversation_id=conversation.id, at=now,
                              text=text[:500], products=[h.product_id for h in hits])
        rows = tuple((Button(self.index.title(h.product_id, lang)[:60],
                             callbacks.product("pick", h.product_id)),) for h in hits)
        text_, key = self._phrase("product_which", lang)
        return [Reply(text_, rows, key)]

    async def _which_sized(
        self, repo: Repo, conversation: Conversation, text: str, now: datetime,
        situation: str, **values: object,
    ) -> list[Reply] | None:
        """P5 with no product known: a body's measurements (``size_which``) or a garment
        measure (``measure_which``) were understood, so say so and ask which item (buttons:
        the sized items in stock), not the size guide that asks for them again. The message
        is kept as the open question (``product_which``): the item tapped or named next is
        answered with it."""
        lang = conversation.language
        products = [p for p in await self._products(repo, self.sized)
                    if p.active and _in_stock(p.variants)][:SIZE_CHOICES]
        if not products:
            return None  # nothing to size: the FAQ's size guide
        _record(repo, "product_which", conversation_id=conversation.id, at=now,
                text=text[:500], products=[p.id for p in products])
        rows = tuple((Button(self._title(p, lang)[:60], callbacks.product("pick", p.id)),)
                     for p in products)
        said, key = self._phrase(situation, lang, **values)
        return [Reply(said, rows, key)]

    async def _with_open_question(
        self, repo: Repo, conversation: Conversation, text: str, norm: str, cues: set[str],
    ) -> str:
        """A message that only names a product, right after the bot asked which one: the
        question asked then (its measurements, "多少钱") is the one to answer about it."""
        if cues & ASPECT_CUES or _size_like(text, norm) or parse_body(text).height_cm:
            return text  # a question of its own
        last = self.knowledge.catalogue.get(conversation.last_phrase_key or "",
                                            conversation.language)
        if last is None or not WHICH_TAGS & set(last.tags):
            return text
        asked = await repo.events.latest("product_which", conversation.id)
        question = str(asked.data.get("text", "")) if asked is not None else ""
        return f"{text}\n{question}" if question else text

    async def _in_context(self, repo: Repo, conversation: Conversation) -> Product | None:
        event = await repo.events.latest("product_asked", conversation.id)
        if event is None:
            return None
        product_id = event.data.get("product_id")
        product = await self._product(repo, int(product_id)) if product_id else None
        return product if product is not None and product.active else None

    async def _product(self, repo: Repo, product_id: int) -> Product | None:
        found = await self._products(repo, (product_id,))
        return found[0] if found else None

    async def _products(self, repo: Repo, ids: Sequence[int]) -> list[Product]:
        """The products as stored now, in ``ids``' order (unknown ids left out): the copies
        held when their version is current (one query), the others read and held."""
        versions = await repo.products.versions(ids)
        current = {i for i, at in versions.items()
                   if (held := self.held.get(i)) is not None and held.updated_at == at}
        for product in await repo.products.many(i for i in versions if i not in current):
            self.held[product.id] = detached_copy(product)
            current.add(product.id)
        return [self.held[i] for i in dict.fromkeys(ids) if i in current]

    def _asked(self, product: Product, text: str, norm: str, cues: set[str], body: Body,
               ) -> Asked:
        sizes = {v.size.upper() for v in product.variants if v.size}
        size = _size_in(text, norm, sizes)
        colour = None
        for variant in product.variants:
            names = [n for n in (variant.colour or {}).values() if n]
            short = [n[:-1] for n in names if n.endswith("色") and len(n) > 1]
            if names and has_word(norm, [normalise(n) for n in names + short]):
                colour = names[0]
                break
        aspects = frozenset(cues & ASPECT_CUES)
        return Asked(aspects, size, colour, body)

    def _size_lines(self, product: Product, body: Body, lang: str, extra: list[Reply],
                    ) -> list[str]:
        title = self._title(product, lang)
        if not body.complete:
            return [self._say("size_need_body", lang, product=title)]
        pick = pick_size(product.size_chart, body, product.fit)
        if pick is None:
            guide = self.knowledge.entry("size_guide", lang)
            if guide is not None:  # P2: a long answer in parts, as the FAQ sends it
                extra += [Reply(part) for part in split_message(guide.answer, limit=350)]
            return [self._say("size_advice_no_chart", lang, product=title)]
        reason = self._say("size_reason", lang, pick.reason, size=pick.size)
        lines = [self._say("size_advice", lang, product=title, height=body.height_text,
                           weight=body.weight_text, size=pick.size, reason=reason)]
        if pick.looser:
            lines.append(self._say("size_advice_loose", lang, alt_size=pick.looser))
        return lines

    def _measure_names(self, measures: Sequence[str], lang: str) -> str:
        names = [self._say("measure_name", lang, m) for m in measures]
        return series(names, lang)

    def _measure_lines(self, product: Product, measures: Sequence[str], lang: str,
                       ) -> list[str]:
        """A garment measure per size, from the product's size chart (flat, cm); the ones
        the chart does not give are said so, with where to find them (no figure made up)."""
        title = self._title(product, lang)
        lines: list[str] = []
        missing: list[str] = []
        for measure in measures:
            sizes = [(str(row["size"]), row[measure]) for row in product.size_chart or ()
                     if row.get(measure)]
            if not sizes:
                missing.append(measure)
                continue
            joined = series((f"{size} {float(value):g}cm" for size, value in sizes), lang)
            lines.append(self._say("measure_sizes", lang, product=title, sizes=joined,
                                   measure=self._measure_names([measure], lang)))
        if missing:
            lines.append(self._say("measure_unknown", lang, product=title,
                                   measure=self._measure_names(missing, lang)))
        return lines

    def _price_line(self, product: Product, asked: Asked, lang: str, now: datetime) -> str:
        variants = _matching(product.variants, asked) or product.variants
        title = self._title(product, lang)
        promo = [v for v in variants if promo_active(v, now)]
        if promo:
            best = min(promo, key=lambda v: v.promo_price_cents or 0)
            ends = best.promo_ends_at
            return self._say("product_promo", lang, product=title,
                             price=money(best.price_cents, lang),
                             promo_price=money(best.promo_price_cents or 0, lang),
                             promo_end=_day(ends, lang, self.knowledge) if ends else None)
        return self._say("product_price", lang, product=title,
                         price=self._price_text(product, now, variants))

    def _stock_line(self, product: Product, asked: Asked, lang: str) -> str:
        title = self._title(product, lang)
        options = _options(product.variants, lang)
        wanted = _matching(product.variants, asked)
        if asked.size or asked.colour:
            label = " ".join(x for x in (asked.colour, asked.size) if x)
            if any(v.stock > 0 for v in wanted):
                return self._say("product_in_stock", lang, product=title, variant=label)
            if not options:
                return self._say("product_sold_out", lang, product=title)
            dates = [v.restock_at for v in wanted if v.restock_at is not None]
            restock = _day(min(dates), lang, self.knowledge) if dates else None
            return self._say("product_restock", lang, *(("restock_date",) if restock else ()),
                             product=title, variant=label, restock=restock, options=options)
        if not options:
            return self._say("product_sold_out", lang, product=title)
        return self._say("product_options", lang, product=title, options=options)

    def card(self, product: Product, lang: str, now: datetime) -> Reply:
        """A product's summary: price, material, fit, what is in stock; its photo; buttons."""
        fit = FIT_NAMES.get(lang, FIT_NAMES["en"]).get(product.fit, product.fit)
        text, key = self._phrase(
            "product_card", lang, product=self._title(product, lang),
            price=self._price_text(product, now), material=_of(product.material, lang),
            fit=fit, options=_options(product.variants, lang) or "—")
        rows = ((Button(self._say("product_button", lang, "sizes")[:60],
                        callbacks.product("sizes", product.id)),),
                (Button(self._human_label(lang), callbacks.ASK_HUMAN),))
        photos = (Photo(product.photos[0]),) if product.photos else ()
        return Reply(text, rows, key, photos=photos)

    def _price_text(self, product: Product, now: datetime,
                    variants: Sequence[ProductVariant] | None = None) -> str:
        prices = sorted({price_now(v, now) for v in (variants or product.variants)})
        if not prices:
            return ""
        low, high = money(prices[0], "zh"), money(prices[-1], "zh")
        return low if low == high else f"{low}–{high}"

    def title_of(self, product: Product, lang: str) -> str:
        return self._title(product, lang)

    def price_text(self, product: Product, now: datetime) -> str:
        return self._price_text(product, now)

    def phrase(self, situation: str, lang: str, *tags: str, **values: object,
               ) -> tuple[str, str]:
        return self._phrase(situation, lang, *tags, **values)

    def _title(self, product: Product, lang: str) -> str:
        return (product.title_zh if lang == "zh" else product.title_en) or product.title_zh \
            or product.title_en

    def _human_label(self, lang: str) -> str:
        """The person button's label: the phrase the conversation service uses too."""
        return say(self.knowledge.catalogue, "human_button", lang)[0]

    def _phrase(self, situation: str, lang: str, *tags: str, **values: object,
                ) -> tuple[str, str]:
        return product_say(self.knowledge.catalogue, situation, lang, *tags, values=values)

    def _say(self, situation: str, lang: str, *tags: str, **values: object) -> str:
        return self._phrase(situation, lang, *tags, **values)[0]


# ---------------------------------------------------------------------- helpers
def _record(repo: Repo, kind: str, *, conversation_id: int, at: datetime, **data: object) -> None:
    """An event for the reports, written with the reply's commit (no flush before sending)."""
    repo.session.add(Event(kind=kind, conversation_id=conversation_id, at=at, data=data))


def _size_like(text: str, norm: str) -> bool:
    return bool(MULTI_LETTER_SIZE.search(norm) or SIZE_WITH_WORD.search(norm)
                or ONE_LETTER_SIZE.search(unicodedata.normalize("NFKC", text)))


def _of(texts: dict[str, str], lang: str) -> str:
    return texts.get(lang) or texts.get("zh") or texts.get("en") or ""


def _in_stock(variants: Sequence[ProductVariant]) -> bool:
    return any(v.stock > 0 for v in variants)


def _matching(variants: Sequence[ProductVariant], asked: Asked) -> list[ProductVariant]:
    out = list(variants)
    if asked.size:
        out = [v for v in out if v.size.upper() == asked.size]
    if asked.colour:
        out = [v for v in out if asked.colour in (v.colour or {}).values()]
    return out if (asked.size or asked.colour) else []


def _options(variants: Sequence[ProductVariant], lang: str) -> str:
    """'S, M, L（白色）; M（燕麦色）' — sizes in stock per colour."""
    by_colour: dict[str, list[str]] = {}
    for v in variants:
        if v.stock > 0:
            by_colour.setdefault(_of(v.colour or {}, lang), []).append(v.size or "—")
    if lang == "zh":
        parts = [f"{', '.join(s)}（{c}）" if c else ", ".join(s) for c, s in by_colour.items()]
        return "；".join(parts)
    parts = [f"{', '.join(s)} ({c})" if c else ", ".join(s) for c, s in by_colour.items()]
    return "; ".join(parts)


def _size_in(text: str, norm: str, sizes: set[str]) -> str | None:
    """A size the product has, named in the message: XL, 'M码', 'size m', a capital M."""
    found: list[str] = [m.group(1).upper() for m in MULTI_LETTER_SIZE.finditer(norm)]
    found += [(m.group(1) or m.group(2)).upper() for m in SIZE_WITH_WORD.finditer(norm)]
    found += [m.group(1) for m in ONE_LETTER_SIZE.finditer(unicodedata.normalize("NFKC", text))]
    for size in found:
        if size in sizes:
            return size
    return None


def _day(at: datetime, lang: str, knowledge: KnowledgeBase) -> str:
    local = at.astimezone(knowledge.settings.tz)
    return f"{local.month}月{local.day}日" if lang == "zh" else local.strftime("%-d %B")
