"""The command line's own behaviour (no Spark)."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_logs_go_to_a_file_and_its_stages_to_the_terminal(tmp_path, capfd):
    """Inside `logs_to_file` (what `lanhai demo` runs the chain in), what the process and the
    processes it starts print (Airflow's task logs, dbt's, the Spark JVM's) goes to the file;
    the console's lines (the stages) still reach the terminal."""
    from lanhai import cli

    log = tmp_path / "logs" / "demo.log"
    with cli.logs_to_file(log):
        print("INFO - airflow.task - a task log line")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('jvm: WARN x\\n')"],
                       check=True)
        cli.console.print("  12 s  ▶ lanhai_quality")
    out, err = capfd.readouterr()
    assert "lanhai_quality" in out
    assert "airflow.task" not in out + err and "jvm: WARN" not in out + err
    text = log.read_text(encoding="utf-8")
    assert "airflow.task" in text and "jvm: WARN" in text and "lanhai_quality" not in text
    print("after")  # stdout is the terminal's again
    assert "after" in capfd.readouterr().out


def test_a_log_handler_made_during_the_demo_still_writes_after_it(tmp_path, capfd):
    """A logging handler that a library made on the redirected stderr inside `logs_to_file`
    (py4j's, Airflow's) used to keep that stream, closed when the demo ended: py4j's last
    message at exit printed "--- Logging error --- ValueError: I/O operation on closed file"
    under the demo's output. After the demo such a handler writes to stderr."""
    import logging
    import sys

    from lanhai import cli

    logger = logging.getLogger("lanhai.test.late")
    logger.propagate = False
    try:
        with cli.logs_to_file(tmp_path / "demo.log"):
            handler = logging.StreamHandler(sys.stderr)  # what a library's basicConfig does
            logger.addHandler(handler)
        logger.warning("closing down clientserver connection")
        err = capfd.readouterr().err
        assert "Logging error" not in err
        assert "closing down clientserver connection\n" in err
    finally:
        logger.handlers.clear()


def test_after_the_demo_logs_the_console_follows_stdout_again(tmp_path):
    """`logs_to_file` gives the console back its own setting (follow sys.stdout), not the
    stream that was sys.stdout when it began: that one may be closed since (a test runner's
    capture), and printing to it failed the next command."""
    import contextlib
    import io

    from lanhai import cli

    first = io.StringIO()
    with contextlib.redirect_stdout(first), cli.logs_to_file(tmp_path / "demo.log"):
        pass
    first.close()
    second = io.StringIO()
    with contextlib.redirect_stdout(second):
        cli.console.print("still here")
    assert "still here" in second.getvalue()
