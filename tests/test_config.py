import pytest

from lanhai.config import ConfigError, load_config


def test_demo_key_is_refused_outside_a_demo_profile(monkeypatch):
    from dataclasses import replace

    monkeypatch.delenv("LANHAI_PII_KEY", raising=False)
    demo = load_config("test")
    assert demo.pii_key == demo.raw["pii"]["demo_key"].encode()
    prod = replace(demo, raw={**demo.raw, "demo": False, "profile": "prod"})
    with pytest.raises(ConfigError, match="LANHAI_PII_KEY"):
        _ = prod.pii_key
    monkeypatch.setenv("LANHAI_PII_KEY", "s3cret")
    assert replace(prod).pii_key == b"s3cret"


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ConfigError, match="local"):
        load_config("nope")


def test_paths_live_under_the_data_dir(config):
    assert config.landing.is_relative_to(config.data_dir)
    assert config.lake.is_relative_to(config.data_dir)
