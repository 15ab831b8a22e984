"""The `lanhai` command: simulate the sources, run the lakehouse, show what it holds."""

from __future__ import annotations

import shutil
import time
from datetime import date
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
    from lanhai.simulator import simulate

    config = load_config(profile)
    sim = config.raw["simulator"]
    if clean and config.landing.exists():
        shutil.rmtree(config.landing)
    rates = dict(sim.get("defects", {}))
    if not defects:
        rates = {k: 0 for k in rates}
    with console.status("simulating the marketplace…") as status:
        result = simulate(
            config.landing, config.path("simulator"),
            start=date.fromisoformat(start or sim["start"]), days=days or sim["days"],
            scale=scale or sim["scale"], seed=seed if seed is not None else sim["seed"],
            defects=rates,
            progress=lambda entity, n: status.update(f"wrote {entity}: {n:,} records"),
        )
    m = result.manifest
    console.print(f"landed {result.rows:,} records in {result.files:,} files under "
                  f"{config.landing} in {result.seconds:.1f} s "
                  f"({result.rows / result.seconds:,.0f} records/s)")
    console.print(f"defects: {len(m['defects'])} invalid records, {len(m['duplicates'])} "
                  f"duplicates, {len(m['late_files'])} late files, {len(m['schema_drift'])} "
                  f"drifted file; manifest: {result.manifest_path}")


@app.command()
def ingest(
    job: Annotated[str, typer.Argument(help="bronze, silver, ingest (both) or retention")] =
    "ingest",
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

    result = run_job(job, config, entity, on_batch=on_batch)
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


@app.command("dbt-sources")
def dbt_sources() -> None:
    """Regenerate dbt's generated files: _sources.yml (schemas/) and the KPI seeds (conf/)."""
    from lanhai.dbt import SOURCES_YML, seed_texts, sources_text

    SOURCES_YML.write_text(sources_text(), encoding="utf-8")
    console.print(f"wrote {SOURCES_YML}")
    for path, text in seed_texts().items():
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {path}")


@app.command()
def demo(
    scale: Annotated[str | None, typer.Option(help="tiny, small, medium or large")] = None,
    regenerate: Annotated[bool, typer.Option(help="simulate again even if files landed")] = False,
    profile: Profile = None,
) -> None:
    """Simulate (once), ingest to bronze and silver, build the marts, and summarise."""
    config = load_config(profile)
    began = time.perf_counter()
    if regenerate or not (config.path("simulator") / "manifest.json").exists():
        generate(scale=scale, profile=profile, clean=True)
    ingest(profile=profile)
    summary(profile=profile)
    from lanhai.dbt import run_dbt
    from lanhai.summary import print_latest_week

    console.print("building the marts (dbt build)…")
    if not run_dbt(config, ["build"]):
        console.print("[red]dbt build failed[/red]: see the log above and data/dbt/logs")
        raise typer.Exit(1)
    from lanhai.spark import get_spark

    print_latest_week(get_spark(config), config, console)
    console.print(f"[bold]demo finished in {time.perf_counter() - began:.0f} s[/bold]")


if __name__ == "__main__":
    app()
