"""The analysts' notebooks: stripped of outputs in git, and executed top to bottom (nbclient)
against the `small` lake while the test session's Spark holds the catalog (the notebooks open
a read-only session that does not need it)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_three_notebooks_and_their_outputs_are_stripped():
    assert len(NOTEBOOKS) >= 3
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name}: outputs in git (make notebooks-clean)")


def test_the_notebooks_hold_no_logic_of_their_own():
    """No function or class definitions: the logic lives in the package (lanhai.analysis)."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "from lanhai import analysis" in code, path.name
        assert "\ndef " not in f"\n{code}" and "\nclass " not in f"\n{code}", path.name


def _execute(path: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.fixture(scope="module")
def executed(built):
    """The notebooks run at once, a kernel (and a read-only Spark) each: their JVMs start and
    read the tables' logs mostly on one thread, so three side by side on two cores took 93 s
    against 125 s one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(NOTEBOOKS)) as pool:
        return dict(zip(NOTEBOOKS, pool.map(_execute, NOTEBOOKS), strict=True))


@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_top_to_bottom(path, executed):
    nb = executed[path]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "execute_result" for o in outputs)
