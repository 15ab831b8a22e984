"""Read the source contracts in schemas/: the one source of truth for every read and rule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lanhai.config import PROJECT_ROOT

SCHEMAS_DIR = PROJECT_ROOT / "schemas"
FORMATS = {"csv", "jsonl", "parquet"}
# phone, id_card, email: the field is the value, tokenised (HMAC-SHA256); free_text: the field
# is text that may hold such values, which are masked in it (lanhai.pii.protect_col).
PII_CLASSES = {"phone", "id_card", "email", "free_text"}
_SCALAR = re.compile(r"^(string|int|long|boolean|date|timestamp|decimal\(\d+,\d+\))$")
RULES = ("malformed", "missing_required", "type_mismatch", "unknown_enum", "out_of_range")


class ContractError(ValueError):
    """A contract file is malformed."""


@dataclass(frozen=True)
class Field:
    """One field of a contract."""

    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pii: str | None = None
    references: str | None = None
    description: str = ""

    @property
    def is_nested(self) -> bool:
        return self.type.startswith("array<")

    @property
    def spark_type(self) -> str:
        return self.type


@dataclass(frozen=True)
class Contract:
    """A source entity's contract: where it lands, its format, fields, key and version."""

    entity: str
    domain: str
    format: str
    key: tuple[str, ...]
    version: str
    fields: tuple[Field, ...]
    description: str = ""
    item_key: tuple[str, ...] = ()
    item_fields: tuple[Field, ...] = ()
    history: bool = False
    path: Path = field(default=Path(), repr=False)

    @property
    def landing_subdir(self) -> str:
        return f"{self.domain}/{self.entity}"

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.entity} has no field {name!r}")

    @property
    def pii_fields(self) -> list[Field]:
        return [f for f in self.fields if f.pii]

    @property
    def nested(self) -> Field | None:
        return next((f for f in self.fields if f.is_nested), None)

    def item_struct_ddl(self) -> str:
        """Return the Spark DDL of the nested items, every field typed."""
        inner = ", ".join(f"{f.name}: {f.type}" for f in self.item_fields)
        return f"array<struct<{inner}>>"


def _field(raw: dict[str, Any], where: str) -> Field:
    unknown = set(raw) - {"name", "type", "required", "enum", "min", "max", "pii", "references",
                          "description"}
    if unknown:
        raise ContractError(f"{where}: unknown keys {sorted(unknown)}")
    typ = str(raw.get("type", ""))
    if not (_SCALAR.match(typ) or typ == "array<item>"):
        raise ContractError(f"{where}: field {raw.get('name')!r} has unknown type {typ!r}")
    if raw.get("pii") and raw["pii"] not in PII_CLASSES:
        raise ContractError(f"{where}: unknown pii class {raw['pii']!r}")
    enum = raw.get("enum")
    return Field(
        name=raw["name"],
        type=typ,
        required=bool(raw.get("required", False)),
        enum=tuple(str(v) for v in enum) if enum else None,
        min=raw.get("min"),
        max=raw.get("max"),
        pii=raw.get("pii"),
        references=raw.get("references"),
        description=raw.get("description", ""),
    )


def load_contract(path: Path) -> Contract:
    """Read and check one contract file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.name
    for key in ("entity", "domain", "format", "key", "version", "fields"):
        if key not in raw:
            raise ContractError(f"{where}: missing {key!r}")
    if raw["format"] not in FORMATS:
        raise ContractError(f"{where}: format must be one of {sorted(FORMATS)}")
    fields = tuple(_field(f, where) for f in raw["fields"])
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate field names")
    for k in [*raw["key"], raw["version"]]:
        if k not in names:
            raise ContractError(f"{where}: key or version {k!r} is not a field")
    items = tuple(_field(f, where) for f in raw.get("item_fields", []))
    if any(f.is_nested for f in fields) and not items:
        raise ContractError(f"{where}: a nested field needs item_fields")
    return Contract(
        entity=raw["entity"],
        domain=raw["domain"],
        format=raw["format"],
        key=tuple(raw["key"]),
        version=raw["version"],
        fields=fields,
        description=" ".join(str(raw.get("description", "")).split()),
        item_key=tuple(raw.get("item_key", [])),
        item_fields=items,
        history=bool(raw.get("history", False)),
        path=path,
    )


@cache
def contracts() -> dict[str, Contract]:
    """Return every contract in schemas/, by entity name."""
    out = {}
    for path in sorted(SCHEMAS_DIR.glob("*.yaml")):
        c = load_contract(path)
        out[c.entity] = c
    return out


# Silver tables that are not a contract's entity but a part of one: table -> (domain, meaning).
DERIVED = {"order_items": ("transaction", "Order lines from the order events, with line GMV in "
                                          "CNY at the paid date's rate.")}


def domain_tables() -> dict[str, list[str]]:
    """Each source domain and the silver tables its ingest writes (its entities, then the
    tables derived from them)."""
    out: dict[str, list[str]] = {}
    for c in contracts().values():
        out.setdefault(c.domain, []).append(c.entity)
    for table, (domain, _) in DERIVED.items():
        out[domain].append(table)
    return out


def contract(entity: str) -> Contract:
    """Return one entity's contract."""
    try:
        return contracts()[entity]
    except KeyError:
        raise ContractError(f"no contract for {entity!r} in {SCHEMAS_DIR}") from None
