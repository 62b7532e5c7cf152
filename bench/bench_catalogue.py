"""Catalogue speed (target: product lookup and size advice p99 ≤ 2 ms with 10,000 SKUs; import of
10,000 rows ≤ 10 s).

    python bench/bench_catalogue.py [--products 2000] [--queries 3000] [--db URL]

Builds a synthetic catalogue (2,000 products × 5 sizes = 10,000 SKUs, zh/en titles and
aliases made of material × garment × style words), imports it from a 10,000-row CSV into a
fresh database (SQLite file by default) and times:
  import     parse + check + write of the CSV in one transaction
  lookup     ProductIndex.find on shopper messages (exact zh, homophone typo, English with a
             letter typo, a message naming nothing)
  size       parse_body + pick_size on heights/weights in every form
  answer     the whole desk answer for a product question, database read included (for
             reference; the target is on lookup and size advice)
Each timing is shown as wall time and as the thread's CPU time: on a busy machine the wall
p99 mostly measures being preempted, the CPU p99 what the code costs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock
from bot.services.products import importer
from bot.services.products.desk import CatalogueDesk
from bot.services.products.index import ProductIndex
from bot.settings import load_settings
from phrases.sizing import parse_body, pick_size
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo

MATERIALS = [("亚麻", "linen"), ("纯棉", "cotton"), ("真丝", "silk"), ("羊毛", "wool"),
             ("牛仔", "denim"), ("灯芯绒", "corduroy"), ("雪纺", "chiffon"), ("针织", "knit"),
             ("羊绒", "cashmere"), ("天丝", "tencel")]
GARMENTS = [("衬衫", "shirt"), ("长裤", "trousers"), ("连衣裙", "dress"), ("外套", "jacket"),
            ("开衫", "cardigan"), ("半身裙", "skirt"), ("背心", "vest"), ("卫衣", "hoodie"),
            ("风衣", "trench coat"), ("短裤", "shorts")]
STYLES = [("宽松", "relaxed"), ("修身", "slim"), ("复古", "vintage"), ("通勤", "office"),
          ("休闲", "casual"), ("法式", "french"), ("简约", "minimal"), ("度假", "holiday"),
          ("文艺", "artsy"), ("经典", "classic"), ("轻薄", "light"), ("加厚", "thick"),
          ("条纹", "striped"), ("格纹", "checked"), ("印花", "printed"), ("刺绣", "embroidered"),
          ("高腰", "high-waist"), ("落肩", "drop-shoulder"), ("翻领", "lapel"),
          ("圆领", "crew-neck")]
SIZES = ["S", "M", "L", "XL", "XXL"]
CHART = "S:150-160/40-50|M:158-168/48-58|L:166-176/56-68|XL:174-186/66-80|XXL:182-195/78-95"
HOMOPHONES = {"亚": "压", "麻": "马", "衬": "趁", "衫": "杉", "裙": "群", "棉": "绵", "丝": "思"}


def catalogue_csv(products: int) -> tuple[str, list[tuple[str, str]]]:
    rows = ["code,sku,title_zh,title_en,aliases,size,colour_zh,colour_en,price,stock,fit,"
            "tags,size_chart"]
    names = []
    combos = [(s, m, g) for s in STYLES for m in MATERIALS for g in GARMENTS]
    random.Random(7).shuffle(combos)
    for number in range(products):
        style, material, garment = combos[number % len(combos)]
        series = number // len(combos)
        zh = f"{style[0]}{material[0]}{garment[0]}" + (f"{series + 1}号" if series else "")
        en = f"{style[1]} {material[1]} {garment[1]}" + (f" no {series + 1}" if series else "")
        names.append((zh, en))
        alias = f"{material[0]}{garment[0]}{number}"
        for size in SIZES:
            rows.append(f"P{number:05d},P{number:05d}-{size},{zh},{en},{alias},{size},白色,white,"
                        f"{99 + number % 400},{number % 7},regular,tag{number % 30},{CHART}")
    return "\n".join(rows) + "\n", names


def messages(names: list[tuple[str, str]], count: int) -> list[str]:
    rng = random.Random(11)
    out = []
    for i in range(count):
        zh, en = rng.choice(names)
        kind = i % 4
        if kind == 0:
            out.append(f"这款{zh}多少钱，有M码吗")
        elif kind == 1:
            typo = "".join(HOMOPHONES.get(ch, ch) for ch in zh)
            out.append(f"{typo}还有货吗")
        elif kind == 2:
            word = en.split()[-1]
            typo = en.replace(word, word[:2] + word[1:]) if len(word) > 3 else en
            out.append(f"how much is the {typo}?")
        else:
            out.append("请问什么时候发货呀，我比较急")
    return out


BODIES = ["我165 110斤穿什么码", "1米72 65公斤", "5ft6 130lbs", "身高158体重45", "180cm 75kg",
          "I'm 5'9\" and 160 lb", "1.65m 55kg", "我170 120"]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(name: str, samples: list[tuple[float, float]]) -> None:
    """Wall time (includes being preempted on a busy machine) and this thread's CPU time."""
    for label, values in (("wall", [w for w, _ in samples]), ("cpu", [c for _, c in samples])):
        ms = [v * 1000 for v in values]
        print(f"{name:8} {label:4} n={len(ms):5}  p50 {statistics.median(ms):6.3f} ms  "
              f"p99 {pct(ms, 0.99):6.3f} ms  max {max(ms):6.3f} ms")


def timed(samples: list[tuple[float, float]], started: tuple[float, float]) -> None:
    samples.append((time.perf_counter() - started[0], time.thread_time() - started[1]))


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        settings = load_settings({"DATABASE_URL": url})
        text, names = catalogue_csv(args.products)
        engine = create_engine(url)
        await migrate(engine)
        sessions = create_session_factory(engine)
        started = time.perf_counter()
        result = importer.parse_csv(text, settings.tz)
        parsed = time.perf_counter()
        async with sessions() as db:
            repo = Repo(db)
            await importer.apply(repo, result)
            assert result.ok, result.errors[:5]
            await repo.commit()
        done = time.perf_counter()
        print(f"import   {text.count(chr(10)) - 1} rows ({len(result.products)} products): "
              f"{done - started:.2f} s (parse+check {parsed - started:.2f} s, "
              f"write {done - parsed:.2f} s)")
        async with sessions() as db:
            repo = Repo(db)
            products = await repo.products.active()
            started = time.perf_counter()
            index = ProductIndex(products)
            print(f"index    {len(index.names)} names built in "
                  f"{time.perf_counter() - started:.2f} s")
            queries = messages(names, args.queries)
            for query in queries[:200]:  # warm caches (pypinyin)
                index.find(query)
            gc.collect()
            gc.freeze()  # as the runner does after start-up: long-lived objects left alone
            samples: list[tuple[float, float]] = []
            found = 0
            for query in queries:
                t0 = clocks()
                hits = index.find(query)
                timed(samples, t0)
                found += bool(hits)
            show("lookup", samples)
            print(f"         named a product in {found}/{len(queries)} "
                  f"(3 of 4 kinds name one)")
            chart = products[0].size_chart
            samples = []
            for i in range(args.queries):
                t0 = clocks()
                pick_size(chart, parse_body(BODIES[i % len(BODIES)]))
                timed(samples, t0)
            show("size", samples)
            from bot.services.knowledge import KnowledgeBase
            from storage.models import Conversation, Customer

            knowledge = KnowledgeBase(settings)
            desk = CatalogueDesk(knowledge, SystemClock())
            await desk.reload(repo)
            customer = Customer(id=1, telegram_user_id=1, chat_id=1, name="bench")
            conversation = Conversation(id=1, customer_id=1, language="zh")
            samples = []
            now = SystemClock().now()
            for query in queries[: min(1000, len(queries))]:
                t0 = clocks()
                await desk.answer(repo, customer, conversation, query, now)
                timed(samples, t0)
                db.expunge_all()  # no identity-map hits: every answer reads its product
            show("answer", samples)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
