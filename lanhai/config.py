"""Load a profile from conf/: every path, table name and setting comes from there."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"
DEFAULT_PROFILE = "local"
MIN_KEY_LENGTH = 32  # characters of a PII key outside a demo profile (HMAC-SHA256: 32 bytes)


class ConfigError(ValueError):
    """A profile is missing, malformed or unsafe."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_profile(name: str) -> dict[str, Any]:
    path = CONF_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CONF_DIR.glob("*.yaml")))
        raise ConfigError(f"no profile {name!r}: {path} does not exist (profiles: {known})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parent = raw.pop("extends", None)
    if not parent:
        return raw
    # A profile is a demo profile only when it says so itself: one made for production by
    # extending the laptop's default must not inherit the right to use the public demo key.
    return _merge(_read_profile(parent), {"demo": False, **raw})


@dataclass(frozen=True)
class Config:
    """A resolved profile: absolute paths, table names and settings."""

    raw: dict[str, Any]
    data_dir: Path
    paths: dict[str, Path] = field(repr=False)

    @property
    def profile(self) -> str:
        return self.raw["profile"]

    @property
    def is_demo(self) -> bool:
        return bool(self.raw.get("demo", False))

    def path(self, name: str) -> Path:
        return self.paths[name]

    @property
    def landing(self) -> Path:
        return self.paths["landing"]

    @property
    def lake(self) -> Path:
        return self.paths["lake"]

    def db(self, layer: str) -> str:
        return self.raw["databases"][layer]

    def table(self, layer: str, name: str) -> str:
        return f"{self.db(layer)}.{name}"

    @property
    def spark(self) -> dict[str, Any]:
        return self.raw["spark"]

    @property
    def catalog(self) -> dict[str, Any]:
        return self.raw["catalog"]

    def secret_path(self, name: str) -> Path:
        """A secret of the profile's services (generated at set-up, mode 0600)."""
        return self.data_dir / "secrets" / name

    @property
    def pii_key_file(self) -> Path | None:
        rel = self.raw["pii"].get("key_file")
        return None if not rel else (p if (p := Path(rel)).is_absolute() else self.data_dir / p)

    @property
    def pii_key(self) -> bytes:
        """The newest PII tokenisation key (of `pii_keys`)."""
        return self.pii_keys[-1]

    @cached_property
    def pii_keys(self) -> tuple[bytes, ...]:
        """Return the PII key ring, oldest first: $<key_env>, else the profile's key file (keys
        separated by white space; one until a rotation adds one); the demo key only on a demo
        profile."""
        env = self.raw["pii"]["key_env"]
        text = os.environ.get(env)
        where = f"${env}"
        if not text and (path := self.pii_key_file) is not None and path.exists():
            text, where = path.read_text(encoding="utf-8"), str(path)
        keys = (text or "").split()
        if keys:
            for key in keys:
                if not self.is_demo and (len(key) < MIN_KEY_LENGTH
                                         or key == self.raw["pii"].get("demo_key")):
                    raise ConfigError(
                        f"profile {self.profile!r} is not a demo profile: a PII key in {where} "
                        f"is the public demo key or shorter than {MIN_KEY_LENGTH} characters "
                        f"(make one with `python -c 'import secrets; "
                        f"print(secrets.token_hex(32))'`)")
            return tuple(k.encode() for k in keys)
        path = self.pii_key_file
        if not self.is_demo:
            where = f" or write it to {path}" if path else ""
            raise ConfigError(
                f"profile {self.profile!r} is not a demo profile: set {env} to the PII key{where}"
            )
        return (self.raw["pii"]["demo_key"].encode(),)

    @property
    def airflow(self) -> dict[str, Any]:
        return self.raw.get("airflow") or {}

    @property
    def cluster(self) -> dict[str, Any]:
        """The cluster profile's services (empty on the embedded profile)."""
        return self.raw.get("cluster") or {}


def load_config(profile: str | None = None) -> Config:
    """Load conf/<profile>.yaml (default: $LANHAI_PROFILE, else local)."""
    name = profile or os.environ.get("LANHAI_PROFILE") or DEFAULT_PROFILE
    raw = _read_profile(name)
    # $LANHAI_DATA_DIR is a path typed in a shell: relative to where it was typed. The
    # profile's data_dir is relative to the project, where the profile lives.
    env_dir = os.environ.get("LANHAI_DATA_DIR")
    data_dir = Path(env_dir).absolute() if env_dir else Path(raw.get("data_dir", "data"))
    if not data_dir.is_absolute():
        data_dir = PROJECT_ROOT / data_dir
    paths = {
        key: (p if (p := Path(value)).is_absolute() else data_dir / p)
        for key, value in raw["paths"].items()
    }
    return Config(raw=raw, data_dir=data_dir.resolve(), paths=paths)
