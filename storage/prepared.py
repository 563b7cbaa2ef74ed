"""Statements a tap runs, compiled once per database dialect and run on the driver's cursor.

A lone tap's transaction is five small statements (its account read, its answer, its audit
entry, the account's mark, the update's record), and for each SQLAlchemy's ``execute`` does far
more work than SQLite: it looks the compiled form up in its cache, builds an execution context,
processes the parameters, wraps the cursor in a result. On the bench's lone taps that was 0.5 ms
of CPU a tap, the driver's own part of it a twentieth (bench/README.md, 2026-12-05 19:13).
:class:`Prepared` keeps what does not change from one execution to the next — the SQL of the
connection's dialect, the order of its parameters, the columns' bind and result processors (UTC
times, JSON) — and runs the statement on the connection's DBAPI cursor: the same SQL and values
SQLAlchemy would send, in the same transaction (on SQLite through the same one-trip cursor,
:mod:`storage.sqlite_driver`, so a pending BEGIN and deferred writes ride as before), with the
engine's ``before_cursor_execute`` and ``after_cursor_execute`` events (given no execution
context). Only for statements without Python-side defaults, expanding parameters or results
read back from writes (a row count, new ids): it refuses any other when first compiled. An
error is raised as SQLAlchemy's (``DBAPIError`` and its kinds), and a lost connection is
invalidated, as ``execute`` does. SQLAlchemy's ``echo`` does not log these statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


class _Form(NamedTuple):
    """A statement as one dialect runs it."""

    sql: str
    names: tuple[str, ...]  # the parameters' keys, in the order of the SQL's placeholders
    binds: tuple[Processor, ...]  # each parameter's bind processor, in the same order
    results: tuple[Processor, ...] | None  # each result column's processor (a SELECT only)


# The attribute of a dialect that holds the forms of the statements run on it.
_FORMS = "_hoinghi_prepared_forms"


class Prepared:
    """A Core statement (a SELECT, or an INSERT, UPDATE or DELETE whose result is not read),
    run with :meth:`rows` or :meth:`write` on a connection in a transaction."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement

    def rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows, each a tuple in the order of its columns, processed as
        SQLAlchemy processes them (a UTC time, a JSON value)."""
        form = self._form(connection.dialect, ())
        rows = self._run(connection, form, [parameters])
        if not form.results or not any(form.results):
            return [tuple(row) for row in rows]
        results = form.results
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, results, strict=True)
            )
            for row in rows
        ]

    def write(self, connection: Connection, parameters: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each of ``parameters`` (all with the same keys)."""
        if parameters:
            self._run(connection, self._form(connection.dialect, tuple(parameters[0])), parameters)

    def _run(
        self, connection: Connection, form: _Form, parameters: Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        names, binds = form.names, form.binds
        values = [
            tuple(
                given[name] if process is None else process(given[name])
                for name, process in zip(names, binds, strict=True)
            )
            for given in parameters
        ]
        if not connection.in_transaction():
            # As ``execute`` does: the statement's transaction is the connection's, which its
            # ``commit`` and ``rollback`` end (they would otherwise find none to end).
            connection.begin()
        pooled = connection.connection  # the transaction's DBAPI connection
        cursor = pooled.cursor()
        dialect = connection.dialect
        stale_before = getattr(dialect, "_invalidate_schema_cache_asof", None)
        if stale_before is not None:
            # asyncpg's adapter (as its execution context does): statements it prepared
            # before the dialect's last DDL are prepared again, not run on the old types.
            cursor._invalidate_schema_cache_asof = stale_before  # type: ignore[attr-defined]
        sql, many = form.sql, len(values) > 1
        arguments: Any = values if many else values[0]
        dispatch = connection.dispatch  # the engine's cursor events, for whoever listens
        try:
            for listener in dispatch.before_cursor_execute:
                sql, arguments = listener(connection, cursor, sql, arguments, None, many)
            if many:
                cursor.executemany(sql, arguments)
            else:
                cursor.execute(sql, arguments)
            for listener in dispatch.after_cursor_execute:
                listener(connection, cursor, sql, arguments, None, many)
            return list(cursor.fetchall()) if form.results is not None else []
        except dialect.loaded_dbapi.Error as error:
            if stale_before is not None and isinstance(error, _stale_plan_errors(dialect)):
                # As asyncpg's execution context does: a statement prepared on a schema since
                # changed fails once; the dialect then has every statement prepared again.
                dialect._invalidate_schema_cache()  # type: ignore[attr-defined]
            disconnected = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
            if disconnected:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                arguments,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=connection.engine.hide_parameters,  # as execute's errors
                dialect=dialect,
                connection_invalidated=disconnected,
                ismulti=many,
            ) from error
        finally:
            cursor.close()

    def _form(self, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
        # Kept on the dialect (an engine's own object), per statement and per set of keys for
        # an INSERT's columns: a form's processors hold the dialect, so a cache here keyed by it,
        # even weakly, would keep every engine's dialect alive (one an engine, in the tests).
        by_statement: dict[Prepared, dict[tuple[str, ...], _Form]] | None = vars(dialect).get(
            _FORMS
        )
        if by_statement is None:
            by_statement = {}
            setattr(dialect, _FORMS, by_statement)
        forms = by_statement.get(self)
        if forms is None:
            forms = by_statement[self] = {}
        form = forms.get(keys)
        if form is None:
            form = forms[keys] = self._compile(dialect, keys)
        return form

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Form:
        statement = self._statement
        is_dml = getattr(statement, "is_dml", False)
        # As ``execute`` compiles a write given several rows: no RETURNING of new ids.
        compiled = statement.compile(
            dialect=dialect, column_keys=list(keys) or None, for_executemany=is_dml
        )
        assert isinstance(compiled, SQLCompiler)
        if (
            not compiled.positional
            or compiled.positiontup is None
            or compiled.prefetch  # Python-side defaults, which ``execute`` would work out
            or compiled.effective_returning
            or compiled.literal_execute_params
            or compiled.post_compile_params
        ):
            raise ValueError(f"not a statement to run prepared: {compiled.string}")
        names = tuple(compiled.positiontup)
        binds = tuple(compiled._bind_processors.get(name) for name in names)
        if not all(bind is None or callable(bind) for bind in binds):  # a tuple's, per element
            raise ValueError(f"not a statement to run prepared: {compiled.string}")
        results: tuple[Processor, ...] | None = None
        if not is_dml:
            results = tuple(
                column.type._cached_result_processor(dialect, None)
                for column in compiled._result_columns
            )
        return _Form(compiled.string, names, cast(tuple[Processor, ...], binds), results)


def _stale_plan_errors(dialect: Dialect) -> tuple[type[BaseException], ...]:
    """The errors after which asyncpg's execution context has the dialect forget its prepared
    statements (``PGExecutionContext_asyncpg.handle_dbapi_exception``)."""
    dbapi = dialect.loaded_dbapi
    return tuple(
        getattr(dbapi, name)
        for name in ("InvalidCachedStatementError", "InternalServerError")
        if hasattr(dbapi, name)
    )
