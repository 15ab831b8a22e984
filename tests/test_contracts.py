from pathlib import Path

import pytest

from lanhai.contracts import ContractError, contracts, load_contract
from lanhai.simulator.world import CHANNELS


def test_every_contract_loads_with_key_and_version():
    cs = contracts()
    assert {"users", "merchants", "skus", "categories", "orders", "refunds", "shipments",
            "inventory", "warehouses", "spend", "fx_rates"} <= set(cs)
    for c in cs.values():
        assert set(c.key) <= set(c.names)
        assert c.version in c.names
        assert all(c.field(k).required for k in c.key), c.entity


def test_pii_is_declared_where_personal_data_lands():
    users = contracts()["users"]
    assert {f.name for f in users.pii_fields} == {"phone", "id_card_no", "email"}


def test_channel_enums_match_the_plan():
    assert contracts()["orders"].field("channel").enum == CHANNELS
    assert contracts()["spend"].field("channel").enum == CHANNELS


def test_bad_contract_is_refused(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("entity: x\ndomain: d\nformat: xml\nkey: [a]\nversion: a\n"
                   "fields: [{name: a, type: string}]\n")
    with pytest.raises(ContractError, match="format"):
        load_contract(bad)
    bad.write_text("entity: x\ndomain: d\nformat: csv\nkey: [b]\nversion: a\n"
                   "fields: [{name: a, type: str}]\n")
    with pytest.raises(ContractError, match="unknown type"):
        load_contract(bad)


def test_the_quality_gate_finds_a_business_date_for_every_entity():
    """The gate validates each entity's rows of the interval by a business date: an event
    feed's own, else the day of the contract's version; every column it names must be a date
    or timestamp field of the contract (a feed without `updated_at` broke the gate once)."""
    import re

    from lanhai.quality.gate import business_date

    for entity, c in contracts().items():
        sql = business_date(entity)
        used = set(re.findall(r"\b[a-z_]+\b", sql)) & set(c.names)
        assert used, (entity, sql)
        assert all(c.field(n).type in ("date", "timestamp") for n in used), (entity, sql)
