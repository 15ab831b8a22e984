import pytest

from lanhai.config import ConfigError, load_config


def test_demo_key_is_refused_outside_a_demo_profile(monkeypatch, tmp_path):
    monkeypatch.delenv("LANHAI_PII_KEY", raising=False)
    cfg = load_config("test")
    assert cfg.pii_key  # demo profile: the demo key is allowed
    prod = load_config("test")
    object.__setattr__(prod, "raw", {**prod.raw, "demo": False, "profile": "prod"})
    prod.__dict__.pop("pii_key", None)
    with pytest.raises(ConfigError, match="LANHAI_PII_KEY"):
        _ = prod.pii_key
    monkeypatch.setenv("LANHAI_PII_KEY", "s3cret")
    prod.__dict__.pop("pii_key", None)
    assert prod.pii_key == b"s3cret"


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ConfigError, match="local"):
        load_config("nope")


def test_paths_live_under_the_data_dir(config):
    assert config.landing.is_relative_to(config.data_dir)
    assert config.lake.is_relative_to(config.data_dir)
