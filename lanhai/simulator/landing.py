"""Turn the clean world into the files the source systems send, with defects beside them.

Each entity is written as its source would send it (CSV change records, JSON-lines events,
Parquet snapshots) under `landing/<domain>/<entity>/dt=YYYY-MM-DD/`. Defects are extra records
placed among the clean ones; every one is listed with its file, line and the rule it breaks,
so that tests can hold the quarantine to exactly that list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lanhai.contracts import Contract, contract, contracts
from lanhai.simulator.model import SHANGHAI_OFFSET, Clean

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
}
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


# --- vectorised formatting ----------------------------------------------------------------
def fmt_ts(ts: np.ndarray) -> np.ndarray:
    """Epoch seconds -> ISO-8601 in Beijing time; negatives are null."""
    ts = np.asarray(ts, dtype=np.int64)
    local = (ts + SHANGHAI_OFFSET).astype("datetime64[s]")
    out = np.char.add(np.datetime_as_string(local, unit="s"), "+08:00").astype(object)
    out[ts < 0] = None
    return out


def fmt_day(world: Clean, day: np.ndarray) -> np.ndarray:
    base = np.datetime64(world.start.isoformat())
    return np.datetime_as_string(base + np.asarray(day, dtype="timedelta64[D]"), unit="D")


def fmt_cents(cents: np.ndarray) -> np.ndarray:
    c = np.asarray(cents, dtype=np.int64)
    a = np.abs(c)
    s = np.char.add(np.char.add((a // 100).astype(str), "."), np.char.zfill((a % 100).astype(str),
                                                                            2))
    return np.where(c < 0, np.char.add("-", s), s).astype(object)


def fmt_micro(micro: np.ndarray) -> np.ndarray:
    m = np.asarray(micro, dtype=np.int64)
    return np.char.add(np.char.add((m // 10**6).astype(str), "."),
                       np.char.zfill((m % 10**6).astype(str), 6)).astype(object)


def fmt_bool(b: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(b, dtype=bool), "true", "false").astype(object)


def _blank_to_none(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=object)
    a[(a == "") | pd.isna(a)] = None
    return a


def source_frame(world: Clean, entity: str) -> pd.DataFrame:
    """Return the entity's records as the strings its source sends, in contract order."""
    t = world.tables[entity]
    if entity == "inventory":
        return pd.DataFrame({
            "snapshot_date": fmt_day(world, t["snapshot_day"]).astype(object),
            "sku_id": t["sku_id"].to_numpy(), "warehouse_id": t["warehouse_id"].to_numpy(),
            "qty_on_hand": t["qty_on_hand"].to_numpy(), "exported_at": t["exported_at"].to_numpy(),
            "_day": t["_day"].to_numpy(),
        })
    if entity == "users":
        f = {c: t[c].to_numpy(dtype=object) for c in ("user_id", "gender", "city", "city_tier",
                                                      "acquisition_channel", "phone")}
        f.update(registered_at=fmt_ts(t["registered_at"]), birth_year=t["birth_year"].astype(
            str).to_numpy(dtype=object), is_pet_owner=fmt_bool(t["is_pet_owner"]),
                 id_card_no=_blank_to_none(t["id_card_no"].to_numpy()),
                 email=_blank_to_none(t["email"].to_numpy()), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "merchants":
        f = {c: t[c].to_numpy(dtype=object) for c in ("merchant_id", "merchant_name", "size",
                                                      "home_currency", "city")}
        closed = t["closed_day"].to_numpy()
        closed_s = fmt_day(world, np.maximum(closed, 0)).astype(object)
        closed_s[closed < 0] = None
        f.update(onboarded_at=fmt_day(world, t["onboarded_day"]).astype(object),
                 closed_at=closed_s, is_cross_border=fmt_bool(t["is_cross_border"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "categories":
        f = {c: t[c].to_numpy(dtype=object) for c in ("category_l2", "category_l1", "name_zh",
                                                      "name_en")}
        f.update(is_smart_device=fmt_bool(t["is_smart_device"]), updated_at=fmt_ts(
            t["updated_at"]))
    elif entity == "skus":
        f = {c: t[c].to_numpy(dtype=object) for c in ("sku_id", "spu_id", "merchant_id",
                                                      "category_l1", "category_l2", "currency")}
        f.update(is_nonstandard=fmt_bool(t["is_nonstandard"]),
                 pilot_category=_blank_to_none(t["pilot_category"].to_numpy()),
                 green_certified=fmt_bool(t["green_certified"]),
                 condition_grade=_blank_to_none(t["condition_grade"].to_numpy()),
                 list_price=fmt_cents(t["list_price_cents"]),
                 unit_cost_cny=fmt_cents(t["unit_cost_cents"]), updated_at=fmt_ts(
                t["updated_at"]))
    elif entity == "orders":
        f = {c: t[c].to_numpy(dtype=object) for c in ("event_id", "event_type", "order_id",
                                                      "user_id", "merchant_id", "channel",
                                                      "currency", "status")}
        f.update(created_at=fmt_ts(t["created_at"]), paid_at=fmt_ts(t["paid_at"]),
                 cancelled_at=fmt_ts(t["cancelled_at"]), updated_at=fmt_ts(t["updated_at"]))
        f["items"] = _items_json(world)[t["_o"].to_numpy()]
    elif entity == "refunds":
        f = {c: t[c].to_numpy(dtype=object) for c in ("refund_id", "order_id", "currency",
                                                      "reason")}
        f.update(amount=fmt_cents(t["amount_cents"]), refunded_at=fmt_ts(t["refunded_at"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "shipments":
        f = {c: t[c].to_numpy(dtype=object) for c in ("shipment_id", "order_id", "warehouse_id",
                                                      "carrier")}
        f.update(shipped_at=fmt_ts(t["shipped_at"]), promised_at=fmt_ts(t["promised_at"]),
                 delivered_at=fmt_ts(t["delivered_at"]),
                 logistics_cost_cny=fmt_cents(t["logistics_cost_cents"]),
                 updated_at=fmt_ts(t["updated_at"]))
    elif entity == "warehouses":
        f = {c: t[c].to_numpy(dtype=object) for c in ("warehouse_id", "city", "country")}
        f.update(is_overseas=fmt_bool(t["is_overseas"]), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "spend":
        f = {c: t[c].to_numpy(dtype=object) for c in ("spend_id", "channel")}
        f.update(spend_date=fmt_day(world, t["spend_day"]).astype(object),
                 pilot_category=_blank_to_none(t["pilot_category"].to_numpy()),
                 amount_cny=fmt_cents(t["amount_cents"]), updated_at=fmt_ts(t["updated_at"]))
    elif entity == "fx_rates":
        f = {"rate_date": fmt_day(world, t["rate_day"]).astype(object),
             "currency": t["currency"].to_numpy(dtype=object),
             "cny_per_unit": fmt_micro(t["micro"]), "published_at": fmt_ts(t["published_at"])}
    else:
        raise KeyError(entity)
    c = contract(entity)
    frame = pd.DataFrame({name: f[name] for name in c.names})
    frame["_day"] = t["_day"].to_numpy()
    return frame


def _items_json(world: Clean) -> np.ndarray:
    """Return each order's items as a JSON array text, built without a Python loop."""
    it = world.items
    price = fmt_cents(it["price_cents"]).astype(str)
    disc = fmt_cents(it["discount_cents"]).astype(str)
    parts = [
        '{"line_no":', it["line_no"].astype(str).to_numpy(), ',"sku_id":"',
        it["sku_id"].to_numpy(dtype=str), '","qty":', it["qty"].astype(str).to_numpy(),
        ',"unit_price":', price, ',"discount":', disc, "}",
    ]
    arrays = [pa.array(np.broadcast_to(p, len(it)).astype(str)) if isinstance(p, str)
              else pa.array(p) for p in parts]
    item_text = pc.binary_join_element_wise(*arrays, "")
    if isinstance(item_text, pa.ChunkedArray):  # large worlds come back in chunks
        item_text = item_text.combine_chunks()
    n_orders = len(world.orders)
    offsets = np.searchsorted(it["o"].to_numpy(), np.arange(n_orders + 1))
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), item_text)
    joined = pc.binary_join(lists, ",")
    return np.char.add(np.char.add("[", np.asarray(joined.to_numpy(zero_copy_only=False),
                                                   dtype=str)), "]").astype(object)


def json_lines(frame: pd.DataFrame, c: Contract) -> np.ndarray:
    """Return one JSON object text per row; numbers unquoted, nested items raw."""
    numeric = {f.name for f in c.fields if f.type in ("int", "long") or f.type.startswith(
        "decimal")}
    raw = {f.name for f in c.fields if f.is_nested}
    arrays = []
    for i, f in enumerate(c.fields):
        col = pa.array(frame[f.name].to_numpy(dtype=object), type=pa.string())
        if f.name in raw or f.name in numeric:
            val = pc.if_else(pc.is_null(col), "null", col)
        else:
            val = pc.if_else(pc.is_null(col), "null", pc.binary_join_element_wise('"', col, '"',
                                                                                    ""))
        arrays.append(pa.array(np.full(len(frame), ("{" if i == 0 else ",") + f'"{f.name}":')))
        arrays.append(val)
    arrays.append(pa.array(np.full(len(frame), "}")))
    return np.asarray(pc.binary_join_element_wise(*arrays, "").to_numpy(zero_copy_only=False),
                      dtype=object)


def csv_lines(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Return one CSV line per row (values quoted only where needed)."""
    arrays = []
    for n in names:
        col = pa.array(frame[n].to_numpy(dtype=object), type=pa.string())
        needs = pc.match_substring_regex(pc.fill_null(col, ""), r'[",\n]')
        quoted = pc.binary_join_element_wise(
            '"', pc.replace_substring(pc.fill_null(col, ""), '"', '""'), '"', "")
        arrays.append(pc.if_else(needs, quoted, pc.fill_null(col, "")))
    return np.asarray(pc.binary_join_element_wise(*arrays, ",").to_numpy(zero_copy_only=False),
                      dtype=object)


# --- defects ----------------------------------------------------------------------------
def _bad_record(frame: pd.DataFrame, c: Contract, rng: np.random.Generator, rule: str, n: int,
                counter: list[int]) -> pd.DataFrame:
    """Copy n clean records under new keys and break exactly one rule in each."""
    spec = DEFECT_SPECS.get(c.entity, {}).get(rule)
    rows = frame.iloc[rng.integers(0, len(frame), n)].copy()
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


def _malformed_lines(lines: np.ndarray, fmt: str, rng: np.random.Generator) -> np.ndarray:
    """Break records the way real feeds do: a cut JSON line, a CSV row missing a field."""
    out = []
    for line in lines:
        if fmt == "jsonl":
            out.append(line[: max(10, int(len(line) * rng.uniform(0.3, 0.8)))])
        else:
            fields = line.split(",")
            drop = int(rng.integers(1, len(fields) - 1))
            out.append(",".join(fields[:drop] + fields[drop + 1:]))
    return np.array(out, dtype=object)


def write_landing(world: Clean, landing: Path, defects: dict[str, float] | None = None,
                  progress=None) -> Landed:
    """Write every entity's files under `landing` and return what was written."""
    rates = {**DEFAULT_DEFECTS, **(defects or {})}
    rng = np.random.default_rng(world.seed + 1)
    landed = Landed()
    counter = [1]
    drift_entity = "users"
    for entity, c in contracts().items():
        frame = source_frame(world, entity)
        n_clean = len(frame)
        ext = EXT[c.format]
        frame["_pos"] = np.arange(n_clean, dtype=float)
        frame["_defect"] = -1
        # Late-arriving records: events exported the next day, users a day after their order.
        if entity == "orders" and rates["late_events"]:
            late = rng.random(n_clean) < rates["late_events"]
            late &= frame["_day"].to_numpy() < world.days - 1
            frame.loc[late, "_day"] += 1
        if entity == "users" and rates["late_users"]:
            landed.late_references += _late_users(world, frame, rng, rates["late_users"])
        extra: list[pd.DataFrame] = []
        kinds: list[tuple[str, str | None]] = []
        for rule in ("malformed", "missing_required", "type_mismatch", "unknown_enum",
                     "out_of_range"):
            if rule not in DEFECT_SPECS.get(entity, {}):
                continue
            n = max(1, int(round(n_clean * rates[rule]))) if rates[rule] else 0
            if n == 0:
                continue
            rows = _bad_record(frame, c, rng, rule, n, counter)
            rows["_defect"] = len(kinds) + np.arange(n)
            spec = DEFECT_SPECS[entity][rule]
            kinds += [(rule, None if spec is None else spec[0].split(".")[0])] * n
            rows["_pos"] = rows["_pos"] + 0.5
            extra.append(rows)
        dups = None
        if rates["duplicates"]:
            n = max(1, int(round(n_clean * rates["duplicates"])))
            dups = frame.iloc[rng.choice(n_clean, n, replace=False)].copy()
            shift = rng.integers(0, 3, n)
            dups["_day"] = np.minimum(dups["_day"].to_numpy() + shift, world.days - 1)
            dups["_pos"] = np.where(shift == 0, dups["_pos"] + 0.25, rng.uniform(0, n_clean, n))
            dups["_defect"] = -2
            extra.append(dups)
        full = pd.concat([frame, *extra], ignore_index=True) if extra else frame
        full = full.sort_values(["_day", "_pos"], kind="stable").reset_index(drop=True)
        lines = None
        if c.format == "jsonl":
            lines = json_lines(full, c)
        elif c.format == "csv":
            lines = csv_lines(full, c.names)
        if lines is not None:
            bad = np.flatnonzero(full["_defect"].to_numpy() >= 0)
            mal = [i for i in bad if kinds[full["_defect"].iat[i]][0] == "malformed"]
            if mal:
                lines[mal] = _malformed_lines(lines[mal], c.format, rng)
        days = full["_day"].to_numpy()
        bounds = np.flatnonzero(np.diff(days)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(full)]])
        drift_day = None
        if entity == drift_entity and rates["schema_drift_files"]:
            with_defects = set(full.loc[full["_defect"] != -1, "_day"])
            candidates = [days[s] for s in starts
                          if 0 < days[s] < world.days - 1 and days[s] not in with_defects]
            drift_day = candidates[len(candidates) // 2] if candidates else None
        late_days = set()
        if entity in ("orders", "shipments") and rates["late_files"]:
            pool = [int(days[s]) for s in starts if world.days // 3 < days[s] < world.days - 10]
            late_days = set(rng.choice(pool, size=min(int(rates["late_files"]), len(pool)),
                                       replace=False).tolist())
        table = _inventory_table(full) if c.format == "parquet" else None
        files = []
        for s, e in zip(starts, ends, strict=True):
            day = int(days[s])
            dt = (world.start + timedelta(days=day)).isoformat()
            rel = f"{c.domain}/{entity}/dt={dt}/part-00000.{ext}"
            path = landing / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            part = full.iloc[s:e]
            header_lines = 1 if c.format == "csv" else 0
            if table is not None:
                tmp = path.with_name("." + path.name + ".tmp")
                pq.write_table(table.slice(s, e - s), tmp)
                os.replace(tmp, path)
            elif day == drift_day:
                _write_drift_csv(part, c, path, rng, landed, rel)
            else:
                body = lines[s:e]
                text = (",".join(c.names) + "\n" if c.format == "csv" else "") + "\n".join(
                    body) + "\n"
                tmp = path.with_name("." + path.name + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, path)
            files.append(rel)
            if day in late_days:
                landed.late_files.append({"entity": entity, "file": rel, "dt": dt,
                                          "arrives_after_days": 3})
            flags = part["_defect"].to_numpy()
            for j in np.flatnonzero(flags != -1):
                row = part.iloc[j]
                line = int(j) + 1 + header_lines
                key = {k: (None if pd.isna(row[k]) else str(row[k])) for k in c.key}
                if flags[j] == -2:
                    version = row[c.version]
                    if not isinstance(version, str):  # Parquet keeps epoch seconds here
                        version = fmt_ts(np.array([version]))[0]
                    landed.duplicates.append({"entity": entity, "file": rel, "line": line,
                                              "key": key, "version": version})
                else:
                    rule, fld = kinds[flags[j]]
                    landed.defects.append({"entity": entity, "file": rel, "line": line,
                                           "rule": rule, "field": fld, "key": key})
        landed.files[entity] = files
        landed.records[entity] = int(len(full))
        if progress:
            progress(entity, len(full))
    return landed


def _late_users(world: Clean, frame: pd.DataFrame, rng: np.random.Generator, rate: float):
    """Move some new users' registration records to the next day's file."""
    first_rec = ~frame.duplicated("user_id")
    new = first_rec & (frame["_day"] > 0) & (frame["_day"] < world.days - 1)
    new &= rng.random(len(frame)) < rate
    orders = world.orders
    ordered_on = pd.Series(orders["day"].to_numpy(), index=world.extra["user_ids"][
        orders["user"].to_numpy()]).groupby(level=0).min()
    same_day = frame.loc[new, "user_id"].map(ordered_on).to_numpy() == frame.loc[new,
                                                                               "_day"].to_numpy()
    idx = frame.index[new][same_day]
    frame.loc[idx, "_day"] += 1
    return [{"entity": "orders", "reference": "users.user_id", "key": u,
             "arrives_days_late": 1} for u in frame.loc[idx, "user_id"]]


def _write_drift_csv(part: pd.DataFrame, c: Contract, path: Path, rng: np.random.Generator,
                     landed: Landed, rel: str) -> None:
    """Write the one schema-drift file: columns reordered and a new column added.

    The day is one without defects, so every record in it is clean apart from the drift.
    """
    names = list(c.names)
    rng.shuffle(names)
    names.insert(3, "wechat_id")
    frame = part.copy()
    frame["wechat_id"] = [f"wxid_{rng.integers(10**6, 10**7)}" if i % 3 else
                          f"1{rng.integers(30, 99)}{rng.integers(10**7, 10**8)}"
                          for i in range(len(frame))]
    body = csv_lines(frame, names)
    path.write_text(",".join(names) + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    landed.schema_drift.append({"entity": c.entity, "file": rel, "columns": names,
                                "extra_columns": ["wechat_id"],
                                "policy": "read by header name; extra columns kept in "
                                          "_rescued_data (PII patterns masked)"})


def _inventory_table(frame: pd.DataFrame) -> pa.Table:
    """Return the inventory rows as the warehouse system's Parquet schema."""
    return pa.table({
        "snapshot_date": pa.array(pd.to_datetime(frame["snapshot_date"]).dt.date,
                                  type=pa.date32()),
        "sku_id": pa.array(frame["sku_id"], type=pa.string()),
        "warehouse_id": pa.array(frame["warehouse_id"], type=pa.string()),
        "qty_on_hand": pa.array(frame["qty_on_hand"].astype(np.int64), type=pa.int64()),
        "exported_at": pa.array(frame["exported_at"].astype(np.int64) * 1_000_000,
                                type=pa.timestamp("us", tz="UTC")),
    })
