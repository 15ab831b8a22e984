"""The `lanhai` command: simulate the sources, run the lakehouse, show what it holds."""

from __future__ import annotations

import contextlib
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lanhai.config import load_config

app = typer.Typer(help="Lanhai (藍海): the lakehouse of the blue-ocean operating plan.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
console = Console(width=None if Console().is_terminal else 140)

Profile = Annotated[str | None, typer.Option(help="conf/<profile>.yaml; default $LANHAI_PROFILE "
                                                  "or local")]


@app.command()
def generate(
    start: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD")] = None,
    days: Annotated[int | None, typer.Option(help="number of days")] = None,
    scale: Annotated[str | None, typer.Option(help="tiny, small, medium or large")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    defects: Annotated[bool, typer.Option(help="inject the configured defects")] = True,
    clean: Annotated[bool, typer.Option(help="empty the landing zone first")] = False,
    profile: Profile = None,
) -> None:
    """Simulate the source systems and land their files (with a manifest of truths)."""
    from lanhai.simulator import memory_check, simulate

    config = load_config(profile)
    sim = config.raw["simulator"]
    if clean and config.landing.exists():
        shutil.rmtree(config.landing)
    rates = dict(sim.get("defects", {}))
    if not defects:
        rates = {k: 0 for k in rates}
    with console.status("simulating the marketplace…") as status:
        try:
            memory_check(scale or sim["scale"], days or sim["days"])
        except MemoryError as err:
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(2) from err
        result = simulate(
            config.landing, config.path("simulator"),
            start=date.fromisoformat(start or sim["start"]), days=days or sim["days"],
            scale=scale or sim["scale"], seed=seed if seed is not None else sim["seed"],
            defects=rates,
            progress=lambda step, n: status.update(
                f"modelled {n:,} orders; writing the files…" if step == "model" else
                f"computed the truths of {n} weeks" if step == "truths" else
                f"wrote {step}: {n:,} records"),
        )
    m = result.manifest
    console.print(f"landed {result.rows:,} records in {result.files:,} files under "
                  f"{config.landing} in {result.seconds:.1f} s "
                  f"({result.rows / result.seconds:,.0f} records/s; the model "
                  f"{result.model_seconds:.1f} s, files and truths in {result.workers} "
                  f"processes {result.seconds - result.model_seconds:.1f} s)")
    console.print(f"defects: {len(m['defects'])} invalid records, {len(m['duplicates'])} "
                  f"duplicates, {len(m['late_files'])} late files, {len(m['schema_drift'])} "
                  f"drifted file; manifest: {result.manifest_path}")


@app.command()
def ingest(
    job: Annotated[str, typer.Argument(help="bronze, silver, ingest (both), retention, or "
                                            "replay (silver rebuilt from bronze)")] = "ingest",
    entity: Annotated[list[str] | None, typer.Option(help="only these entities")] = None,
    profile: Profile = None,
) -> None:
    """Load new landed files into bronze and silver (each file once)."""
    from lanhai.jobs.ingest import run_job

    config = load_config(profile)
    began = time.perf_counter()

    def on_batch(layer: str, name: str, rows: int) -> None:
        console.print(f"  {time.perf_counter() - began:6.1f} s  {layer:6s} {name:11s} "
                      f"{rows:>10,} rows")

    try:
        result = run_job(job, config, entity, on_batch=on_batch)
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    for r in result.get("bronze", []):
        for s in r.get("skipped_files", []):
            console.print(f"[yellow]skipped[/yellow] {r['entity']}: {s['file']}: {s['reason']}")
        if r.get("refused"):
            console.print(f"[yellow]refused[/yellow] {r['entity']}: {r['refused']} symbolic "
                          f"link(s), quarantined whole (`lanhai summary`)")
    made = [f"{layer}.{r['entity']}" for layer in ("bronze", "silver")
            for r in result.get(layer, []) if r.get("created_empty")]
    if made:
        console.print(f"[yellow]no record yet[/yellow]: created empty: {', '.join(made)}")
    console.print(f"{job} finished in {result['seconds']} s (run {result['run_id']})")


@app.command()
def summary(profile: Profile = None) -> None:
    """Print rows per table, quarantined rows by rule and the last run's accounting."""
    from lanhai.spark import get_spark
    from lanhai.summary import print_summary

    config = load_config(profile)
    print_summary(get_spark(config), config, console)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context, profile: Profile = None) -> None:
    """Run dbt (e.g. `lanhai dbt build`) in this process, on the project's catalog."""
    from lanhai.dbt import run_dbt

    if not run_dbt(load_config(profile), list(ctx.args) or ["build"]):
        raise typer.Exit(1)


@app.command("customer-value")
def customer_value(
    full_refresh: Annotated[bool, typer.Option(help="fit every week again")] = False,
    profile: Profile = None,
) -> None:
    """Fit BG/NBD and Gamma-Gamma for the weeks dbt's customer histories changed and write
    the customer-value marts (clv_customers_weekly, clv_weekly, clv_fits_weekly)."""
    from lanhai.jobs.customer_value import run
    from lanhai.spark import get_spark

    config = load_config(profile)
    result = run(get_spark(config), config, full_refresh=full_refresh,
                 progress=lambda m: console.print(f"  ▶ {m}"))
    console.print(result)


@app.command("ab-readout")
def ab_readout(profile: Profile = None) -> None:
    """The A/B readout of every experiment (lift, 95% interval, p-value, sample-ratio check,
    enough data) from dbt's marts.mart_ab_conversion into marts.ab_readout."""
    from lanhai.jobs.ab_readout import run
    from lanhai.spark import get_spark

    config = load_config(profile)
    console.print(run(get_spark(config), config, progress=lambda m: console.print(f"  ▶ {m}")))


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="one SQL statement; none: an "
                                                     "interactive session")] = None,
    engine: Annotated[str, typer.Option(help="duckdb (no JVM, the marts' Delta files) or "
                                             "spark (the shared catalog)")] = "duckdb",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json (one object a "
                                                      "line)")] = "table",
    timer: Annotated[bool, typer.Option(help="print the query's time to stderr")] = False,
    profile: Profile = None,
) -> None:
    """Query the marts in SQL (`lanhai sql "select * from kpi_gmv_weekly limit 5"`)."""
    import sys

    from lanhai import sql as fast

    if engine not in fast.ENGINES or fmt not in fast.FORMATS:
        console.print(f"[red]--engine is one of {fast.ENGINES}, --format one of "
                      f"{fast.FORMATS}[/red]")
        raise typer.Exit(2)
    config = load_config(profile)
    session = None
    try:
        if engine == "duckdb":
            session = fast.FastPath(config)
            run = session.query
        else:
            def run(statement):
                return fast.spark_query(config, statement)
        if query is None:
            fast.interactive(run, session, fmt)
            return
        began = time.perf_counter()
        result = run(query)
        elapsed = time.perf_counter() - began
    except Exception as err:  # the query's or the lake's fault: one clear line, exit 1
        console.print(f"[red]{type(err).__name__}: {str(err).splitlines()[0]}[/red]")
        raise typer.Exit(1) from err
    finally:
        if session is not None:
            session.close()
    fast.render(result, fmt)
    if timer:
        print(f"{engine}: {elapsed:.3f} s", file=sys.stderr)


@app.command()
def review(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W23 (default: the "
                                                  "latest complete week)")] = None,
    profile: Profile = None,
) -> None:
    """Print a week's KPIs against the plan's targets, from marts.mart_weekly_review."""
    from lanhai.spark import get_spark
    from lanhai.summary import print_latest_week

    config = load_config(profile)
    print_latest_week(get_spark(config), config, console, week=week)


@app.command("erase-user")
def erase_user(
    user_id: Annotated[list[str], typer.Argument(help="the account id(s) to erase")],
    rebuild: Annotated[bool, typer.Option(help="rebuild the dependent dbt models (and vacuum "
                                               "them)")] = True,
    profile: Profile = None,
) -> None:
    """PIPL erasure: remove users from the landing zone, every table, every Delta version, the
    marts and the files the lakehouse wrote (docs/ingest.md, "Erasing a person")."""
    from lanhai.erasure import erase_users
    from lanhai.spark import get_spark

    config = load_config(profile)
    try:
        done = erase_users(get_spark(config), config, user_id, rebuild=rebuild,
                           on_step=lambda m: console.print(f"  ▶ {m}"))
    except (ValueError, RuntimeError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    if not done.found:
        console.print(f"[yellow]nothing of {', '.join(user_id)} was found[/yellow] (already "
                      f"erased, or never landed); recorded as request {done.request_id}")
        return
    console.print(f"erased {done.users} user(s) in {done.seconds} s (request "
                  f"{done.request_id}, audit.erasures): {len(done.landing_files)} landed "
                  f"file(s), {len(done.tables)} table(s), {len(done.models_rebuilt)} model(s) "
                  f"rebuilt, {len(done.vacuumed)} vacuumed, {len(done.files_scrubbed)} other "
                  f"file(s)")


@app.command("rotate-key")
def rotate_key_cmd(
    new_key_file: Annotated[Path, typer.Option(help="a file holding the new key (make one "
                                                    "with `python -c 'import secrets; "
                                                    "print(secrets.token_hex(32))'`)")],
    profile: Profile = None,
) -> None:
    """Rotate the PII tokenisation key: re-key every stored token, add the key to the ring
    (docs/ingest.md, "Rotating the tokenisation key")."""
    from lanhai.config import ConfigError
    from lanhai.rotation import read_new_key, rotate_key
    from lanhai.spark import get_spark

    config = load_config(profile)
    try:
        key = read_new_key(new_key_file, config)
        done = rotate_key(get_spark(config), config, key,
                          on_step=lambda m: console.print(f"  ▶ {m}"))
    except (ConfigError, OSError) as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    console.print(f"key {done.fingerprint} added in {done.seconds} s: {len(done.tables)} "
                  f"table(s) re-keyed ({sum(done.tables.values()):,} rows), "
                  f"{len(done.skipped)} already done, {len(done.files)} file(s); delete "
                  f"{new_key_file} now (the ring holds the key)")


@app.command()
def report(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2025-W23 (default: the "
                                                  "latest complete week)")] = None,
    lang: Annotated[list[str] | None, typer.Option(help="zh (default) and/or en; repeat "
                                                        "for both")] = None,
    pdf: Annotated[bool, typer.Option(help="print a PDF of each language too")] = True,
    profile: Profile = None,
) -> None:
    """Build the weekly operating review (HTML and PDF) from the marts under reports/<week>/."""
    from lanhai.report import ReportError, build_report
    from lanhai.spark import get_spark

    config = load_config(profile)
    try:
        files = build_report(get_spark(config), config, week=week,
                             langs=tuple(lang or ("zh", "en")), pdf=pdf,
                             progress=lambda m: console.print(f"  ▶ {m}"))
    except ReportError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    console.print(f"weekly review {files.week} ({files.status}) in {files.folder}:")
    for path in [*files.html.values(), *files.pdf.values(), files.snapshot]:
        console.print(f"  {path}")


@app.command("quarterly-report")
def quarterly_report(
    quarter: Annotated[str | None, typer.Option(help="calendar quarter, e.g. 2025Q2 "
                                                     "(default: the latest complete quarter)")]
    = None,
    lang: Annotated[list[str] | None, typer.Option(help="zh (default) and/or en; repeat "
                                                        "for both")] = None,
    pdf: Annotated[bool, typer.Option(help="print a PDF of each language too")] = True,
    profile: Profile = None,
) -> None:
    """Build the quarterly review (category growth, user feedback, merchant satisfaction) from
    the quarterly marts under reports/quarterly/<quarter>/."""
    from lanhai.report import ReportError
    from lanhai.report.quarterly import build_quarterly_report
    from lanhai.spark import get_spark

    config = load_config(profile)
    try:
        files = build_quarterly_report(get_spark(config), config, quarter=quarter,
                                       langs=tuple(lang or ("zh", "en")), pdf=pdf,
                                       progress=lambda m: console.print(f"  ▶ {m}"))
    except ReportError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    console.print(f"quarterly review {files.quarter} ({files.status}) in {files.folder}:")
    for path in [*files.html.values(), *files.pdf.values(), files.snapshot]:
        console.print(f"  {path}")


@app.command("airflow-setup")
def airflow_setup(profile: Profile = None) -> None:
    """Airflow's metadata DB, the `spark` pool, the dbt manifest, the admin's password."""
    from lanhai import airflow_env

    config = load_config(profile)
    airflow_env.setup(config)
    console.print(f"Airflow set up under {config.path('airflow')}")


@app.command("airflow-up")
def airflow_up(
    port: Annotated[int, typer.Option(help="UI/API port on 127.0.0.1")] = 8080,
    profile: Profile = None,
) -> None:
    """Start Airflow (API server + UI, scheduler, DAG processor, triggerer) in the background."""
    from lanhai import airflow_env

    config = load_config(profile)
    airflow_env.setup(config)
    pids = airflow_env.up(config, port)
    console.print(f"Airflow is up on http://127.0.0.1:{port} (user admin, password in "
                  f"{config.path('airflow') / 'passwords.json'}); PIDs {pids}. "
                  "Stop it with `lanhai airflow-down`.")


@app.command("airflow-down")
def airflow_down(profile: Profile = None) -> None:
    """Stop the Airflow services started by airflow-up, by PID."""
    from lanhai import airflow_env

    console.print(f"stopped {airflow_env.down(load_config(profile))}")


@app.command("airflow", context_settings={"allow_extra_args": True,
                                          "ignore_unknown_options": True})
def airflow_cli(ctx: typer.Context, profile: Profile = None) -> None:
    """Run the airflow CLI in the project's Airflow environment, e.g. `lanhai airflow dags list`."""
    from lanhai import airflow_env

    proc = airflow_env.run(load_config(profile), list(ctx.args), check=False)
    raise typer.Exit(proc.returncode)


@app.command("cluster-up")
def cluster_up(
    airflow: Annotated[bool, typer.Option(help="start Airflow on the cluster too")] = True,
    port: Annotated[int, typer.Option(help="Airflow's UI/API port on 127.0.0.1")] = 8080,
    profile: Profile = "cluster",
) -> None:
    """Start the cluster profile's services by PID: PostgreSQL (metastore, Airflow's metadata),
    the Spark master and workers, and Airflow (LocalExecutor)."""
    from lanhai import airflow_env, cluster

    config = load_config(profile)
    try:
        pids = cluster.up(config, progress=lambda m: console.print(f"  ▶ {m}"))
        if airflow:
            console.print("  ▶ Airflow (metadata in PostgreSQL, LocalExecutor)")
            airflow_env.setup(config)
            pids.update(airflow_env.up(config, port))
    except cluster.ClusterError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    sp = config.cluster["spark"]
    console.print(f"cluster up: Spark master {cluster.master_url(config)} (UI "
                  f"http://127.0.0.1:{sp['master_ui_port']}), {sp['workers']} workers; "
                  f"PostgreSQL 127.0.0.1:{config.cluster['postgres']['port']}"
                  + (f"; Airflow http://127.0.0.1:{port}" if airflow else "")
                  + f". PIDs {pids}. Use LANHAI_PROFILE={config.profile} for the jobs, "
                  "dbt and readers; stop with `make cluster-down`.")


@app.command("cluster-down")
def cluster_down(profile: Profile = "cluster") -> None:
    """Stop every service of the cluster profile by PID (Airflow, Spark, then PostgreSQL)."""
    from lanhai import cluster

    console.print(f"stopped {cluster.down(load_config(profile))}")


@app.command("cluster-status")
def cluster_status(profile: Profile = "cluster") -> None:
    """The cluster profile's services and the Spark applications running on the master."""
    from lanhai import cluster

    config = load_config(profile)
    pids = cluster.running(config)
    console.print(f"services: {pids or 'none running'}")
    for name, ip, port in cluster.listening(pids):
        console.print(f"  {name} listens on {ip}:{port}")
    with contextlib.suppress(OSError):
        status = cluster.master_status(config)
        console.print(f"workers alive: {status['aliveworkers']}, cores {status['coresused']}"
                      f"/{status['cores']} used")
        for a in status.get("activeapps", []):
            console.print(f"  running: {a['name']} ({a['id']}, {a['cores']} cores)")


@app.command("sql-server-up")
def sql_server_up(profile: Profile = "cluster") -> None:
    """Start the analysts' SQL endpoint (Spark's Thrift server: JDBC/ODBC, HiveServer2's
    protocol) on the running cluster: logins from a users file, the marts read-only."""
    from lanhai import sql_endpoint

    config = load_config(profile)
    try:
        pid = sql_endpoint.up(config)
    except sql_endpoint.EndpointError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    console.print(f"SQL endpoint up (PID {pid}): {sql_endpoint.jdbc_url(config)}; login "
                  f"`analyst`, password in {sql_endpoint.password_file(config, 'analyst')}; "
                  "more logins with `lanhai sql-user NAME`; stop with `make sql-server-stop`.")


@app.command("sql-server-down")
def sql_server_down(profile: Profile = "cluster") -> None:
    """Stop the SQL endpoint by PID."""
    from lanhai import sql_endpoint

    console.print(f"stopped {sql_endpoint.down(load_config(profile)) or 'nothing'}")


@app.command("sql-user")
def sql_user(name: Annotated[str, typer.Argument(help="the login to add or give a new "
                                                      "password")],
             profile: Profile = "cluster") -> None:
    """Add a login to the SQL endpoint (or give it a new password): the password is written to
    a file only its owner can read, never printed. No restart needed."""
    from lanhai import sql_endpoint

    config = load_config(profile)
    try:
        sql_endpoint.settings(config)
        path = sql_endpoint.add_user(config, name)
    except sql_endpoint.EndpointError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from err
    console.print(f"login {name!r}: password in {path} (mode 0600)")


@app.command("dbt-manifest")
def dbt_manifest(profile: Profile = None) -> None:
    """Build dbt's manifest (dbt parse, no Spark) for the Airflow transform DAG."""
    from lanhai.dbt import build_manifest

    console.print(f"wrote {build_manifest(load_config(profile))}")


@app.command("dbt-docs")
def dbt_docs(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8081,
    generate: Annotated[bool, typer.Option(help="run `dbt docs generate` first (Spark)")] = True,
    profile: Profile = None,
) -> None:
    """Serve dbt's docs (lineage, every model and column) on http://127.0.0.1:PORT."""
    import functools
    import http.server

    from lanhai.dbt import run_dbt

    config = load_config(profile)
    target = config.path("dbt") / "target"
    if generate and not run_dbt(config, ["docs", "generate"]):
        raise typer.Exit(1)
    if not (target / "index.html").exists():
        console.print(f"[red]no docs in {target}: run without --no-generate[/red]")
        raise typer.Exit(2)
    # what `dbt docs serve` does (static files), bound to the loopback address only
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        console.print(f"dbt docs on http://127.0.0.1:{port} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


@app.command("dbt-sources")
def dbt_sources() -> None:
    """Regenerate the generated files: dbt's _sources.yml and the staging views' column
    descriptions (schemas/), the KPI seeds, the KPI registry and bronze entity macros,
    docs/kpis.md (conf/targets.yaml) and docs/data-dictionary.md (schemas/, dbt's yml)."""
    from lanhai.dbt import (
        SOURCES_YML,
        STAGING_YML,
        generated_macros,
        seed_texts,
        sources_text,
        staging_text,
    )

    SOURCES_YML.write_text(sources_text(), encoding="utf-8")
    console.print(f"wrote {SOURCES_YML}")
    STAGING_YML.write_text(staging_text(), encoding="utf-8")
    console.print(f"wrote {STAGING_YML}")
    for path, text in {**seed_texts(), **generated_macros()}.items():
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")
    from lanhai.kpi_docs import KPI_DOCS, kpi_docs_text

    KPI_DOCS.write_text(kpi_docs_text(), encoding="utf-8")
    console.print(f"wrote {KPI_DOCS}")
    from lanhai.dictionary import DICTIONARY, dictionary_text

    DICTIONARY.write_text(dictionary_text(), encoding="utf-8")
    console.print(f"wrote {DICTIONARY}")


def _unpin_log_handlers(stream) -> None:
    """Point every logging handler that a library made on `stream` (the redirected stderr, about
    to be closed) at this process's stderr: py4j logs as the interpreter exits, and a handler
    left on a closed stream prints "--- Logging error ---" under the demo's output."""
    import logging
    import sys

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
                handler.setStream(sys.stderr)


@contextlib.contextmanager
def logs_to_file(path):
    """Send everything this process and the processes it starts write to stdout and stderr
    (Airflow's task logs, dbt's, the Spark JVM's) to `path`, while the module's console keeps
    writing to the terminal: the demo shows its stages, the log file has the rest."""
    import os
    import sys

    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
    # the console's own setting, not `console.file` (which resolves an unset file to the
    # sys.stdout of the moment: restoring that would pin the console to a stream that may be
    # closed later, e.g. a test runner's capture)
    previous = console._file
    with path.open("ab") as log, open(os.dup(log.fileno()), "w", buffering=1,
                                       encoding="utf-8", errors="replace") as text:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        console.file = terminal
        try:
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            _unpin_log_handlers(text)
            console.file = previous
            terminal.close()


@app.command()
def demo(
    scale: Annotated[str | None, typer.Option(help="tiny, small, medium or large")] = None,
    regenerate: Annotated[bool, typer.Option(help="simulate again even if files landed")] = False,
    direct: Annotated[bool, typer.Option(help="call the jobs and dbt directly instead of "
                                              "running the DAGs")] = False,
    profile: Profile = None,
) -> None:
    """Simulate (once), then run the chain through Airflow (each domain's ingest, the quality
    gate, dbt, the weekly review), and print the summary and the latest complete week against
    the plan."""
    config = load_config(profile)
    began = time.perf_counter()
    if regenerate or not (config.path("simulator") / "manifest.json").exists():
        generate(scale=scale, profile=profile, clean=True)
    from lanhai.simulator import load_manifest

    params = load_manifest(config.path("simulator"))["params"]
    start = date.fromisoformat(params["start"])
    end = start + timedelta(days=int(params["days"]) - 1)
    log = config.data_dir / "logs" / f"demo-{time.strftime('%Y%m%d-%H%M%S')}.log"
    console.print(f"Airflow's, dbt's and Spark's logs go to {log}")
    try:
        with logs_to_file(log):
            _demo_chain(config, start, end, direct, profile, began)
    except typer.Exit:
        console.print(f"the logs: {log}")
        raise


def _demo_chain(config, start, end, direct: bool, profile, began: float) -> None:
    from lanhai.summary import print_latest_week

    if direct:
        from lanhai import pipeline

        console.print(f"running the pipeline in this process for {start}..{end} "
                      "(lanhai.pipeline: the stages the DAGs run, without Airflow)…")
        try:
            pipeline.run(config, start, end, progress=lambda m: console.print(
                f"  {time.perf_counter() - began:6.0f} s  ▶ {m}"))
        except pipeline.StageFailed as err:
            console.print(f"[red]{err}[/red]")
            raise typer.Exit(1) from err
    else:
        from lanhai.airflow_env import ChainFailed, run_chain

        console.print(f"running the chain through Airflow for {start}..{end} "
                      "(one DAG run per stage, `airflow dags test` in this process)…")

        def stage(dag_id):
            console.print(f"  {time.perf_counter() - began:6.0f} s  ▶ {dag_id}")

        def done(dag_id, result):
            state, seconds, tasks = result
            console.print(f"  {time.perf_counter() - began:6.0f} s    {state}: "
                          f"{len(tasks)} tasks in {seconds:.0f} s")

        try:
            run_chain(config, start, end, progress=stage, finished=done)
        except ChainFailed as err:
            console.print(f"[red]{err}[/red]\nsee {config.path('airflow') / 'logs'}")
            raise typer.Exit(1) from err
    from lanhai.intervals import last_complete_week
    from lanhai.spark import get_spark

    week = last_complete_week(end)
    summary(profile=profile)
    print_latest_week(get_spark(config), config, console)
    folder = config.path("reports") / week
    console.print(f"[bold]weekly review {week}[/bold] (HTML and PDF, 中文 and English): "
                  + ", ".join(str(p) for p in sorted(folder.glob("review-*"))))
    # the quarterly review's DAG runs on the first Monday of a quarter: the demo builds the
    # latest complete quarter's now
    from lanhai.report import ReportError
    from lanhai.report.quarterly import build_quarterly_report

    try:
        q = build_quarterly_report(get_spark(config), config)
        console.print(f"[bold]quarterly review {q.quarter}[/bold] (HTML and PDF, 中文 and "
                      f"English): " + ", ".join(str(p) for p in [*q.html.values(),
                                                                *q.pdf.values()]))
    except ReportError as err:
        console.print(f"no quarterly review: {err}")
    console.print(f"[bold]demo finished in {time.perf_counter() - began:.0f} s[/bold]")


if __name__ == "__main__":
    app()
