"""Rotate the PII tokenisation key without the personal data in clear.

A token is `tok_` + HMAC-SHA256(key, value). The values are in clear only in the landing zone,
and only for as long as its retention keeps them, so a rotation cannot re-tokenise from them.
It re-keys the tokens themselves instead: every stored token `t` becomes the new key's token
of `t`, and the key file becomes a key ring (old keys first, one per line); from then on the
ingest tokenises with the whole ring (lanhai.pii: the newest key's token of the older keys'
token). Joins on tokens keep working across old and new data, and a token can no longer be
checked against a guessed phone number by whoever holds only an old key: an old key that
leaked is harmless once the rotation is done (the vacuum removes the old versions too).

`lanhai rotate-key --new-key-file PATH`:
1. every string of every Delta table (all schemas, the marts too) that is a token is replaced
   by its new token, one table at a time, each change one commit tagged with the new key's
   fingerprint; a table already tagged is skipped, so a rerun after a crash finishes the work
   and never re-keys a table twice;
2. the re-keyed tables are vacuumed with zero retention (no old version keeps the old tokens);
3. tokens in the other files the lakehouse wrote (Great Expectations' results, logs) are
   re-keyed in place;
4. the new key is appended to the profile's key file (atomically), last: until then the ingest
   still tokenises with the old ring, and must not run (the embedded profile's lock keeps it
   out; on the cluster profile, pause the ingest DAGs).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lanhai.config import MIN_KEY_LENGTH, Config, ConfigError
from lanhai.crashpoints import reached
from lanhai.pii import TOKEN_PREFIX, token

TOKEN = rf"^{TOKEN_PREFIX}[0-9a-f]{{64}}$"
TOKEN_IN_TEXT = re.compile(rf"{TOKEN_PREFIX}[0-9a-f]{{64}}(?![0-9a-f])")
TAG_PREFIX = "lanhai-rotate:"
PARALLEL = 4


@dataclass
class Rotation:
    fingerprint: str
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows re-keyed
    skipped: list[str] = field(default_factory=list)  # re-keyed by an earlier, crashed run
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fingerprint(key: bytes) -> str:
    """A short public name of a key (a hash of a hash of 32 random bytes reveals nothing)."""
    return hashlib.sha256(b"lanhai-key-fingerprint:" + key).hexdigest()[:16]


def _token_columns(spark, table: str) -> list[str]:
    """The string columns of a table that hold at least one token."""
    from pyspark.sql import functions as F

    df = spark.table(table)
    strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
    if not strings:
        return []
    row = df.select(*[F.max(F.col(f"`{c}`").rlike(TOKEN).cast("int")).alias(c)
                      for c in strings]).first()
    return [c for c in strings if row[c]]


def _rekey_table(spark, table: str, columns: list[str], new_key: bytes, tag: str) -> int:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from lanhai.jobs.silver import USER_METADATA
    from lanhai.pii import _hmac_col

    spark.conf.set(USER_METADATA, tag)
    try:
        DeltaTable.forName(spark, table).update(
            condition=" or ".join(f"`{c}` rlike '{TOKEN}'" for c in columns),
            set={f"`{c}`": F.when(F.col(f"`{c}`").rlike(TOKEN),
                                  _hmac_col(F.col(f"`{c}`"), new_key))
                 .otherwise(F.col(f"`{c}`")) for c in columns})
    finally:
        spark.conf.unset(USER_METADATA)
    metrics = DeltaTable.forName(spark, table).history(1).first()["operationMetrics"] or {}
    return int(metrics.get("numUpdatedRows", 0))


def _rekey_files(config: Config, new_key: bytes) -> list[str]:
    from lanhai.erasure import written_files

    changed = []
    for path in written_files(config):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if TOKEN_IN_TEXT.search(text):
            path.write_text(TOKEN_IN_TEXT.sub(lambda m: token(m.group(), new_key), text),
                            encoding="utf-8", errors="surrogateescape")
            changed.append(path.relative_to(config.data_dir).as_posix())
    return changed


def read_new_key(path: Path, config: Config) -> bytes:
    key = path.read_text(encoding="utf-8").strip()
    if not key or len(key.split()) != 1:
        raise ConfigError(f"{path}: one key expected")
    if not config.is_demo and len(key) < MIN_KEY_LENGTH:
        raise ConfigError(f"{path}: a key of at least {MIN_KEY_LENGTH} characters expected")
    if key.encode() in config.pii_keys:
        raise ConfigError(f"{path}: this key is already in the key ring")
    return key.encode()


def rotate_key(spark, config: Config, new_key: bytes,
               on_step: Callable[[str], None] | None = None,
               databases: list[str] | None = None) -> Rotation:
    """Re-key every token of the lakehouse (every database of the catalog, or those named)
    with `new_key` and add it to the key ring."""
    from lanhai.erasure import vacuum_now
    from lanhai.jobs.silver import tagged_commit
    from lanhai.spark import delta_tables

    say = on_step or (lambda _msg: None)
    ring = config.pii_key_file
    if ring is None or os.environ.get(config.raw["pii"]["key_env"]):
        raise ConfigError(
            f"a rotation writes the key ring to the profile's pii.key_file; profile "
            f"{config.profile!r} has none, or ${config.raw['pii']['key_env']} overrides it "
            f"(move the key into a file named by pii.key_file first)")
    began = time.time()
    out = Rotation(fingerprint=fingerprint(new_key))
    tag = TAG_PREFIX + out.fingerprint
    tables = delta_tables(spark, databases)
    with ThreadPoolExecutor(PARALLEL) as pool:
        columns = dict(zip(tables, pool.map(lambda t: _token_columns(spark, t), tables),
                           strict=True))
    for table, cols in columns.items():
        if not cols:
            continue
        if tagged_commit(spark, table, tag) is not None:  # a stopped run's table
            out.skipped.append(table)
            continue
        out.tables[table] = _rekey_table(spark, table, cols, new_key, tag)
        reached("rotation.rekeyed", table)
        say(f"{table}: {out.tables[table]} row(s) re-keyed ({', '.join(cols)})")
    vacuum_now(spark, [*out.tables, *out.skipped])
    say(f"vacuumed {len(out.tables) + len(out.skipped)} table(s): no old version keeps a token")
    out.files = _rekey_files(config, new_key)
    ring.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(k.decode() for k in (*config.pii_keys, new_key)) + "\n"
    tmp = ring.with_name(f".{ring.name}.new")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, ring)
    config.__dict__.pop("pii_keys", None)  # the ring is read again on next use
    say(f"the key ring in {ring} has {len(config.pii_keys)} key(s)")
    out.seconds = round(time.time() - began, 1)
    return out
