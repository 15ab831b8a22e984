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


def test_the_cluster_profile_keeps_its_secrets_out_of_spark_and_dbt_settings(monkeypatch,
                                                                            tmp_path):
    """The cluster profile opens the metastore in PostgreSQL with a password that lives in a
    0600 hive-site.xml on the driver's class path: not in Spark's settings (a command line),
    not in dbt's profiles.yml; its PII key comes from a generated 0600 file, never the demo
    key; and it takes no catalog lock."""
    from lanhai import cluster
    from lanhai.dbt import profiles
    from lanhai.spark import spark_conf

    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LANHAI_PII_KEY", raising=False)
    own = load_config("cluster")
    assert own.catalog["kind"] == "postgres" and not own.is_demo
    with pytest.raises(ConfigError, match="LANHAI_PII_KEY"):
        _ = own.pii_key
    cluster.ensure_pii_key(own)
    key_file = own.pii_key_file
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_config("cluster").pii_key == key_file.read_text().encode() != \
        own.raw["pii"]["demo_key"].encode()
    password = cluster.metastore_password(own)
    assert len(password) >= 24
    conf = spark_conf(own)
    assert conf["spark.master"].startswith("spark://127.0.0.1:")
    assert not any(password in v for v in conf.values())
    assert "derby" not in " ".join(conf.values()).lower()
    assert password not in str(profiles(own))
    [hive_conf, *jars] = conf["spark.driver.extraClassPath"].split(":")
    site = tmp_path / "cluster" / "hive-conf" / "hive-site.xml"
    assert hive_conf == str(site.parent) and any("postgresql-" in j for j in jars)
    assert site.stat().st_mode & 0o777 == 0o600 and password in site.read_text()
    assert "jdbc:postgresql://127.0.0.1:" in site.read_text()
