"""Turn the clean world into the files the source systems send, with defects beside them.

Each entity is written as its source would send it (CSV change records, JSON-lines events,
Parquet snapshots) under `landing/<domain>/<entity>/dt=YYYY-MM-DD/`. Defects are extra records
placed among the clean ones; every one is listed with its file, line and the rule it breaks,
so that tests can hold the quarantine to exactly that list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lanhai.contracts import Contract, contract
from lanhai.simulator import world as W
from lanhai.simulator.model import EVENT_TYPES, SHANGHAI_OFFSET, Clean

DEFAULT_DEFECTS = {
    "malformed": 0.0004,
    "missing_required": 0.0004,
    "type_mismatch": 0.0002,
    "unknown_enum": 0.0004,
    "out_of_range": 0.0004,
    "duplicates": 0.002,
    "late_events": 0.01,
    "late_users": 0.01,
    "late_files": 2,
    "schema_drift_files": 1,
}
# Which defects each entity can carry: rule -> (field, bad value)
DEFECT_SPECS = {
    "users": {"missing_required": ("phone", None), "unknown_enum": ("city_tier", "tier9"),
              "out_of_range": ("birth_year", "1850"), "type_mismatch": ("registered_at",
                                                                        "last tuesday"),
              "malformed": None},
    "merchants": {"unknown_enum": ("size", "MEGA"), "missing_required": ("city", None)},
    "skus": {"out_of_range": ("list_price", "-5.00"), "unknown_enum": ("currency", "XBT"),
             "missing_required": ("spu_id", None), "malformed": None},
    "orders": {"missing_required": ("user_id", None), "unknown_enum": ("channel", "tiktok_shop"),
               "out_of_range": ("items.unit_price", "-19.90"),
               "type_mismatch": ("created_at", "2024-13-45T25:61:00+08:00"), "malformed": None},
    "refunds": {"missing_required": ("amount", None), "out_of_range": ("amount", "-30.00"),
                "malformed": None},
    "shipments": {"out_of_range": ("logistics_cost_cny", "-8.50"),
                  "unknown_enum": ("carrier", "PIGEON"), "malformed": None},
    "inventory": {"out_of_range": ("qty_on_hand", -3)},
    "spend": {"out_of_range": ("amount_cny", "-120.00"), "unknown_enum": ("channel", "billboard"),
              "malformed": None},
    "fx_rates": {"type_mismatch": ("cny_per_unit", "7,12")},
    "assignments": {"unknown_enum": ("variant", "holdout"), "malformed": None},
    "exposures": {"missing_required": ("user_id", None), "type_mismatch": ("exposed_at",
                                                                          "yesterday")},
    "listing_audits": {"unknown_enum": ("defect_type", "smells_odd"), "malformed": None},
    "reviews": {"out_of_range": ("rating", "6"), "missing_required": ("sku_id", None),
                "malformed": None},
    "merchant_survey": {"out_of_range": ("score", "11")},
}
# Each entity's random stream (its defects, duplicates and landing order), by its place here:
# a new contract is added at the end, so that no earlier entity's files change.
STREAMS = ("categories", "fx_rates", "inventory", "merchants", "orders", "refunds", "shipments",
           "skus", "spend", "users", "warehouses", "assignments", "experiments", "exposures",
           "listing_audits", "merchant_survey", "reviews")
EXT = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


@dataclass
class Landed:
    """What was written: files per entity, defects, duplicates, drift and late files."""

    files: dict[str, list[str]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    defects: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    late_files: list[dict] = field(default_factory=list)
    late_references: list[dict] = field(default_factory=list)
    schema_drift: list[dict] = field(default_factory=list)


# --- vectorised formatting (Arrow compute kernels: no Python loop, no object arrays) ----------
STR = pa.large_string()  # 64-bit offsets: a large world's JSON lines pass 2 GB


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, STR)


def _join(*parts, sep: str = "") -> pa.Array:
    """Concatenate string arrays and literal strings row by row (null if any part is null)."""
    return pc.binary_join_element_wise(*[_s(p) if isinstance(p, str) else p for p in parts],
                                       _s(sep))


def _text(values) -> pa.Array:
    """Strings (an object array or a pandas column) as an Arrow string array."""
    return pa.array(np.asarray(values, dtype=object), type=STR)


def _names(names, codes) -> pa.Array:
    """Spell out codes (indexes into `names`) as text."""
    return _text(names).take(pa.array(np.asarray(codes, dtype=np.int64)))


def _int_text(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(STR)


@cache
def _clock() -> pa.Array:
    """"HH:MM:SS" for every second of a day, to look times up instead of formatting them."""
    sec = np.arange(86400)
    return _join(*[pc.utf8_lpad(_int_text(v), 2, "0")
                   for v in (sec // 3600, sec // 60 % 60, sec % 60)], sep=":")


def _dates(first: int, last: int) -> pa.Array:
    """"YYYY-MM-DD" of the epoch days first..last."""
    return pa.array(np.arange(first, last + 1), type=pa.int32()).cast(pa.date32()).cast(STR)


def fmt_ts(ts) -> pa.Array:
    """Epoch seconds -> ISO-8601 in Beijing time; negatives are null."""
    ts = np.asarray(ts, dtype=np.int64)
    missing = ts < 0
    local = np.where(missing, 0, ts) + SHANGHAI_OFFSET
    day, sec = np.divmod(local, 86400)
    first = int(day.min()) if len(day) else 0
    dates = _dates(first, int(day.max()) if len(day) else 0).take(pa.array(day - first))
    text = _join(dates, "T", _clock().take(pa.array(sec)), "+08:00")
    return pc.if_else(pa.array(missing), pa.scalar(None, STR), text) if missing.any() else text


def fmt_day(world: Clean, day) -> pa.Array:
    base = (world.start - date(1970, 1, 1)).days
    day = np.asarray(day, dtype=np.int64)
    if not len(day):
        return pa.array([], type=STR)
    first = int(day.min())
    return _dates(base + first, base + int(day.max())).take(pa.array(day - first))


def _fixed(units, width: int) -> pa.Array:
    """Integer units of 10**-width -> decimal text ("-12.05")."""
    u = np.asarray(units, dtype=np.int64)
    a = np.abs(u)
    text = _join(_int_text(a // 10**width), ".",
                 pc.utf8_lpad(_int_text(a % 10**width), width, "0"))
    return pc.if_else(pa.array(u < 0), _join("-", text), text)


def fmt_cents(cents) -> pa.Array:
    return _fixed(cents, 2)


def fmt_micro(micro) -> pa.Array:
    return _fixed(micro, 6)


def fmt_bool(b) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(b, dtype=bool)), _s("true"), _s("false"))


def _blank_to_none(values) -> pa.Array:
    col = pa.array(np.asarray(values, dtype=object), type=STR, from_pandas=True)
    return pc.if_else(pc.equal(col, _s("")), pa.scalar(None, STR), col)


@dataclass
class Rows:
    """An entity's records as its source sends them: Arrow columns in contract order (text,
    except the Parquet feed's own types), and per record its landing day, its position among
    the clean records and its defect (-1 clean, -2 duplicate, else an index into the kinds)."""

    cols: dict[str, pa.Array]
    day: np.ndarray
    pos: np.ndarray
    defect: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    def take(self, idx) -> Rows:
        idx = np.asarray(idx, dtype=np.int64)
        where = pa.array(idx)
        return Rows({k: v.take(where) for k, v in self.cols.items()}, self.day[idx].copy(),
                    self.pos[idx].copy(), self.defect[idx].copy())

    def to_pandas(self) -> pd.DataFrame:
        """A few records as a pandas frame, to break them one rule at a time."""
        frame = pd.DataFrame({k: v.to_numpy(zero_copy_only=False) for k, v in self.cols.items()})
        frame["_day"], frame["_pos"], frame["_defect"] = self.day, self.pos, self.defect
        return frame

    def like(self, frame: pd.DataFrame) -> Rows:
        """A pandas frame of this entity's records back as Rows with these columns' types."""
        cols = {k: (_text(frame[k]) if pa.types.is_large_string(v.type)
                    else pa.array(frame[k].to_numpy(), type=v.type))
                for k, v in self.cols.items()}
        return Rows(cols, frame["_day"].to_numpy(dtype=np.int64).copy(),
                    frame["_pos"].to_numpy(dtype=float).copy(),
                    frame["_defect"].to_numpy(dtype=np.int64).copy())

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        first = parts[0]
        return Rows({k: pa.concat_arrays([p.cols[k] for p in parts]) for k in first.cols},
                    np.concatenate([p.day for p in parts]),
                    np.concatenate([p.pos for p in parts]),
                    np.concatenate([p.defect for p in parts]))


def source_rows(world: Clean, entity: str, idx=None) -> Rows:
    """Return the entity's records (all, or those at positions `idx` of its clean table) as
    the strings its source sends, in contract order. A record's text does not depend on which
    others are formatted with it, so an entity can be written a slice at a time."""
    t = world.tables[entity]
    if idx is not None:
        idx = np.asarray(idx, dtype=np.int64)
        t = t.take(idx)
    if entity == "inventory":
        f = {"snapshot_date": fmt_day(world, t["snapshot_day"]),
             "sku_id": _names(world.extra["sku_ids"], t["_sku"]),
             "warehouse_id": _names(world.extra["inventory_warehouses"], t["_wh"]),
             "qty_on_hand": pa.array(t["qty_on_hand"].to_numpy(dtype=np.int64)),
             "exported_at": pa.array(t["exported_at"].to_numpy(dtype=np.int64))}
    elif entity == "users":
        f = {c: _text(t[c]) for c in ("user_id", "gender", "city", "city_tier",
                                      "acquisition_channel", "phone")}
        f.update(registered_at=fmt_ts(t["registered_at"]),
                 birth_year=_int_text(t["birth_year"]), is_pet_owner=fmt_bool(t["is_pet_owner"]),
                 id_card_no=_blank_to_none(t["id_card_no"]), email=_blank_to_none(t["email"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "merchants":
        f = {c: _text(t[c]) for c in ("merchant_id", "merchant_name", "size", "home_currency",
                                      "city")}
        closed = t["closed_day"].to_numpy()
        f.update(onboarded_at=fmt_day(world, t["onboarded_day"]),
                 closed_at=pc.if_else(pa.array(closed < 0), pa.scalar(None, STR),
                                      fmt_day(world, np.maximum(closed, 0))),
                 is_cross_border=fmt_bool(t["is_cross_border"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "categories":
        f = {c: _text(t[c]) for c in ("category_l2", "category_l1", "name_zh", "name_en")}
        f.update(is_smart_device=fmt_bool(t["is_smart_device"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "skus":
        f = {c: _text(t[c]) for c in ("sku_id", "spu_id", "merchant_id", "category_l1",
                                      "category_l2", "currency")}
        f.update(is_nonstandard=fmt_bool(t["is_nonstandard"]),
                 pilot_category=_blank_to_none(t["pilot_category"]),
                 green_certified=fmt_bool(t["green_certified"]),
                 condition_grade=_blank_to_none(t["condition_grade"]),
                 list_price=fmt_cents(t["list_price_cents"]),
                 unit_cost_cny=fmt_cents(t["unit_cost_cents"]), updated_at=fmt_ts(
                t["updated_at"]))
    elif entity == "orders":
        o = t["_o"].to_numpy(dtype=np.int64)
        orders = world.orders
        kind = _names(EVENT_TYPES, t["_kind"].to_numpy())
        order_id = _order_ids(o)
        f = {"event_id": _join("E", order_id, "-", kind), "event_type": kind, "status": kind,
             "order_id": order_id,
             "user_id": _names(world.extra["user_ids"], orders["user"].to_numpy()[o]),
             "merchant_id": _names(world.extra["m_ids"], orders["merchant"].to_numpy()[o]),
             "channel": _names(W.CHANNELS, orders["channel"].to_numpy()[o]),
             "currency": _names(world.extra["currencies"], orders["currency"].to_numpy()[o])}
        f.update(created_at=fmt_ts(t["created_at"]), paid_at=fmt_ts(t["paid_at"]),
                 cancelled_at=fmt_ts(t["cancelled_at"]), updated_at=fmt_ts(t["updated_at"]))
        f["items"] = _items_json(world, o)
    elif entity == "refunds":
        f = {c: _text(t[c]) for c in ("refund_id", "currency", "reason")}
        f.update(order_id=_order_ids(t["_o"].to_numpy()), amount=fmt_cents(t["amount_cents"]),
                 refunded_at=fmt_ts(t["refunded_at"]), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "shipments":
        f = {"shipment_id": _join("H", pc.utf8_lpad(_int_text(t["_sh"].to_numpy() + 1), 9, "0")),
             "order_id": _order_ids(t["_o"].to_numpy()),
             "warehouse_id": _names(world.extra["ship_warehouses"], t["_wh"]),
             "carrier": _names(world.extra["ship_carriers"], t["_carrier"])}
        f.update(shipped_at=fmt_ts(t["shipped_at"]), promised_at=fmt_ts(t["promised_at"]),
                 delivered_at=fmt_ts(t["delivered_at"]),
                 logistics_cost_cny=fmt_cents(t["logistics_cost_cents"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "warehouses":
        f = {c: _text(t[c]) for c in ("warehouse_id", "city", "country")}
        f.update(is_overseas=fmt_bool(t["is_overseas"]), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "spend":
        f = {c: _text(t[c]) for c in ("spend_id", "channel")}
        f.update(spend_date=fmt_day(world, t["spend_day"]),
                 pilot_category=_blank_to_none(t["pilot_category"]),
                 amount_cny=fmt_cents(t["amount_cents"]), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "experiments":
        f = {c: _text(t[c]) for c in ("experiment_id", "name")}
        f.update(planned_treatment_share=_fixed(t["planned_permille"], 3),
                 planned_users_per_variant=_int_text(t["planned_users_per_variant"]),
                 started_at=fmt_ts(t["started_at"]), ended_at=fmt_ts(t["ended_at"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity in ("assignments", "exposures"):
        f = {"experiment_id": _text(t["experiment_id"]),
             "user_id": _names(world.extra["user_ids"], t["_user"])}
        if entity == "assignments":
            f.update(variant=_text(t["variant"]), assigned_at=fmt_ts(t["assigned_at"]))
        else:
            f.update(exposed_at=fmt_ts(t["exposed_at"]))
    elif entity == "listing_audits":
        f = {"audit_id": _text(t["audit_id"]), "sku_id": _names(world.extra["sku_ids"], t["_sku"]),
             "audited_at": fmt_ts(t["audited_at"]),
             "matches_description": fmt_bool(t["matches_description"]),
             "defect_type": _blank_to_none(t["defect_type"].fillna("")),
             "updated_at": fmt_ts(t["updated_at"])}
    elif entity == "reviews":
        f = {"review_id": _text(t["review_id"]), "order_id": _order_ids(t["_o"].to_numpy()),
             "sku_id": _names(world.extra["sku_ids"], t["_sku"]),
             "rating": _int_text(t["rating"]),
             "review_text": _blank_to_none(t["review_text"].fillna("")),
             "created_at": fmt_ts(t["created_at"]), "updated_at": fmt_ts(t["updated_at"])}
    elif entity == "merchant_survey":
        f = {"merchant_id": _names(world.extra["m_ids"], t["_m"]), "quarter": _text(t["quarter"]),
             "score": _int_text(t["score"]), "submitted_at": fmt_ts(t["submitted_at"])}
    elif entity == "fx_rates":
        f = {"rate_date": fmt_day(world, t["rate_day"]), "currency": _text(t["currency"]),
             "cny_per_unit": fmt_micro(t["micro"]), "published_at": fmt_ts(t["published_at"])}
    else:
        raise KeyError(entity)
    n = len(t)
    return Rows({name: f[name] for name in contract(entity).names},
                t["_day"].to_numpy(dtype=np.int64).copy(),
                np.arange(n, dtype=float) if idx is None else idx.astype(float),
                np.full(n, -1, dtype=np.int64))


def _order_ids(o) -> pa.Array:
    """An order's id from its number: "O" and its 1-based sequence number in nine digits."""
    return _join("O", pc.utf8_lpad(_int_text(np.asarray(o, dtype=np.int64) + 1), 9, "0"))


def _items_json(world: Clean, o: np.ndarray) -> pa.Array:
    """Return the items of orders `o` (numbers, in any order) as JSON array texts, built
    without a Python loop."""
    line_o = world.items["o"].to_numpy()  # lines are sorted by order
    wanted, back = np.unique(o, return_inverse=True)
    lo = np.searchsorted(line_o, wanted)
    counts = np.searchsorted(line_o, wanted, side="right") - lo
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    at = np.arange(offsets[-1]) - np.repeat(offsets[:-1] - lo, counts)  # the lines' rows
    it = world.items.take(at)
    item_text = _join('{"line_no":', _int_text(it["line_no"]), ',"sku_id":"',
                      _names(world.extra["sku_ids"], it["sku"].to_numpy()), '","qty":',
                      _int_text(it["qty"]), ',"unit_price":', fmt_cents(it["price_cents"]),
                      ',"discount":', fmt_cents(it["discount_cents"]), "}")
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), item_text)
    return _join("[", pc.binary_join(lists, _s(",")), "]").take(pa.array(back))


def json_lines(rows: Rows, c: Contract) -> pa.Array:
    """Return one JSON object text per record, with its newline; numbers unquoted, nested
    items raw."""
    numeric = {f.name for f in c.fields if f.type in ("int", "long") or f.type.startswith(
        "decimal")}
    raw = {f.name for f in c.fields if f.is_nested}
    parts: list = []
    for i, f in enumerate(c.fields):
        col = rows.cols[f.name]
        val = col if f.name in raw or f.name in numeric else _join('"', col, '"')
        parts += [("{" if i == 0 else ",") + f'"{f.name}":', pc.fill_null(val, _s("null"))]
    return _join(*parts, "}\n")


def csv_lines(cols: dict[str, pa.Array], names: list[str]) -> pa.Array:
    """Return one CSV line per record, with its newline (values quoted only where needed)."""
    fields = []
    for n in names:
        col = pc.fill_null(cols[n], _s(""))
        needs = pc.match_substring_regex(col, r'[",\n]')
        fields.append(pc.if_else(needs, _join('"', pc.replace_substring(col, '"', '""'), '"'),
                                 col))
    fields[-1] = _join(fields[-1], "\n")
    return _join(*fields, sep=",")


# --- defects ----------------------------------------------------------------------------
def _bad_record(rows: pd.DataFrame, c: Contract, rule: str, counter: list[int]) -> pd.DataFrame:
    """Give copies of clean records new keys and break exactly one rule in each."""
    spec = DEFECT_SPECS.get(c.entity, {}).get(rule)
    n = len(rows)
    for k in c.key:
        if c.field(k).type == "string":
            rows[k] = [f"X{counter[0] + i:07d}{c.entity[:2].upper()}" for i in range(n)]
    if c.entity == "fx_rates":  # keyed by date and currency: move to a currency-free key
        rows["currency"] = "USD"
        rows["rate_date"] = [f"19{70 + (counter[0] + i) % 29}-01-0{1 + i % 9}" for i in range(n)]
    if c.entity == "inventory":
        rows["warehouse_id"] = [f"WH-X{counter[0] + i:05d}" for i in range(n)]
    counter[0] += n
    if rule == "malformed" or spec is None:
        return rows
    fld, value = spec
    if fld.startswith("items."):
        inner = fld.split(".", 1)[1]
        rows["items"] = [
            s.replace(f'"{inner}":', f'"{inner}":{value},"_was":', 1) for s in rows["items"]]
    else:
        rows[fld] = value
    return rows


def _malformed_lines(lines: list[str], fmt: str, rng: np.random.Generator) -> list[str]:
    """Break records the way real feeds do: a cut JSON line, a CSV row missing a field."""
    out = []
    for line in lines:
        if fmt == "jsonl":
            out.append(line[: max(10, int(len(line) * rng.uniform(0.3, 0.8)))])
        else:
            fields = line.split(",")
            drop = int(rng.integers(1, len(fields) - 1))
            out.append(",".join(fields[:drop] + fields[drop + 1:]))
    return out


def _write_bytes(path: Path, *chunks) -> None:
    """Write a file whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name("." + path.name + ".tmp")
    with tmp.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    os.replace(tmp, path)


def merge_landed(into: Landed, part: Landed) -> None:
    """Add one entity's files and lists to the whole landing's (in contract order)."""
    into.files.update(part.files)
    into.records.update(part.records)
    for name in ("defects", "duplicates", "late_files", "late_references", "schema_drift"):
        getattr(into, name).extend(getattr(part, name))


# Records formatted at a time (whole days): bounds a writer's memory at any scale; measured
# at medium, 200k records a chunk formats the orders in 4.5 s where 1M took 7.5 s (fewer page
# faults on big fresh buffers).
CHUNK_RECORDS = 200_000


def _clean_rows(world: Clean, entity: str, idx, day: np.ndarray) -> Rows:
    """The clean records at positions `idx`, landing on the days `day` gives them."""
    rows = source_rows(world, entity, idx)
    rows.day = day[np.asarray(idx, dtype=np.int64)].copy()
    return rows


def write_entity(world: Clean, landing: Path, defects: dict[str, float] | None, entity: str,
                 index: int, chunk_records: int = CHUNK_RECORDS) -> Landed:
    """Write one entity's files, with its defects beside the clean records.

    Each entity draws from its own random stream (the seed and the entity's place among the
    contracts), so entities can be written in any order, or at the same time. The landing
    order, the defects and the duplicates are decided for the whole entity first (numbers
    only); the text is then made and written `chunk_records` records (whole days) at a time,
    so the files are the same whatever the chunk size."""
    rates = {**DEFAULT_DEFECTS, **(defects or {})}
    rng = np.random.default_rng([world.seed + 1, index])
    landed = Landed()
    counter = [1]
    drift_entity = "users"
    c = contract(entity)
    table = world.tables[entity]
    n_clean = len(table)
    if n_clean == 0:  # a feed that sends nothing in this window (no experiment fits in it)
        landed.records[entity], landed.files[entity] = 0, []
        return landed
    clean_day = table["_day"].to_numpy(dtype=np.int64).copy()
    ext = EXT[c.format]
    # Late-arriving records: events exported the next day, users a day after their order.
    if entity == "orders" and rates["late_events"]:
        late = rng.random(n_clean) < rates["late_events"]
        late &= clean_day < world.days - 1
        clean_day[late] += 1
    if entity == "users" and rates["late_users"]:
        landed.late_references += _late_users(world, clean_day, rng, rates["late_users"])
    extra: list[Rows] = []
    kinds: list[tuple[str, str | None]] = []
    for rule in ("malformed", "missing_required", "type_mismatch", "unknown_enum",
                 "out_of_range"):
        if rule not in DEFECT_SPECS.get(entity, {}):
            continue
        n = max(1, int(round(n_clean * rates[rule]))) if rates[rule] else 0
        if n == 0:
            continue
        picked = _clean_rows(world, entity, rng.integers(0, n_clean, n), clean_day)
        bad = _bad_record(picked.to_pandas(), c, rule, counter)
        bad["_defect"] = len(kinds) + np.arange(n)
        spec = DEFECT_SPECS[entity][rule]
        kinds += [(rule, None if spec is None else spec[0].split(".")[0])] * n
        bad["_pos"] = bad["_pos"] + 0.5
        extra.append(picked.like(bad))
    if rates["duplicates"]:
        n = max(1, int(round(n_clean * rates["duplicates"])))
        dups = _clean_rows(world, entity, rng.choice(n_clean, n, replace=False), clean_day)
        shift = rng.integers(0, 3, n)
        dups.day = np.minimum(dups.day + shift, world.days - 1)
        dups.pos = np.where(shift == 0, dups.pos + 0.25, rng.uniform(0, n_clean, n))
        dups.defect[:] = -2
        extra.append(dups)
    # The landing order: by day, clean records in their order, defects and duplicates among
    # them (record numbers: below n_clean a clean record, else n_clean + its place in `bad`).
    bad = Rows.concat(extra) if extra else _clean_rows(world, entity, [], clean_day)
    day = np.concatenate([clean_day, bad.day])
    order = np.lexsort((np.concatenate([np.arange(n_clean, dtype=float), bad.pos]), day))
    days = day[order]
    final = np.empty(len(order), dtype=np.int64)  # each record's place in the landing order
    final[order] = np.arange(len(order))
    bad_at = final[n_clean:]
    del final, day
    bad_lines = None
    if c.format in ("jsonl", "csv"):
        bad_lines = json_lines(bad, c) if c.format == "jsonl" else csv_lines(bad.cols, c.names)
        mal = [int(i) for i in np.argsort(bad_at, kind="stable")
               if bad.defect[i] >= 0 and kinds[bad.defect[i]][0] == "malformed"]
        if mal:  # broken in landing order (each break draws from the stream)
            broken = _malformed_lines([x[:-1] for x in bad_lines.take(pa.array(mal)).to_pylist()],
                                      c.format, rng)
            mask = np.zeros(len(bad), dtype=bool)
            mask[mal] = True
            bad_lines = pc.replace_with_mask(
                bad_lines, pa.array(mask),
                pa.array([x + "\n" for x in np.array(broken, dtype=object)[
                    np.argsort(mal)]], type=STR))
    bounds = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64)
    ends = np.concatenate([bounds, [len(order)]]).astype(np.int64)
    drift_day = None
    if entity == drift_entity and rates["schema_drift_files"]:
        with_defects = set(bad.day.tolist())
        candidates = [int(days[s]) for s in starts
                      if 0 < days[s] < world.days - 1 and int(days[s]) not in with_defects]
        drift_day = candidates[len(candidates) // 2] if candidates else None
    late_days = set()
    if entity in ("orders", "shipments") and rates["late_files"]:
        pool = [int(days[s]) for s in starts if world.days // 3 < days[s] < world.days - 10]
        late_days = set(rng.choice(pool, size=min(int(rates["late_files"]), len(pool)),
                                   replace=False).tolist())
    header = (",".join(c.names) + "\n").encode() if c.format == "csv" else b""
    files = []
    first = 0  # the first day (file) of the next chunk
    while first < len(starts):
        last = first  # whole days, at least one, up to chunk_records records
        while last + 1 < len(starts) and ends[last + 1] - starts[first] <= chunk_records:
            last += 1
        lo, hi = int(starts[first]), int(ends[last])
        sel = order[lo:hi]
        is_clean = sel < n_clean
        clean_sel = sel[is_clean]
        # this chunk's records in landing order: its clean ones, then its bad ones, permuted
        perm = np.empty(len(sel), dtype=np.int64)
        perm[is_clean] = np.arange(len(clean_sel))
        perm[~is_clean] = len(clean_sel) + np.arange(len(sel) - len(clean_sel))
        bad_sel = pa.array(sel[~is_clean] - n_clean)
        clean_rows = _clean_rows(world, entity, clean_sel, clean_day)
        if c.format == "parquet":
            chunk = _inventory_table(Rows.concat([clean_rows, bad.take(sel[~is_clean] - n_clean)])
                                     .take(perm))
        else:
            clean_lines = (json_lines(clean_rows, c) if c.format == "jsonl" else
                           csv_lines(clean_rows.cols, c.names))
            lines = pa.concat_arrays([clean_lines, bad_lines.take(bad_sel)]).take(pa.array(perm))
            ends_at = np.frombuffer(lines.buffers()[1], dtype=np.int64)[
                lines.offset:lines.offset + len(lines) + 1]
            text = lines.buffers()[2]
        del clean_rows
        for k in range(first, last + 1):
            s, e = int(starts[k]) - lo, int(ends[k]) - lo
            day = int(days[lo + s])
            dt = (world.start + timedelta(days=day)).isoformat()
            rel = f"{c.domain}/{entity}/dt={dt}/part-00000.{ext}"
            path = landing / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if c.format == "parquet":
                tmp = path.with_name("." + path.name + ".tmp")
                pq.write_table(chunk.slice(s, e - s), tmp)
                os.replace(tmp, path)
            elif day == drift_day:  # a day of clean records only
                _write_drift_csv(_clean_rows(world, entity, sel[s:e], clean_day), c, path, rng,
                                 landed, rel)
            else:
                _write_bytes(path, header, text.slice(ends_at[s], ends_at[e] - ends_at[s]))
            files.append(rel)
            if day in late_days:
                landed.late_files.append({"entity": entity, "file": rel, "dt": dt,
                                          "arrives_after_days": 3})
        first = last + 1
    _list_flagged(bad, bad_at, c, files, starts, kinds, landed)
    landed.files[entity] = files
    landed.records[entity] = len(order)
    return landed


def _list_flagged(bad: Rows, at: np.ndarray, c: Contract, files: list[str], starts: np.ndarray,
                  kinds: list[tuple[str, str | None]], landed: Landed) -> None:
    """Every defect and duplicate written, with its file, line and key (the manifest's lists),
    in landing order; `at` is each one's place in the landing order."""
    if not len(bad):
        return
    by_place = np.argsort(at, kind="stable")
    bad, at = bad.take(by_place), at[by_place]
    file_no = np.searchsorted(starts, at, side="right") - 1
    lines = at - starts[file_no] + 1 + (1 if c.format == "csv" else 0)
    keys = {k: bad.cols[k].to_pylist() for k in c.key}
    version = bad.cols[c.version]
    if not pa.types.is_large_string(version.type):  # Parquet keeps epoch seconds here
        version = fmt_ts(version.to_numpy(zero_copy_only=False))
    versions = version.to_pylist()
    for i in range(len(bad)):
        key = {k: (None if keys[k][i] is None else str(keys[k][i])) for k in c.key}
        record = {"entity": c.entity, "file": files[file_no[i]], "line": int(lines[i])}
        if bad.defect[i] == -2:
            landed.duplicates.append({**record, "key": key, "version": versions[i]})
        else:
            rule, fld = kinds[bad.defect[i]]
            landed.defects.append({**record, "rule": rule, "field": fld, "key": key})


def _late_users(world: Clean, day: np.ndarray, rng: np.random.Generator, rate: float):
    """Move some new users' registration records (their landing `day`) to the next day's
    file: those who order on the day they register."""
    users = world.tables["users"]
    u = users["_u"].to_numpy()
    first_rec = ~pd.Series(u).duplicated().to_numpy()
    new = first_rec & (day > 0) & (day < world.days - 1)
    new &= rng.random(len(u)) < rate
    orders = world.orders
    first_order = pd.Series(orders["day"].to_numpy()).groupby(orders["user"].to_numpy()).min()
    ordered_on = np.full(len(world.extra["user_ids"]), -1, dtype=np.int64)
    ordered_on[first_order.index.to_numpy()] = first_order.to_numpy()
    idx = np.flatnonzero(new)
    idx = idx[ordered_on[u[idx]] == day[idx]]
    day[idx] += 1
    return [{"entity": "orders", "reference": "users.user_id", "key": key,
             "arrives_days_late": 1} for key in users["user_id"].to_numpy()[idx]]


def _write_drift_csv(part: Rows, c: Contract, path: Path, rng: np.random.Generator,
                     landed: Landed, rel: str) -> None:
    """Write the one schema-drift file: columns reordered and a new column added.

    The day is one without defects, so every record in it is clean apart from the drift.
    """
    names = list(c.names)
    rng.shuffle(names)
    names.insert(3, "wechat_id")
    wechat = [f"wxid_{rng.integers(10**6, 10**7)}" if i % 3 else
              f"1{rng.integers(30, 99)}{rng.integers(10**7, 10**8)}" for i in range(len(part))]
    body = csv_lines({**part.cols, "wechat_id": _text(wechat)}, names)
    path.write_text(",".join(names) + "\n" + "".join(body.to_pylist()), encoding="utf-8")
    landed.schema_drift.append({"entity": c.entity, "file": rel, "columns": names,
                                "extra_columns": ["wechat_id"],
                                "policy": "read by header name; extra columns kept in "
                                          "_rescued_data (PII patterns masked)"})


def _inventory_table(rows: Rows) -> pa.Table:
    """Return the inventory rows as the warehouse system's Parquet schema."""
    cols = rows.cols
    return pa.table({
        "snapshot_date": cols["snapshot_date"].cast(pa.date32()),
        "sku_id": cols["sku_id"].cast(pa.string()),
        "warehouse_id": cols["warehouse_id"].cast(pa.string()),
        "qty_on_hand": cols["qty_on_hand"].cast(pa.int64()),
        "exported_at": pc.multiply(cols["exported_at"].cast(pa.int64()), 1_000_000).cast(
            pa.timestamp("us", tz="UTC")),
    })
