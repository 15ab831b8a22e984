"""Recovery by replay (issue 16, #6): silver rebuilt from bronze equals silver as it was.

A day of users (a move, a duplicate, a bad row) and fx rates lands in a scratch lake and is
ingested; then `lanhai ingest replay` drops the entities' silver tables, quarantined records,
late references and silver accounting, resets their checkpoints and runs bronze through silver
again. Every table ends as it was (load times and run ids aside). Delta RESTORE, the other
recovery, is tested with the chain (tests/test_airflow_chain.py)."""

from __future__ import annotations

import pytest
from reliability_lake import LOAD_TIMES, scratch_lake, table_rows

pytestmark = pytest.mark.integration

USERS = ("user_id,registered_at,birth_year,gender,city,city_tier,acquisition_channel,"
         "is_pet_owner,phone,id_card_no,email,updated_at\n"
         "U801,2024-01-02T10:00:00+08:00,1980,F,成都,new_tier1,search,false,13900000801,,,"
         "2024-01-02T10:00:00+08:00\n"
         "U801,2024-01-02T10:00:00+08:00,1980,F,重慶,new_tier1,search,false,13900000801,,,"
         "2024-01-02T18:00:00+08:00\n"
         "U802,2024-01-02T11:00:00+08:00,1991,M,南寧,tier3,kol,true,13900000802,,,"
         "2024-01-02T11:00:00+08:00\n"
         "U802,2024-01-02T11:00:00+08:00,1991,M,南寧,tier3,kol,true,13900000802,,,"
         "2024-01-02T11:00:00+08:00\n"
         "U803,not a time,1991,M,南寧,tier3,kol,true,13900000803,,,2024-01-02T11:00:00+08:00\n")
FX = ("rate_date,currency,cny_per_unit,published_at\n"
      "2024-01-02,USD,7.05,2024-01-02T09:15:00+08:00\n")
TIMES = {*LOAD_TIMES, "flagged_at", "_batch_id", "bronze_batch_id", "batch_id"}


@pytest.fixture(scope="module")
def replayed(spark, config, tmp_path_factory):
    from lanhai.jobs.ingest import run_job

    root = tmp_path_factory.mktemp("replay")
    with scratch_lake(spark, config, root, "replay") as own:
        for entity, folder, text in (("users", "user", USERS), ("fx_rates", "fx", FX)):
            day = own.landing / folder / entity / "dt=2024-01-02"
            day.mkdir(parents=True)
            (day / "part-00000.csv").write_text(text, encoding="utf-8")
        run_job("ingest", own, ["users", "fx_rates"])
        before = table_rows(spark, own, TIMES)
        result = run_job("replay", own, ["users", "fx_rates"])
        yield {"before": before, "after": table_rows(spark, own, TIMES), "result": result}


def test_the_replay_read_every_bronze_record_again(replayed):
    landed = {r["entity"]: r["landed"] for r in replayed["result"]["silver"]}
    assert landed == {"fx_rates": 1, "users": 5}


def test_every_table_is_as_it_was(replayed):
    before, after = replayed["before"], replayed["after"]
    assert set(after) == set(before) and len(before) >= 7
    assert len(before["silver.users_history"]) == 3 and len(before["quarantine.records"]) == 1
    assert {t: (len(before[t]), len(after[t])) for t in before if after[t] != before[t]} == {}
