"""Rotating the tokenisation key (issue 16, PIPL): every stored token is re-keyed, a run
stopped midway resumes without re-keying a table twice, no old token stays in any version,
and records landed after the rotation join the rotated ones."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace

import pytest
from reliability_lake import LAYERS, scratch_lake

from lanhai.crashpoints import on_reached
from lanhai.pii import token

pytestmark = pytest.mark.integration

HEADER = ("user_id,registered_at,birth_year,gender,city,city_tier,acquisition_channel,"
          "is_pet_owner,phone,id_card_no,email,updated_at\n")
PEOPLE = {"U901": ("13900000001", "110101199001010011", "a901@example.com"),
          "U902": ("13900000002", "", "a902@example.com"),
          "U903": ("13900000003", "", "")}


def _line(uid: str, updated: str, city: str = "成都") -> str:
    phone, idc, email = PEOPLE[uid]
    return (f"{uid},2024-01-02T10:00:00+08:00,1980,F,{city},new_tier1,search,false,{phone},"
            f"{idc},{email},{updated}\n")


def _tokens(spark, own) -> dict[str, list]:
    out = {}
    for layer in ("bronze", "silver"):
        for t in spark.catalog.listTables(own.db(layer)):
            if t.tableType == "VIEW" or t.isTemporary:
                continue
            df = spark.table(f"{own.db(layer)}.{t.name}")
            if "phone" in df.columns:
                out[f"{layer}.{t.name}"] = sorted(
                    (r.user_id, r.updated_at, r.phone, r.id_card_no, r.email)
                    for r in df.collect())
    return out


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def rotated(spark, config, tmp_path_factory):
    from lanhai.jobs.ingest import run_job
    from lanhai.rotation import rotate_key

    root = tmp_path_factory.mktemp("rotation")
    saved = os.environ.pop(config.raw["pii"]["key_env"], None)
    try:
        with scratch_lake(spark, config, root, "rotate") as scratch:
            ring = root / "secrets" / "pii.key"
            ring.parent.mkdir()
            ring.write_text(config.pii_key.decode() + "\n")
            own = replace(scratch, raw={**scratch.raw,
                                        "pii": {**scratch.raw["pii"], "key_file": str(ring)}})
            day = own.landing / "user" / "users" / "dt=2024-01-02"
            day.mkdir(parents=True)
            (day / "part-00000.csv").write_text(HEADER + "".join(
                _line(u, "2024-01-02T10:00:00+08:00") for u in PEOPLE), encoding="utf-8")
            run_job("ingest", own, ["users"])
            before = _tokens(spark, own)
            old_keys = own.pii_keys
            new_key = secrets.token_hex(32).encode()
            dbs = [own.db(layer) for layer in LAYERS]

            def stop(point, table):
                if point == "rotation.rekeyed":
                    raise Stop(table)

            remove = on_reached(stop)
            try:
                with pytest.raises(Stop) as first:
                    rotate_key(spark, own, new_key, databases=dbs)
            finally:
                remove()
            ring_after_stop = ring.read_text()
            done = rotate_key(spark, own, new_key, databases=dbs)
            after = _tokens(spark, own)
            # a day later: U901 moves (same phone), and nothing else changes
            day2 = own.landing / "user" / "users" / "dt=2024-01-03"
            day2.mkdir(parents=True)
            (day2 / "part-00000.csv").write_text(
                HEADER + _line("U901", "2024-01-03T10:00:00+08:00", city="重慶"),
                encoding="utf-8")
            run_job("ingest", own, ["users"])
            later = _tokens(spark, own)
            files = [p for p in own.lake.rglob("*.parquet")
                     if any(p.is_relative_to(own.lake / f"{d}.db") for d in dbs)]
            yield {"own": own, "before": before, "after": after, "later": later,
                   "first": first.value, "done": done, "old_keys": old_keys,
                   "new_key": new_key, "ring": ring, "ring_after_stop": ring_after_stop,
                   "files": files}
    finally:
        if saved is not None:
            os.environ[config.raw["pii"]["key_env"]] = saved


def test_every_token_is_the_new_keys_token_of_the_old_one(rotated):
    new_key = rotated["new_key"]
    assert set(rotated["after"]) == set(rotated["before"]) >= {"bronze.users", "silver.users"}
    for table, rows in rotated["before"].items():
        expected = sorted((u, at, *(token(t, new_key) if t else None for t in toks))
                          for u, at, *toks in rows)
        assert rotated["after"][table] == expected, table


def test_a_stopped_rotation_resumes_without_re_keying_a_table_twice(rotated):
    stopped_at = str(rotated["first"])
    assert stopped_at in rotated["done"].skipped
    assert stopped_at not in rotated["done"].tables
    assert rotated["ring_after_stop"].split() == [k.decode() for k in rotated["old_keys"]]


def test_the_ring_holds_the_old_keys_then_the_new(rotated):
    assert rotated["ring"].read_text().split() == [
        *(k.decode() for k in rotated["old_keys"]), rotated["new_key"].decode()]
    assert oct(rotated["ring"].stat().st_mode & 0o777) == "0o600"


def test_records_landed_after_the_rotation_join_the_rotated_ones(rotated):
    phone = PEOPLE["U901"][0]
    ring = (*rotated["old_keys"], rotated["new_key"])
    history = rotated["later"]["silver.users_history"]
    mine = [r for r in history if r[0] == "U901"]
    assert len(mine) == 2 and {r[2] for r in mine} == {token(phone, ring)}


def test_no_old_token_is_left_in_any_version(rotated):
    import pyarrow.parquet as pq

    old = {token(v, rotated["old_keys"]) for person in PEOPLE.values() for v in person if v}
    found = []
    for path in rotated["files"]:
        table = pq.read_table(path)
        text = " ".join(str(table.column(i).to_pylist()) for i in range(table.num_columns))
        found += [str(path) for t in old if t in text]
    assert rotated["files"] and found == []
