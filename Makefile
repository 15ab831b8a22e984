# Lanhai: `make demo` sets everything up from nothing and runs the main job; `make test` tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export UV_COMPILE_BYTECODE := 1
export SPARK_LOCAL_IP := 127.0.0.1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DO_NOT_TRACK := 1

.PHONY: setup system venv jars datasets demo test lint unit integration bench lock clean airflow airflow-stop notebooks-clean report bench-chain bench-history bench-sim cluster-up cluster-down cluster-status test-cluster sql-server sql-server-stop

setup: system venv jars datasets  ## everything a new machine needs

system:  ## Debian packages: a JDK (javac for the SQL endpoint's classes), Maven (jars), Chromium (PDFs, browser tests), CJK fonts, pdftotext, PostgreSQL (cluster profile), g++ (PyTensor's compiled fits)
	@if ! command -v javac >/dev/null || ! command -v mvn >/dev/null || ! command -v g++ >/dev/null \
	  || ! command -v chromium >/dev/null || ! command -v pdftotext >/dev/null \
	  || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 || ! dpkg -s postgresql >/dev/null 2>&1; then \
	  apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven chromium \
	    fonts-noto-cjk poppler-utils postgresql g++; fi

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==0.13.8

venv: $(UV)  ## the virtual environment, exactly as requirements.lock says
	$(UV) pip sync --python $(BIN)/python requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e .

jars: .jars/.done .jars/lanhai-sql.jar  ## Delta's jars (Maven, once: Spark starts offline); the SQL endpoint's classes
.jars/.done: jars/pom.xml
	mvn -q -B -f jars/pom.xml dependency:copy-dependencies -DexcludeTransitive=true \
	  -DoutputDirectory=$(CURDIR)/.jars
	touch $@

# javac against the pip-installed Spark's jars (jars/src: the endpoint's login and read-only guard)
.jars/lanhai-sql.jar: .jars/.done $(wildcard jars/src/lanhai/sql/*.java)
	$(BIN)/python -c "from lanhai.sql_endpoint import build_jar; build_jar(force=True)"

# The CDNOW sample (Fader & Hardie) that the customer-value test fits: the data file from the
# wheel of `lifetimes`, the package that ships it (the package itself is not installed)
datasets: .datasets/CDNOW_sample.txt  ## public data sets the tests use, fetched once
.datasets/CDNOW_sample.txt:
	mkdir -p .datasets/wheels
	$(BIN)/pip download -q --no-deps --only-binary :all: lifetimes==0.11.3 -d .datasets/wheels
	$(BIN)/python -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('.datasets/wheels/[Ll]ifetimes-*.whl')[0]); open('$@', 'wb').write(z.read('lifetimes/datasets/CDNOW_sample.txt'))"

demo: setup  ## simulate the sources (once), ingest bronze and silver, print a summary
	$(BIN)/lanhai demo

lint:  ## ruff for Python, sqlfluff for the dbt models
	$(BIN)/ruff check lanhai jobs dags tests bench
	$(BIN)/sqlfluff lint dbt_project/models

unit: setup  ## the fast tier: tests on their own rows, no lake, no services (under 3 minutes)
	$(BIN)/pytest -q -m "not integration"

# The fast tier runs first: a broken unit fails in minutes, not after the lake was built. The
# integration tests then run in one process, the small lake built once (tests/conftest.py).
# (The scheduler's smoke test is not run beside them: its Airflow on SQLite, with the lake's
# Spark on the same two cores, lost its scheduler to database-lock errors in two of two runs.)
test: setup lint unit  ## lint, the fast tier, then every other test but the cluster's
	$(BIN)/pytest -q -m "integration and not cluster"

test-cluster: setup  ## the cluster profile from nothing, the chain through its scheduler (slow)
	$(BIN)/pytest -q -m cluster tests/test_cluster_smoke.py tests/test_cluster.py

airflow: setup  ## Airflow on http://127.0.0.1:8080 (user admin; password generated or $$LANHAI_AIRFLOW_PASSWORD)
	$(BIN)/lanhai airflow-up

airflow-stop:  ## stop the Airflow services by PID
	$(BIN)/lanhai airflow-down

cluster-up: setup  ## the cluster profile: PostgreSQL, Spark master + 2 workers, Airflow (all on 127.0.0.1)
	$(BIN)/lanhai cluster-up

cluster-down:  ## stop every service of the cluster profile by PID
	$(BIN)/lanhai cluster-down

sql-server: setup  ## the analysts' SQL endpoint (Spark Thrift server, JDBC/ODBC) on the running cluster: 127.0.0.1:10000, login `analyst`
	$(BIN)/lanhai sql-server-up

sql-server-stop:  ## stop the SQL endpoint by PID
	$(BIN)/lanhai sql-server-down

cluster-status:  ## the cluster's services and running Spark applications
	$(BIN)/lanhai cluster-status

# $(or) splits its arguments at commas: the default list has to come from a variable
TWO_SCALES := small,medium

bench: setup  ## rows/s, dbt build, incremental vs full refresh, the DuckDB baseline (SCALES=small,medium); the whole chain embedded and on the cluster (CHAIN_SCALES=small)
	$(BIN)/python bench/run.py --scales $(or $(SCALES),$(TWO_SCALES))
	$(BIN)/python bench/chain.py --scales $(or $(CHAIN_SCALES),small)

bench-history: setup  ## one more day through ingest, gate and dbt after 90, 180, 360 and 540 days of history (SCALE=medium; POINTS=90,180,360,540)
	$(BIN)/python bench/history.py --scale $(or $(SCALE),medium) $(if $(POINTS),--points $(POINTS))

bench-sim: setup  ## the simulator alone: records/s, memory (SCALES=small,medium; large needs ~18 GB; DIR=folder)
	$(BIN)/python bench/simulator.py --scales $(or $(SCALES),$(TWO_SCALES)) $(if $(DIR),--dir $(DIR))

bench-chain: setup  ## the whole chain through Airflow, called directly, and on the cluster profile (SCALES=small; PROFILES=local,cluster; NO_DIRECT=1)
	$(BIN)/python bench/chain.py --scales $(or $(SCALES),small) $(if $(PROFILES),--profiles $(PROFILES)) $(if $(NO_DIRECT),--no-direct)

lock:  ## re-resolve requirements.lock from setup.cfg
	$(UV) pip compile setup.cfg --extra dev -o requirements.lock --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28

clean:  ## delete everything the project wrote (data/, .venv, .jars)
	rm -rf data .venv .jars

report: setup  ## the weekly review of the latest complete week (WEEK=2025-W23 for another)
	$(BIN)/lanhai report $(if $(WEEK),--week $(WEEK))

notebooks-clean:  ## strip the notebooks' outputs before a commit
	$(BIN)/python -c "import glob, nbformat; [nbformat.write(nb, p) for p in glob.glob('notebooks/*.ipynb') for nb in [nbformat.read(p, as_version=4)] if [c.update(outputs=[], execution_count=None) for c in nb.cells if c.cell_type == 'code'] is not None]"
