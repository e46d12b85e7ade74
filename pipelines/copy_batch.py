"""A batch of rows written to PostgreSQL in one transaction and one round trip
(docs/architecture.md, "Live updates").

`BEGIN; <a statement>; COPY … FROM STDIN; COMMIT` goes as one simple query: the server
answers the statement and asks for the rows together, and the rows' end and the commit go
back together. The same batch through psycopg's `transaction()` and `cursor.copy()` waits
for the server four times (BEGIN, the statement, COPY, COMMIT); psycopg's `copy()` takes
one statement only, so this speaks to the connection through `psycopg.pq` directly.
"""

from collections.abc import Callable, Iterator

import psycopg
from psycopg import pq
from psycopg.waiting import Wait

# put_copy_data is given the rows in pieces (psycopg's own copy splits large buffers too).
PIECE_BYTES = 128 * 1024

_COPY_IN = pq.ExecStatus.COPY_IN
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR


def copy_batch(
    conn: psycopg.Connection, *, copy: str, data: Callable[[], bytes], before: str = ""
) -> tuple | None:
    """Run `before` (a statement returning one row), then `copy` (`COPY … FROM STDIN`) with
    the rows `data()` makes in COPY's format, in one transaction committed here, on `conn` in
    autocommit mode. `data` is called once the query is sent, so the rows are formatted while
    the server runs what comes before the COPY (if it raises, nothing is written and its
    exception is raised).

    Returns the row `before` returned, its values as text (`()` without `before`); None
    when `before` returned
    none: then nothing is written (the COPY is aborted and the transaction rolled back).
    A database error is raised as psycopg's (IntegrityError, OperationalError…), with the
    connection left outside any transaction."""
    statements = ["BEGIN", *([before] if before else []), copy, "COMMIT"]
    query = "; ".join(statements).encode(conn.info.encoding)
    with conn.lock:
        return conn.wait(_copy_batch(conn.pgconn, query, data, bool(before)))


def _copy_batch(pgconn: pq.abc.PGconn, query: bytes, data: Callable[[], bytes], before: bool):
    pgconn.send_query(query)
    yield from _flush(pgconn)
    rows, unformatted = b"", None
    try:
        rows = data()
    except Exception as error:  # noqa: BLE001 (raised once the batch is undone)
        unformatted = error
    results = yield from _results(pgconn)
    if not results or results[-1].status != _COPY_IN:  # an error before the COPY
        return (yield from _failed(pgconn, results))
    row: tuple | None = ()
    if before:
        answer = results[-2]
        row = (
            tuple(answer.get_value(0, i) for i in range(answer.nfields)) if answer.ntuples else None
        )
    if unformatted is not None:
        yield from _put(pgconn, pgconn.put_copy_end, b"the rows could not be formatted")
    elif row is None:
        yield from _put(pgconn, pgconn.put_copy_end, b"the statement before matched no row")
    else:
        view = memoryview(rows)
        for start in range(0, len(view), PIECE_BYTES):
            yield from _put(pgconn, pgconn.put_copy_data, view[start : start + PIECE_BYTES])
        yield from _put(pgconn, pgconn.put_copy_end, None)
    results = yield from _results(pgconn)
    if unformatted is not None:
        yield from _failed(pgconn, results, expected=True)
        raise unformatted
    if row is None or any(result.status == _FATAL_ERROR for result in results):
        yield from _failed(pgconn, results, expected=row is None)
    return row


def _put(pgconn, put, argument) -> Iterator[Wait]:
    while put(argument) == 0:  # the output buffer is full
        yield Wait.W
        pgconn.flush()
    yield from _flush(pgconn)


def _flush(pgconn) -> Iterator[Wait]:
    while pgconn.flush():  # 1: more to send
        yield Wait.W


def _results(pgconn):
    """The results of the query sent, up to a COPY's start or the end."""
    results = []
    while True:
        while pgconn.is_busy():
            yield Wait.R
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            return results
        results.append(result)
        if result.status == _COPY_IN:
            return results


def _failed(pgconn, results, *, expected: bool = False):
    """Roll back what is left of the transaction; raise the first error (unless `expected`)."""
    if pgconn.transaction_status != pq.TransactionStatus.IDLE:
        pgconn.send_query(b"ROLLBACK")
        yield from _flush(pgconn)
        yield from _results(pgconn)
    if not expected:
        raise _error(next((r for r in results if r.status == _FATAL_ERROR), None))
    return None


def _error(result: pq.abc.PGresult | None) -> psycopg.Error:
    if result is None:
        return psycopg.DatabaseError("the server answered the batch with no COPY and no error")
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = result.error_message.decode(errors="replace").strip()
    try:
        return psycopg.errors.lookup(state)(message)
    except KeyError:
        return psycopg.DatabaseError(message)
