"""Loading the catalogue (P5: know every product before it goes on sale): CSV, JSON, HTTP post.

Like the order import, every row is checked first; one bad row means nothing is written, and
each problem is reported with its line (CSV) or item number (JSON). Good input is applied in
the caller's transaction. Importing the same file again updates products (by ``code``) and
variants (by ``sku``); variants not in the file are left as they are.

CSV: one row per variant. Required: ``code``, ``sku``. Product columns (given on any row of the
product, the first value wins): title_zh, title_en, aliases, material_zh, material_en, care_zh,
care_en, fit (slim/regular/loose or 修身/常规/宽松), season, tags, size_chart, photos, related,
sales, active. Variant columns: size, colour_zh, colour_en, price, promo_price, promo_ends,
stock, restock_at. Lists are separated by ``|``; a size chart is ``S:150-160/40-50|M:…``
(height cm / weight kg). Prices are in the shop's currency (``99.00``).

JSON: a list of products (or ``{"products": [...]}``) with the same keys, ``title``,
``material``, ``care`` as ``{"zh", "en"}`` or separate keys, ``size_chart`` as
``[{"size", "height": [min, max], "weight": [min, max]}]`` (optionally garment measures in cm:
``length``, ``chest``, ``shoulder``, ``sleeve``, ``waist``, ``hip``) and ``variants``: a list of
``{"sku", "size", "colour" ({"zh", "en"} or text), "price", "promo_price", "promo_ends",
"stock", "restock_at"}``.

Stock and price updates (``POST /catalogue/stock``): a list of ``{"sku", "stock", "price",
"promo_price", "promo_ends", "restock_at"}``; ``null`` clears a promotion or restock date.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.services import audit
from bot.services.products.photos import is_local, stored_name
from phrases.refused import Refused
from storage.base import utcnow
from storage.models.products import ProductVariant
from storage.repositories import Repo
from storage.repositories.products import later

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FITS = {"slim": "slim", "regular": "regular", "loose": "loose", "修身": "slim",
        "常规": "regular", "标准": "regular", "宽松": "loose", "oversize": "loose",
        "oversized": "loose", "relaxed": "loose"}
# Garment measures a JSON size-chart row may add, flat in cm (衣长 胸围 肩宽 袖长 腰围 臀围).
MEASURES = ("length", "chest", "shoulder", "sleeve", "waist", "hip")
CHART_ROW = re.compile(
    r"^\s*([^:：]{1,16})[:：]\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*/\s*"
    r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
PRODUCT_FIELDS = ("title_zh", "title_en", "aliases", "material", "care", "fit", "season",
                  "tags", "size_chart", "photos", "related", "sales", "active")
UNSET: Any = object()  # a JSON update's key was absent (``None`` means: clear it)


class CatalogueFileError(Exception):
    """The input could not be read at all (not a CSV/JSON file, unreadable)."""


def errors_text(result: CatalogueImport) -> list[str]:
    """The problems in English, for the command line, the shop system's API and the log
    (the owner in Telegram reads them in their own language)."""
    from phrases.catalogue import PhraseCatalogue
    from phrases.staff import StaffWords

    return StaffWords(PhraseCatalogue.builtin(), "en").whys(result.errors)


def _shown(value: str | None) -> str:
    """A value as the file had it, quoted; "—" when there was none."""
    return "—" if value is None else repr(value)


def _line(number: int) -> Refused:
    """Where a problem is, in words staff read: a CSV line (staff phrase catalogue.where.*)."""
    return Refused("catalogue.where.line", line=number)


def _item(number: int, variant: int | None = None) -> Refused:
    """A JSON item, or one of its variants."""
    if variant is None:
        return Refused("catalogue.where.item", item=number)
    return Refused("catalogue.where.variant", item=number, variant=variant)


@dataclass
class VariantIn:
    sku: str
    where: Refused
    size: str | None = None
    colour: dict[str, str] | None = None
    price_cents: int | None = None
    promo_price_cents: Any = UNSET  # int, None (clear) or UNSET
    promo_ends_at: Any = UNSET
    stock: int | None = None
    restock_at: Any = UNSET


@dataclass
class ProductIn:
    """One checked product; ``None`` fields were not given and leave the stored value alone."""

    code: str
    where: Refused
    title_zh: str | None = None
    title_en: str | None = None
    aliases: list[str] | None = None
    material: dict[str, str] | None = None
    care: dict[str, str] | None = None
    fit: str | None = None
    season: str | None = None
    tags: list[str] | None = None
    size_chart: list[dict[str, Any]] | None = None
    photos: list[str] | None = None
    related: list[str] | None = None
    sales: int | None = None
    active: bool | None = None
    variants: list[VariantIn] = field(default_factory=list)


@dataclass
class CatalogueImport:
    products: list[ProductIn] = field(default_factory=list)
    updates: list[VariantIn] = field(default_factory=list)  # stock/price updates by SKU
    # Each problem as a staff phrase (catalogue.err.*) with where it is: the owner reads it
    # in their language (StaffWords.why), the command line and the API in English.
    errors: list[Refused] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    variants: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------- field checks
def _text(value: Any, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in re.split(r"[|;；]", str(value)) if part.strip()]


def _bilingual(value: Any, zh: Any = None, en: Any = None) -> dict[str, str] | None:
    """``{"zh", "en"}`` from a mapping, a plain text (both languages) or two columns."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        zh, en = value.get("zh", zh), value.get("en", en)
    elif _text(value):
        zh = zh or value
        en = en or value
    for lang, text in (("zh", _text(zh, 500)), ("en", _text(en, 500))):
        if text:
            out[lang] = text
    return out or None


def _money(value: Any, name: str, where: Refused, errors: list[Refused]) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        amount = Decimal(text.lstrip("¥￥$"))
        if amount < 0 or not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors.append(Refused("catalogue.err.amount", where=where, name=name, value=repr(text)))
        return None
    return int((amount * 100).to_integral_value())


def _count(value: Any, name: str, where: Refused, errors: list[Refused]) -> int | None:
    text = _text(value)
    if text is None:
        return None
    if not re.fullmatch(r"\d{1,9}", text):
        errors.append(Refused("catalogue.err.count", where=where, name=name, value=repr(text)))
        return None
    return int(text)


def _when(value: Any, name: str, where: Refused, errors: list[Refused],
          tz: ZoneInfo) -> datetime | None:
    """ISO 8601; a bare date means the end of that day in the shop's time zone."""
    text = _text(value)
    if text is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, time(23, 59, 59), tz)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        errors.append(Refused("catalogue.err.when", where=where, name=name, value=repr(text)))
        return None
    return at if at.tzinfo else at.replace(tzinfo=tz)


def _chart(value: Any, where: Refused, errors: list[Refused]) -> list[dict[str, Any]] | None:
    if value in (None, "", []):
        return None
    rows: list[dict[str, Any]] = []
    items = value if isinstance(value, list) else _list(value)
    for item in items:
        try:
            measures: dict[str, float] = {}
            if isinstance(item, dict):
                size = str(item["size"]).strip().upper()
                height = [float(x) for x in item["height"]]
                weight = [float(x) for x in item["weight"]]
                measures = {key: float(item[key]) for key in MEASURES if key in item}
            else:
                match = CHART_ROW.match(str(item))
                if match is None:
                    raise ValueError
                size = match.group(1).strip().upper()
                height = [float(match.group(2)), float(match.group(3))]
                weight = [float(match.group(4)), float(match.group(5))]
            if (not size or len(height) != 2 or len(weight) != 2 or height[0] > height[1]
                    or weight[0] > weight[1] or not 50 <= height[0] <= 250
                    or not 2 <= weight[0] <= 300
                    or not all(1 <= v <= 300 for v in measures.values())):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            errors.append(Refused("catalogue.err.chart", where=where, value=repr(item)[:80]))
            return None
        rows.append({"size": size, "height": height, "weight": weight, **measures})
    return rows


def _photos(value: Any, where: Refused, errors: list[Refused],
            base: Path | None) -> list[str] | None:
    """Picture files must exist (relative to the catalogue file's folder); they are stored
    relative to that folder (``photos.stored_name``), not as this machine's absolute path."""
    if value in (None, "", []):
        return None
    out = []
    for item in _list(value):
        if is_local(item):
            path = Path(item)
            if not path.is_absolute() and base is not None:
                path = base / path
            if not path.is_file():
                errors.append(Refused("catalogue.err.photo", where=where, value=repr(item)))
                continue
            item = stored_name(path, base)
        out.append(item)
    return out


def check_variant(
    raw: dict[str, Any], where: Refused, tz: ZoneInfo, *, nulls_clear: bool = False,
) -> tuple[VariantIn | None, list[Refused]]:
    """One variant (CSV row part, JSON variant or stock update) or the reasons it is wrong."""
    errors: list[Refused] = []
    sku = _text(raw.get("sku"), 64)
    if sku is None or not CODE.match(sku):
        return None, [Refused("catalogue.err.sku", where=where, value=_shown(sku))]
    variant = VariantIn(sku=sku, where=where)
    size = _text(raw.get("size"), 16)
    variant.size = size.upper() if size else None
    variant.colour = _bilingual(raw.get("colour"), raw.get("colour_zh"), raw.get("colour_en"))
    variant.price_cents = _money(raw.get("price"), "price", where, errors)
    variant.stock = _count(raw.get("stock"), "stock", where, errors)
    for key, attr, parse in (
        ("promo_price", "promo_price_cents",
         lambda v: _money(v, "promo_price", where, errors)),
        ("promo_ends", "promo_ends_at", lambda v: _when(v, "promo_ends", where, errors, tz)),
        ("restock_at", "restock_at", lambda v: _when(v, "restock_at", where, errors, tz)),
    ):
        if key not in raw:
            continue
        value = parse(raw[key])
        if value is not None:
            setattr(variant, attr, value)
        elif nulls_clear and raw[key] in (None, ""):
            setattr(variant, attr, None)
    if (isinstance(variant.promo_price_cents, int) and variant.price_cents is not None
            and variant.promo_price_cents > variant.price_cents):
        errors.append(Refused("catalogue.err.promo", where=where))
    return (None if errors else variant), errors


def check_product(
    raw: dict[str, Any], where: Refused, base: Path | None,
) -> tuple[ProductIn | None, list[Refused]]:
    """The product part of a CSV row or JSON item, or the reasons it is wrong."""
    errors: list[Refused] = []
    code = _text(raw.get("code"), 64)
    if code is None or not CODE.match(code):
        return None, [Refused("catalogue.err.code", where=where, value=_shown(code))]
    product = ProductIn(code=code, where=where)
    title = raw.get("title")
    titles = title if isinstance(title, dict) else {}
    product.title_zh = _text(raw.get("title_zh") or titles.get("zh"))
    product.title_en = _text(raw.get("title_en") or titles.get("en"))
    if raw.get("aliases") not in (None, ""):
        product.aliases = [a[:100] for a in _list(raw["aliases"])]
    product.material = _bilingual(raw.get("material"), raw.get("material_zh"),
                                  raw.get("material_en"))
    product.care = _bilingual(raw.get("care"), raw.get("care_zh"), raw.get("care_en"))
    fit = _text(raw.get("fit"))
    if fit is not None:
        product.fit = FITS.get(fit.lower())
        if product.fit is None:
            errors.append(Refused("catalogue.err.fit", where=where, value=repr(fit)))
    product.season = _text(raw.get("season"), 32)
    if raw.get("tags") not in (None, ""):
        product.tags = [t.lower()[:40] for t in _list(raw["tags"])]
    product.size_chart = _chart(raw.get("size_chart"), where, errors)
    product.photos = _photos(raw.get("photos"), where, errors, base)
    if raw.get("related") not in (None, ""):
        product.related = _list(raw["related"])
    product.sales = _count(raw.get("sales"), "sales", where, errors)
    active = _text(raw.get("active"))
    if active is not None:
        product.active = active.lower() not in ("0", "false", "no", "否", "下架")
    return (None if errors else product), errors


def _merge(into: ProductIn, other: ProductIn) -> None:
    """A later CSV row of the same product fills what earlier rows left empty."""
    for name in PRODUCT_FIELDS:
        if getattr(into, name) is None and getattr(other, name) is not None:
            setattr(into, name, getattr(other, name))


# ---------------------------------------------------------------------- formats
def parse_csv(text: str, tz: ZoneInfo, base: Path | None = None) -> CatalogueImport:
    result = CatalogueImport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    names = [(f or "").strip() for f in reader.fieldnames or []]
    if "code" not in names or "sku" not in names:
        result.errors.append(Refused("catalogue.err.header", where=_line(1)))
        return result
    by_code: dict[str, ProductIn] = {}
    skus: dict[str, Refused] = {}
    for row in reader:
        where = _line(reader.line_num)
        if None in row:
            result.errors.append(Refused("catalogue.err.columns", where=where))
            continue
        clean = {(k or "").strip(): v for k, v in row.items()}
        if not any((v or "").strip() for v in clean.values()):
            continue
        product, errors = check_product(clean, where, base)
        variant, variant_errors = check_variant(clean, where, tz)
        result.errors += errors + variant_errors
        if product is None or variant is None:
            continue
        if variant.sku in skus:
            result.errors.append(Refused("catalogue.err.repeat", where=where, sku=variant.sku,
                                         first=skus[variant.sku]))
            continue
        skus[variant.sku] = where
        known = by_code.get(product.code)
        if known is None:
            by_code[product.code] = known = product
            result.products.append(product)
        else:
            _merge(known, product)
        known.variants.append(variant)
    return result


def parse_json(data: Any, tz: ZoneInfo, base: Path | None = None) -> CatalogueImport:
    result = CatalogueImport()
    if isinstance(data, dict):
        data = data.get("products", [data])
    if not isinstance(data, list):
        result.errors.append(Refused("catalogue.err.list", where=_item(1)))
        return result
    skus: dict[str, Refused] = {}
    for number, item in enumerate(data, 1):
        where = _item(number)
        if not isinstance(item, dict):
            result.errors.append(Refused("catalogue.err.object", where=where))
            continue
        product, errors = check_product(item, where, base)
        result.errors += errors
        variants = item.get("variants") or []
        if not isinstance(variants, list):
            result.errors.append(Refused("catalogue.err.variants", where=where))
            continue
        for v_number, raw in enumerate(variants, 1):
            v_where = _item(number, v_number)
            if not isinstance(raw, dict):
                result.errors.append(Refused("catalogue.err.object", where=v_where))
                continue
            variant, v_errors = check_variant(raw, v_where, tz)
            result.errors += v_errors
            if variant is None or product is None:
                continue
            if variant.sku in skus:
                result.errors.append(Refused("catalogue.err.repeat", where=v_where,
                                             sku=variant.sku, first=skus[variant.sku]))
                continue
            skus[variant.sku] = v_where
            product.variants.append(variant)
        if product is not None:
            result.products.append(product)
    return result


def parse_updates(data: Any, tz: ZoneInfo) -> CatalogueImport:
    """Stock/price updates by SKU (the shop system's endpoint)."""
    result = CatalogueImport()
    if isinstance(data, dict):
        data = data.get("variants", data.get("updates", [data]))
    if not isinstance(data, list):
        result.errors.append(Refused("catalogue.err.updates", where=_item(1)))
        return result
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            result.errors.append(Refused("catalogue.err.object", where=_item(number)))
            continue
        variant, errors = check_variant(item, _item(number), tz, nulls_clear=True)
        result.errors += errors
        if variant is not None:
            result.updates.append(variant)
    return result


def parse_bytes(name: str, content: bytes, tz: ZoneInfo, base: Path | None = None,
                ) -> CatalogueImport:
    """A file by name and content (command line or a document the owner sent)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CatalogueFileError(f"{name}: not UTF-8 text") from error
    suffix = Path(name).suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CatalogueFileError(f"{name}: line {error.lineno}: not valid JSON") from error
        return parse_json(data, tz, base)
    if suffix == ".csv":
        return parse_csv(text, tz, base)
    raise CatalogueFileError(f"{name}: expected a .csv or .json file")


def parse_file(path: Path, tz: ZoneInfo) -> CatalogueImport:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise CatalogueFileError(f"{path}: cannot read: {error}") from error
    return parse_bytes(path.name, content, tz, base=path.parent)


# ---------------------------------------------------------------------- writing
async def apply(repo: Repo, result: CatalogueImport, now: datetime | None = None,
                ) -> CatalogueImport:
    """Writes checked products in the caller's transaction (the caller commits once).

    What needs the database is checked before anything is written: a new product needs a
    title, a new variant a price; a problem here also means nothing is written.
    """
    if not result.ok:
        return result
    now = now or utcnow()
    existing = await repo.products.by_codes(p.code for p in result.products)
    variants = await repo.products.variants_by_sku(
        v.sku for p in result.products for v in p.variants)
    for incoming in result.products:
        if incoming.code not in existing and not (incoming.title_zh or incoming.title_en):
            result.errors.append(Refused("catalogue.err.title", where=incoming.where,
                                         code=incoming.code))
        for v in incoming.variants:
            if v.sku not in variants and v.price_cents is None:
                result.errors.append(Refused("catalogue.err.price", where=v.where, sku=v.sku))
    if not result.ok:
        return result
    fresh = [p for p in result.products if p.code not in existing]
    if fresh:  # new products and their new SKUs: two bulk INSERTs (10,000 rows in seconds)
        ids = await repo.products.insert_products([_new_product(p, now) for p in fresh])
        rows = [{"product_id": ids[p.code], **_new_variant(v)}
                for p in fresh for v in p.variants if v.sku not in variants]
        await repo.products.insert_variants(rows)
        result.created += len(fresh)
        result.variants += len(rows)
        fresh_codes = {p.code for p in fresh}
        existing.update(await repo.products.by_codes(
            {p.code for p in fresh if any(v.sku in variants for v in p.variants)}))
    else:
        fresh_codes = set()
    left: set[int] = set()
    for incoming in result.products:
        if incoming.code in fresh_codes:
            moved = [v for v in incoming.variants if v.sku in variants]
            if not moved:
                continue
            product = existing[incoming.code]  # a new product taking over existing SKUs
            incoming = ProductIn(code=incoming.code, where=incoming.where, variants=moved)
        else:
            product = existing[incoming.code]
            result.updated += 1
        for name in PRODUCT_FIELDS:
            value = getattr(incoming, name)
            if value is not None:
                setattr(product, name, value)
        product.updated_at = later(product.updated_at, now)
        for v in incoming.variants:
            variant = variants.get(v.sku)
            if variant is None:
                variant = ProductVariant(sku=v.sku, colour={})
                variants[v.sku] = variant
                product.variants.append(variant)
            elif variant.product_id != product.id:
                left.add(variant.product_id)  # the product it left changed too
                variant.product = product  # the SKU moved to another product
            _update_variant(variant, v)
            result.variants += 1
    await repo.products.changed(left, now)
    await repo.products.flush()
    return result


async def apply_updates(repo: Repo, result: CatalogueImport, now: datetime | None = None,
                        ) -> CatalogueImport:
    """Stock/price updates; an unknown SKU is an error and nothing is written."""
    if not result.ok:
        return result
    variants = await repo.products.variants_by_sku(v.sku for v in result.updates)
    result.errors += [Refused("catalogue.err.unknown_sku", where=v.where, sku=v.sku)
                      for v in result.updates if v.sku not in variants]
    if not result.ok:
        return result
    for update in result.updates:
        _update_variant(variants[update.sku], update)
        result.variants += 1
    # Stock and price are the product's too: its copy held in every process is now stale.
    await repo.products.changed({variants[u.sku].product_id for u in result.updates},
                                now or utcnow())
    await repo.products.flush()
    return result


def _new_product(incoming: ProductIn, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {"code": incoming.code, "aliases": [], "material": {}, "care": {},
                           "tags": [], "size_chart": [], "photos": [], "related": [],
                           "title_zh": "", "title_en": "", "fit": "regular", "season": "",
                           "sales": 0, "active": True, "updated_at": now}
    row.update({name: getattr(incoming, name) for name in PRODUCT_FIELDS
                if getattr(incoming, name) is not None})
    return row


def _new_variant(incoming: VariantIn) -> dict[str, Any]:
    def given(value: Any) -> Any:
        return None if value is UNSET else value

    return {"sku": incoming.sku, "size": incoming.size or "", "colour": incoming.colour or {},
            "price_cents": incoming.price_cents or 0, "stock": incoming.stock or 0,
            "promo_price_cents": given(incoming.promo_price_cents),
            "promo_ends_at": given(incoming.promo_ends_at),
            "restock_at": given(incoming.restock_at)}


def _update_variant(variant: ProductVariant, incoming: VariantIn) -> None:
    for name in ("size", "colour", "price_cents", "stock"):
        value = getattr(incoming, name)
        if value is not None:
            setattr(variant, name, value)
    for name in ("promo_price_cents", "promo_ends_at", "restock_at"):
        value = getattr(incoming, name)
        if value is not UNSET:
            setattr(variant, name, value)
    if variant.stock is None:
        variant.stock = 0
    if variant.size is None:
        variant.size = ""


def promo_active(variant: ProductVariant, now: datetime) -> bool:
    """A promotional price counts until its end (no end: until the shop removes it)."""
    return (variant.promo_price_cents is not None
            and (variant.promo_ends_at is None or variant.promo_ends_at > now))


def price_now(variant: ProductVariant, now: datetime) -> int:
    return variant.promo_price_cents if promo_active(variant, now) else variant.price_cents  # type: ignore[return-value]


__all__ = ["CatalogueFileError", "CatalogueImport", "apply", "apply_updates", "parse_bytes",
           "parse_csv", "parse_file", "parse_json", "parse_updates"]


async def import_from_owner(
    repo: Repo, owner_id: int, name: str, content: bytes, tz: ZoneInfo,
) -> CatalogueImport:
    """A file the owner sent in Telegram: all or nothing, recorded as an owner change."""
    try:
        result = await asyncio.to_thread(parse_bytes, name, content, tz)  # off the event loop
    except CatalogueFileError as error:
        return CatalogueImport(errors=[str(error)])
    await apply(repo, result)
    if not result.ok:
        await repo.session.rollback()
        return result
    await audit.record(repo, owner_id, "catalogue_import", file=name,
                       products=len(result.products), variants=result.variants)
    await repo.commit()
    return result
