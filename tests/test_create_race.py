"""Two processes create the same Delta table at once (two domains' ingests on a fresh lake, both
making the shared audit tables): the loser of Delta's first commit, or of the catalog's entry,
waits and looks again instead of failing its task (lanhai.spark.ensure_table). Any other
error of the create is raised at once. A session stand-in replays what the loser sees."""

from __future__ import annotations

import pytest
from pyspark.errors import AnalysisException


class _Captured(AnalysisException):
    """An AnalysisException as PySpark hands it over from the JVM, with its condition."""

    def __init__(self, condition: str, message: str):
        Exception.__init__(self, message)
        self._condition, self._text = condition, message

    def getCondition(self) -> str:  # noqa: N802 - PySpark's name
        return self._condition

    def __str__(self) -> str:
        return f"[{self._condition}] {self._text}"


class _Catalog:
    def __init__(self):
        self.exists = False

    def tableExists(self, name: str) -> bool:  # noqa: N802 - PySpark's name
        return self.exists

    def databaseExists(self, name: str) -> bool:  # noqa: N802 - no orphan folder to adopt
        return False


class _Session:
    """`create table if not exists` fails with the queued errors, then succeeds; with
    `appears`, the other process's table is in the catalog once the first error was raised."""

    def __init__(self, *errors: Exception, appears: bool = True):
        self.catalog, self.errors, self.statements = _Catalog(), list(errors), []
        self.appears = appears

    def sql(self, statement: str):
        self.statements.append(statement)
        if self.errors:
            self.catalog.exists = self.appears
            raise self.errors.pop(0)


def _protocol_changed():
    from delta.exceptions import ProtocolChangedException

    return ProtocolChangedException(
        "[DELTA_PROTOCOL_CHANGED] The protocol version of the Delta table has been changed by "
        "a concurrent update. This happens when multiple writers are writing to an empty "
        "directory.")


@pytest.mark.parametrize("lost", [
    _protocol_changed,
    lambda: _Captured("TABLE_OR_VIEW_ALREADY_EXISTS", "`audit`.`landed_files` exists"),
    lambda: _Captured("LOCATION_ALREADY_EXISTS", "the location of `audit`.`landed_files`"),
    lambda: _Captured("INTERNAL_ERROR", "AlreadyExistsException(message:Table hive.audit."
                                        "landed_files already exists)"),
], ids=["delta-first-commit", "catalog-entry", "location", "metastore"])
def test_the_loser_of_a_concurrent_create_looks_again_and_finds_the_table(lost):
    from lanhai.spark import ensure_table

    spark = _Session(lost())
    ensure_table(spark, "audit.landed_files", "entity string", wait=0)
    # one create, which lost; then the winner's table was found: no second create
    assert len(spark.statements) == 1
    assert spark.statements[0].startswith("create table if not exists audit.landed_files")


def test_a_loser_that_does_not_see_the_table_yet_creates_it_again():
    from lanhai.spark import ensure_table

    spark = _Session(_protocol_changed(), appears=False)
    ensure_table(spark, "audit.landed_files", "entity string", wait=0)
    assert len(spark.statements) == 2


def test_any_other_error_of_the_create_is_raised_at_once():
    from lanhai.spark import ensure_table

    spark = _Session(_Captured("PARSE_SYNTAX_ERROR", "Syntax error at or near 'strin'"))
    with pytest.raises(AnalysisException, match="PARSE_SYNTAX_ERROR"):
        ensure_table(spark, "audit.landed_files", "entity strin", wait=0)
    assert len(spark.statements) == 1


def test_a_create_that_keeps_losing_fails_after_its_attempts():
    from delta.exceptions import ProtocolChangedException

    from lanhai.spark import ensure_table

    spark = _Session(*[_protocol_changed() for _ in range(3)], appears=False)
    with pytest.raises(ProtocolChangedException):
        ensure_table(spark, "audit.landed_files", "entity string", attempts=3, wait=0)
    assert len(spark.statements) == 3
