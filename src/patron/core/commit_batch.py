"""One flush after commit per transaction, however many changes in it ask for one.

Each recorded event opens receipts whose delivery tasks are enqueued after commit, and wakes the
live streams. A transaction that records fifty events (a batch of inbound mail, a bulk action)
should insert their task rows in one statement and publish once, not fifty times: `collect(key,
item, flush)` keeps `item` in the transaction's batch under `key`, and after the commit
`flush(items)` runs once with every item collected under that key, in order.

Every `collect` still registers an ordinary `transaction.on_commit` hook, which flushes its own
item and every later one not flushed yet: after a commit the first hook flushes the whole batch
and the others find nothing left. So a savepoint that rolls back drops only its own hooks, and
a test that runs the hooks of one change (`captureOnCommitCallbacks`) runs that change's
effects and nothing collected before it. An item collected inside a rolled-back savepoint may
still be flushed by an earlier hook: a flush must tolerate it (a delivery enqueued for a receipt
that is not there claims nothing). A rollback of the whole transaction drops every hook and so
the batch.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

_ATTRIBUTE = "_patron_commit_batches"


@dataclass(eq=False)
class _Batch:
    flush: Callable[[list[Any]], None]
    hooks: list[Any]  # the connection's hook list this batch's hooks were last seen in
    items: list[Any] = field(default_factory=list)
    unflushed: list[int] = field(default_factory=list)  # indexes into items, ascending

    def run_from(self, index: int) -> None:
        """Flush the items from `index` on that no earlier hook flushed."""
        cut = bisect.bisect_left(self.unflushed, index)
        due, self.unflushed = self.unflushed[cut:], self.unflushed[:cut]
        if due:
            self.flush([self.items[i] for i in due])


def collect[T](key: str, item: T, flush: Callable[[list[T]], None], *, robust: bool = True) -> None:
    """Add `item` to this transaction's batch under `key`; `flush(items)` runs once after the
    transaction commits (at once, with just this item, outside a transaction). `robust`: an
    exception in `flush` is logged, not raised into the code that committed."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        flush([item])
        return
    batches: dict[str, _Batch] = connection.__dict__.setdefault(_ATTRIBUTE, {})
    batch = batches.get(key)
    if batch is None or not _pending(connection, batch):
        batch = batches[key] = _Batch(flush=flush, hooks=connection.run_on_commit)
    batch.unflushed.append(len(batch.items))
    batch.items.append(item)
    transaction.on_commit(partial(batch.run_from, len(batch.items) - 1), robust=robust)


def _pending(connection: Any, batch: _Batch) -> bool:
    """Whether one of the batch's hooks is still to run after this transaction's commit.

    Reads the connection's list of on-commit hooks, `(savepoint ids, function, robust)`
    tuples: Django replaces the list when the transaction ends and when a savepoint rolls back
    (dropping that savepoint's hooks), so the same list object means nothing was dropped."""
    hooks = connection.run_on_commit
    if hooks is batch.hooks:
        return bool(hooks)
    batch.hooks = hooks
    return any(getattr(hook, "func", None) == batch.run_from for _, hook, _ in hooks)
