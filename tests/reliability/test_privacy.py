"""Personal data is in clear only in the landing zone (issue 16, PIPL).

After the small lake's chain (ingest, gate with its Data Docs, dbt, the weekly review through
Airflow, with its task logs): no phone number, ID-card number or e-mail address of a landed
user is in any table of any layer (quarantine included), nor in any file the lakehouse wrote
(logs, Data Docs, reports in HTML and PDF, run records, checkpoints); and the tokenisation
key (or the HMAC pads derived from it, which give it back) is in none of those files."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from lanhai.pii import EMAIL, ID_CARD, PHONE, _pads

pytestmark = pytest.mark.integration

PATTERN = re.compile(f"{PHONE}|{ID_CARD}")
ANY = re.compile(f"{PHONE}|{ID_CARD}|{EMAIL}")
# Where personal data is in clear by design: the landing zone, files held back from it by the
# tests, and the simulator's own record of what it sent. Delta's data files are read as tables.
NOT_SCANNED = ("landing", "held_back", "simulator")
BINARY = {".parquet", ".crc", ".png", ".jpg", ".woff", ".woff2", ".ttf", ".ico", ".gz", ".zip",
          ".db", ".sqlite", ".jar", ".pyc"}


@pytest.fixture(scope="module")
def landed_pii(small_lake, config) -> set[str]:
    found: set[str] = set()
    for path in (config.landing / "user" / "users").rglob("*.csv"):
        with path.open(encoding="utf-8") as fh:
            for rec in csv.DictReader(fh):
                # (a malformed row's fields can be shifted: only values that look the part)
                found.update(v for k in ("phone", "id_card_no", "email")
                             if (v := rec.get(k)) and ANY.fullmatch(v))
    emails = {v for v in found if "@" in v}
    assert len(found) > 1000 and len(emails) > 100
    return found


def test_no_personal_data_in_any_table(landed_pii, spark, config):
    """Every string value of every table: no phone or ID-card pattern, and no landed phone,
    ID-card number or e-mail address, whole or inside text."""
    scanned, found = 0, []
    for layer in config.raw["databases"]:
        for t in spark.catalog.listTables(config.db(layer)):
            if t.isTemporary:  # session views (dbt's __dbt_tmp) are listed in every database
                continue
            df = spark.table(f"{config.db(layer)}.{t.name}")
            strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
            if not strings:
                continue
            scanned += 1
            for row in df.select(*strings).collect():
                for value in row:
                    if not value:
                        continue
                    if value in landed_pii or PATTERN.search(value):
                        found.append((t.name, value))
                    elif "@" in value:
                        found += [(t.name, m.group()) for m in re.finditer(EMAIL, value)
                                  if m.group() in landed_pii]
    assert scanned > 40
    assert found == []


def _text(path: Path) -> str:
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return path.read_bytes().decode("utf-8", errors="replace")


def _written_files(config) -> list[Path]:
    root = config.data_dir
    skip = [root / p for p in NOT_SCANNED] + [config.landing]
    return [p for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() not in BINARY
            and not any(p.is_relative_to(s) for s in skip)]


def test_no_personal_data_or_key_in_any_file_the_lakehouse_wrote(landed_pii, config):
    files = _written_files(config)
    kinds = {p.suffix for p in files}
    assert {".log", ".html", ".pdf", ".json"} <= kinds, kinds  # logs, Data Docs, reports
    key = config.pii_key
    ipad, opad = (bytes(p).hex() for p in _pads(key))
    leaks = []
    for path in files:
        text = _text(path)
        lowered = text.lower()
        if key.decode() in text or ipad in lowered or opad in lowered:
            leaks.append((str(path), "the tokenisation key"))
        leaks += [(str(path), m.group()) for m in ANY.finditer(text) if m.group() in landed_pii]
    assert leaks == []
