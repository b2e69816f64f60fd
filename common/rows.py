"""Single-table row statements for the hot paths, without the ORM's per-statement cost.

They keep the model's table and column names, defaults, value preparation and result
converters, build each statement's text once per model and column set, run inside whatever
transaction is open, and send no model signals (a model with receivers is refused). Equality
conditions only. Why: docs/architecture.md, "Hot-path statements".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, signals
from django.utils import timezone

Converter = Callable[[Any, Any, Any], Any]


def insert(model: type[Model], **values: Any) -> Any:
    """Insert one row and return its primary key. Columns not given get the model's default
    (`auto_now`/`auto_now_add` timestamps: now). Keys are field names or attnames
    (`tenant` with an instance, or `tenant_id`)."""
    return insert_many(model, [values])[0]


def insert_unless_conflict(model: type[Model], **values: Any) -> Any:
    """Insert one row unless a unique or exclusion constraint already holds a conflicting one
    (`ON CONFLICT DO NOTHING`): its primary key, or None when it was not inserted. Unlike an
    IntegrityError this leaves the transaction usable, so no savepoint (two round trips) is
    needed to go on after a conflict. Other constraints (NOT NULL, CHECK) still raise."""
    keys = _insert(model, [values], skip_conflicts=True)
    return keys[0] if keys else None


def insert_many(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Insert rows (all naming the same columns) in one statement; their primary keys, in
    order."""
    return _insert(model, rows, skip_conflicts=False)


def _insert(
    model: type[Model], rows: Sequence[Mapping[str, Any]], *, skip_conflicts: bool
) -> list[Any]:
    if not rows:
        return []
    table, db = _writable(model), _db()
    returning = db.features.can_return_columns_from_insert
    if not returning and (skip_conflicts or len(rows) > 1):
        raise NotImplementedError("this needs INSERT … RETURNING (PostgreSQL, SQLite 3.35+)")
    now = timezone.now()
    params: list[Any] = []
    for row in rows:
        given = {table.column(name).attname: _raw(value) for name, value in row.items()}
        for field in table.insert_fields:
            if field.attname in given:
                value = given[field.attname]
            elif field.attname in table.stamped:
                value = now
            else:
                value = field.get_default()
            params.append(_prepared(field, value, db))
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(model, len(rows), returning, skip_conflicts), params)
        # Without RETURNING the backend inserts one row at a time (see _insert_sql).
        keys = [row[0] for row in cursor.fetchall()] if returning else [cursor.lastrowid]
    return [_convert(db, table.pk, key) for key in keys]


def update(model: type[Model], where: Mapping[str, Any], **values: Any) -> int:
    """`UPDATE … SET values WHERE` every `where` column equals its value; rows changed.
    `auto_now` fields not given are set to now."""
    table, db = _writable(model), _db()
    fields = [table.column(name) for name in values]
    params = [
        _prepared(field, _raw(value), db)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    touched = [field for field in table.auto_now if field not in fields]
    if touched:
        now = timezone.now()
        fields += touched
        params += [field.get_db_prep_save(now, db) for field in touched]
    conditions = [table.column(name) for name in where]
    params += _where_params(db, conditions, where.values())
    sql = _update_sql(model, tuple(f.attname for f in fields), tuple(f.attname for f in conditions))
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def select_one(
    model: type[Model], columns: Sequence[str], where: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row (lowest primary key) matching `where`, as a tuple of `columns`, each
    value converted as the ORM would; None when nothing matches."""
    table, db = _table(model), _db()
    selected = [table.column(name) for name in columns]
    conditions = [table.column(name) for name in where]
    sql = _select_sql(
        model, tuple(f.attname for f in selected), tuple(f.attname for f in conditions)
    )
    with db.cursor() as cursor:
        cursor.execute(sql, _where_params(db, conditions, where.values()))
        row = cursor.fetchone()
    if row is None:
        return None
    return tuple(_convert(db, field, value) for field, value in zip(selected, row, strict=True))


def convert(model: type[Model], name: str, value: Any) -> Any:
    """A value of column `name` as read by hand-written SQL, converted as the ORM would
    (e.g. an aware datetime from SQLite's text)."""
    return _convert(_db(), _table(model).column(name), value)


def first(model: type[Model], where: Mapping[str, Any]) -> Any:
    """The model instance (every column loaded, as `.first()` gives it) with the lowest
    primary key matching `where`; None when nothing matches."""
    names = _table(model).attnames
    row = select_one(model, names, where)
    return None if row is None else model.from_db(DEFAULT_DB_ALIAS, list(names), list(row))


# ------------------------------------------------------------------------------ internals


def _db() -> BaseDatabaseWrapper:
    """This thread's connection, resolved once per statement (each attribute read through
    the `connection` proxy is a thread-local lookup)."""
    return connections[DEFAULT_DB_ALIAS]


@dataclass(frozen=True)
class _Table:
    model: type[Model]
    pk: Field[Any, Any]
    columns: dict[str, Field[Any, Any]]  # by name, attname and "pk"
    attnames: tuple[str, ...]  # every column, in model order
    insert_fields: tuple[Field[Any, Any], ...]  # all but an auto-incremented key
    stamped: frozenset[str]  # set to now on insert: auto_now and auto_now_add
    auto_now: tuple[Field[Any, Any], ...]  # set to now on every update

    def column(self, name: str) -> Field[Any, Any]:
        try:
            return self.columns[name]
        except KeyError:
            raise ValueError(f"{self.model.__name__}.{name} is not a column") from None


@cache
def _table(model: type[Model]) -> _Table:
    pk = model._meta.pk
    if pk is None:
        raise TypeError(f"{model.__name__} has no primary key")
    fields = [field for field in model._meta.concrete_fields if isinstance(field, Field)]
    columns = {"pk": pk}
    for field in fields:
        columns[field.name] = columns[field.attname] = field
    return _Table(
        model=model,
        pk=pk,
        columns=columns,
        attnames=tuple(field.attname for field in fields),
        insert_fields=tuple(
            f for f in fields if not (f is pk and getattr(f, "db_returning", False))
        ),
        stamped=frozenset(
            f.attname
            for f in fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ),
        auto_now=tuple(f for f in fields if getattr(f, "auto_now", False)),
    )


@cache
def _writable(model: type[Model]) -> _Table:
    if any(signal.has_listeners(model) for signal in (signals.pre_save, signals.post_save)):
        # Its receivers (a cache to drop, say) would silently miss these writes.
        raise TypeError(f"{model.__name__} has save signal receivers: write it with the ORM")
    return _table(model)


def _raw(value: Any) -> Any:
    return value.pk if isinstance(value, Model) else value


def _where_params(
    db: BaseDatabaseWrapper, fields: Sequence[Field[Any, Any]], values: Any
) -> list[Any]:
    return [_prepared(field, _raw(value), db) for field, value in zip(fields, values, strict=True)]


# Values the database driver takes as they are for these exact field classes: preparing them
# the ORM's way returns them unchanged, at a few microseconds per column.
_PLAIN: dict[type[Field[Any, Any]], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.BooleanField: (bool,),
}


@cache
def _plain_types(field: Field[Any, Any]) -> tuple[type, ...]:
    if type(field) is models.ForeignKey:
        return _PLAIN.get(type(field.target_field), ())
    return _PLAIN.get(type(field), ())


def _prepared(field: Field[Any, Any], value: Any, db: BaseDatabaseWrapper) -> Any:
    """`value` as the ORM would send it for `field` (get_db_prep_save), with a shortcut for
    values that pass unchanged."""
    if value is None or type(value) in _plain_types(field):
        return value
    return field.get_db_prep_save(value, db)


def _quote(name: str) -> str:
    return str(connections[DEFAULT_DB_ALIAS].ops.quote_name(name))


@cache
def _insert_sql(model: type[Model], count: int, returning: bool, skip_conflicts: bool) -> str:
    table = _table(model)
    columns = ", ".join(_quote(field.column) for field in table.insert_fields)
    one_row = "(" + ", ".join(["%s"] * len(table.insert_fields)) + ")"
    sql = f"INSERT INTO {_quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    sql += ", ".join([one_row] * count)
    if skip_conflicts:  # the same clause on PostgreSQL and SQLite (3.24+)
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {_quote(table.pk.column)}"
    return sql


@cache
def _update_sql(model: type[Model], set_columns: tuple[str, ...], where: tuple[str, ...]) -> str:
    table = _table(model)
    assignments = ", ".join(f"{_quote(table.columns[name].column)} = %s" for name in set_columns)
    return f"UPDATE {_quote(model._meta.db_table)} SET {assignments}{_where_sql(table, where)}"  # noqa: S608


@cache
def _select_sql(model: type[Model], columns: tuple[str, ...], where: tuple[str, ...]) -> str:
    table = _table(model)
    selected = ", ".join(_quote(table.columns[name].column) for name in columns)
    return (
        f"SELECT {selected} FROM {_quote(model._meta.db_table)}"  # noqa: S608
        f"{_where_sql(table, where)} ORDER BY {_quote(table.pk.column)} LIMIT 1"
    )


def _where_sql(table: _Table, where: tuple[str, ...]) -> str:
    conditions = " AND ".join(f"{_quote(table.columns[name].column)} = %s" for name in where)
    return f" WHERE {conditions}" if conditions else ""


def _convert(db: BaseDatabaseWrapper, field: Field[Any, Any], value: Any) -> Any:
    column, converters = _converters(field)
    for converter in converters:
        value = converter(value, column, db)
    return value


@cache
def _converters(field: Field[Any, Any]) -> tuple[Any, tuple[Converter, ...]]:
    """The column expression and the converters the ORM's compiler would apply to it."""
    db = connections[DEFAULT_DB_ALIAS]
    column = field.get_col(field.model._meta.db_table)
    return column, tuple(db.ops.get_db_converters(column)) + tuple(column.get_db_converters(db))
