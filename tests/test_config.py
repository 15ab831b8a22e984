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
    strong = "k" * 31 + "!"
    monkeypatch.setenv("LANHAI_PII_KEY", strong)
    assert replace(prod).pii_key == strong.encode()
    for weak in ("s", "s3cret", "k" * 31, demo.raw["pii"]["demo_key"]):
        monkeypatch.setenv("LANHAI_PII_KEY", weak)
        with pytest.raises(ConfigError, match="the public demo key or shorter than 32"):
            _ = replace(prod).pii_key
    monkeypatch.setenv("LANHAI_PII_KEY", "s")
    assert replace(demo).pii_key == b"s"  # a demo profile takes any key it is given


def test_a_profile_extending_a_demo_profile_is_not_a_demo_profile(monkeypatch, tmp_path):
    from lanhai import config as cfg

    (tmp_path / "prod.yaml").write_text("extends: local\nprofile: prod\n")
    (tmp_path / "laptop.yaml").write_text("extends: local\nprofile: laptop\ndemo: true\n")
    (tmp_path / "local.yaml").write_text((cfg.CONF_DIR / "local.yaml").read_text())
    monkeypatch.setattr(cfg, "CONF_DIR", tmp_path)
    monkeypatch.delenv("LANHAI_PII_KEY", raising=False)
    assert load_config("local").is_demo
    assert load_config("laptop").is_demo
    prod = load_config("prod")
    assert not prod.is_demo
    with pytest.raises(ConfigError, match="not a demo profile"):
        _ = prod.pii_key


def test_a_relative_data_dir_is_relative_to_where_it_was_typed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANHAI_DATA_DIR", "lake-here")
    assert load_config("local").data_dir == tmp_path / "lake-here"
    monkeypatch.delenv("LANHAI_DATA_DIR")
    from lanhai.config import PROJECT_ROOT

    assert load_config("local").data_dir == PROJECT_ROOT / "data"  # the profile's: the project's


def test_the_driver_keeps_its_jvm_tuning_and_an_executor_gets_its_own(monkeypatch, tmp_path):
    from lanhai import config as cfg
    from lanhai.spark import spark_conf

    (tmp_path / "local.yaml").write_text((cfg.CONF_DIR / "local.yaml").read_text())
    (tmp_path / "quick.yaml").write_text(
        "extends: local\nprofile: quick\nspark:\n  java_options: -XX:+UseSerialGC -Xss4m\n"
        "  executor_java_options: -XX:TieredStopAtLevel=1\n")
    monkeypatch.setattr(cfg, "CONF_DIR", tmp_path)
    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path / "data"))
    conf = spark_conf(load_config("quick"))
    driver = conf["spark.driver.extraJavaOptions"].split()
    executor = conf["spark.executor.extraJavaOptions"].split()
    assert driver[:2] == ["-XX:+UseSerialGC", "-Xss4m"]
    assert "-XX:+UseSerialGC" not in executor and "-XX:TieredStopAtLevel=1" in executor
    assert "-XX:TieredStopAtLevel=1" not in driver
    assert "-Duser.timezone=Asia/Shanghai" in executor  # the lake's clock on both
    local = spark_conf(load_config("local"))["spark.executor.extraJavaOptions"]
    assert "XX:" not in local


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


def test_the_cluster_airflow_takes_no_sqlite_setting_from_an_embedded_run(monkeypatch,
                                                                          tmp_path):
    """An embedded profile's chain (run_chain, in this process) leaves SQLite's connect
    arguments in os.environ; the cluster's Airflow on PostgreSQL must not inherit them
    (psycopg2: `invalid connection option "timeout"`, and `airflow db migrate` failed in
    the cluster test run from nothing)."""
    from lanhai.airflow_env import SQLITE_ARGS_KEYS, environ

    embedded = environ(load_config("test"), home=tmp_path / "embedded")
    assert all(embedded[k] == "lanhai.airflow_env.SQLITE_CONNECT_ARGS" for k in SQLITE_ARGS_KEYS)
    for key in SQLITE_ARGS_KEYS:
        monkeypatch.setenv(key, embedded[key])
    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path))
    env = environ(load_config("cluster"))
    assert not set(SQLITE_ARGS_KEYS) & set(env)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"].startswith("cat ")


def test_an_ingest_into_a_data_folder_without_a_landing_zone_fails_and_says_where(
        monkeypatch, tmp_path):
    from lanhai.jobs.ingest import run_job

    monkeypatch.setenv("LANHAI_DATA_DIR", str(tmp_path / "typo"))
    config = load_config("test")
    with pytest.raises(FileNotFoundError, match=r"no landing zone at .*typo/landing"):
        run_job("ingest", config)


def test_the_key_file_is_a_key_ring_oldest_first(monkeypatch, tmp_path):
    from dataclasses import replace

    monkeypatch.delenv("LANHAI_PII_KEY", raising=False)
    base = load_config("test")
    ring = tmp_path / "pii.key"
    ring.write_text("a" * 32 + "\n" + "b" * 32 + "\n")
    prod = replace(base, raw={**base.raw, "demo": False, "profile": "prod",
                              "pii": {**base.raw["pii"], "key_file": str(ring)}})
    assert prod.pii_keys == (b"a" * 32, b"b" * 32) and prod.pii_key == b"b" * 32
    ring.write_text("a" * 32 + "\nshort\n")
    with pytest.raises(ConfigError, match="shorter than 32"):
        _ = replace(prod).pii_keys


def test_the_gates_rules_live_in_the_profile_only():
    """conf/local.yaml's `quality` block is the one home of the gate's business rules (issue 13):
    the gate keeps no copy of its own, and a profile without them is refused by name."""
    from dataclasses import replace

    from lanhai.quality import gate

    config = load_config("test")
    assert gate.settings(config) == config.raw["quality"]
    assert set(gate.RULES) == set(config.raw["quality"])
    assert not hasattr(gate, "DEFAULTS")
    rules = {k: v for k, v in config.raw["quality"].items() if k != "volume_floor"}
    with pytest.raises(ValueError, match=r"lacks \['volume_floor'\]"):
        gate.settings(replace(config, raw={**config.raw, "quality": rules}))


def _ports(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _ports(value, (*path, str(key)))
    elif path and path[-1].endswith("port") and isinstance(node, int):
        yield ".".join(path), node


@pytest.mark.parametrize("profile", ["local", "test", "cluster", "cluster_test"])
def test_no_service_listens_on_a_port_the_kernel_hands_to_outgoing_connections(profile):
    """A port in the ephemeral range (Linux: 32768-60999) can be the local end of any
    process's outgoing connection when a service starts, which then fails to bind (the
    cluster test's PostgreSQL on 55532 did, beside a busy Spark session)."""
    from lanhai.config import _read_profile

    low, high = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = map(int, fh.read().split())
    except OSError:
        pass
    ports = dict(_ports(_read_profile(profile)))
    if profile.startswith("cluster"):
        assert "cluster.postgres.port" in ports, ports
    assert {k: p for k, p in ports.items() if low <= p <= high} == {}
