"""Concurrent writers to one Delta table: retry what is safe to retry, name what is not.

Delta commits optimistically: a writer reads a snapshot, writes its files, then commits; if
another writer committed meanwhile and touched what it read, the commit fails with one of
Delta's concurrent-modification exceptions and nothing of it is visible (the table is never
corrupt). The jobs' MERGEs are idempotent (a row is updated only by a newer version, inserted
only when absent; history rows are keyed by key and version), and their appends carry
`txnAppId`/`txnVersion` (a replay is skipped), so they are simply run again on a fresh
snapshot. After `attempts` tries the caller gets a `WriteConflictError` naming the table.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("lanhai.conflicts")
T = TypeVar("T")


class WriteConflictError(RuntimeError):
    """Another writer kept changing the same Delta table; nothing of this write committed."""


def conflict_types() -> tuple[type[BaseException], ...]:
    from delta.exceptions import (
        ConcurrentAppendException,
        ConcurrentDeleteDeleteException,
        ConcurrentDeleteReadException,
        ConcurrentTransactionException,
        ConcurrentWriteException,
        MetadataChangedException,
        ProtocolChangedException,
    )

    return (ConcurrentAppendException, ConcurrentDeleteDeleteException,
            ConcurrentDeleteReadException, ConcurrentTransactionException,
            ConcurrentWriteException, MetadataChangedException, ProtocolChangedException)


def retry_on_conflict(write: Callable[[], T], *, table: str, attempts: int = 4,
                      wait: float = 1.0, on_retry: Callable[[int, Exception], None] | None = None
                      ) -> T:
    """Run an idempotent Delta write; run it again (with back-off) when another writer's
    commit conflicted with it; raise `WriteConflictError` naming the table after `attempts`."""
    kinds = conflict_types()
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except kinds as err:
            kind = type(err).__name__
            if attempt == attempts:
                raise WriteConflictError(
                    f"write to {table} conflicted with another writer {attempts} time(s) "
                    f"({kind}); nothing of it was committed and the table is unchanged by it: "
                    "run it again when the other writer is done") from err
            log.warning("write to %s conflicted with a concurrent commit (%s); retrying "
                        "(%d of %d)", table, kind, attempt + 1, attempts)
            if on_retry:
                on_retry(attempt, err)
            time.sleep(wait * 2 ** (attempt - 1) * (0.5 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")
