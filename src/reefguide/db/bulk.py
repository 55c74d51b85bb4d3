"""Many rows in one statement, with few parameters, in statements built once.

On PostgreSQL each column travels as one array (`unnest($1::bigint[], $2::text[]) AS
t(a, b)`): a statement over a hundred rows binds a handful of parameters instead of
hundreds, its text does not change with the number of rows (one prepared statement),
and asyncpg and PostgreSQL encode and parse far less. SQLite gets a VALUES list (which
names its columns column1, column2, …, hence the SELECT around it) and IN lists.

The FROM items hold bound parameters, not values, so a statement built on them can be
built once and run many times: `rows_params` and `insert_params` give the values of one
run, and an `among` list is passed as a list under its parameter's name. Building a
statement and its cache key costs a few hundred microseconds each time; a worker's
claim and report each ran several.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    Insert,
    Table,
    any_,
    bindparam,
    column,
    func,
    insert,
    select,
)
from sqlalchemy import (
    values as values_list,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect

# Distinct statements kept per shape (SQLite's VALUES lists differ with the row count).
SHAPES_KEPT = 256


def arrays(dialect: Dialect) -> bool:
    """Whether the dialect binds a column of many rows as one array."""
    return dialect.name == "postgresql"


def shape(dialect: Dialect, count: int) -> tuple[str, int | None]:
    """What a statement over `count` rows depends on: a cache key for statements
    built on rows_of."""
    return dialect.name, None if arrays(dialect) else count


@lru_cache(maxsize=SHAPES_KEPT)
def rows_of(dialect_shape: tuple[str, int | None], name: str, columns: tuple[Column[Any], ...]) -> FromClause:
    """Rows as a FROM item called `name`, its columns named and typed as `columns`
    (columns of a table, whose types say how each value is bound); `dialect_shape`
    from `shape`. Its values come from rows_params."""
    count = dialect_shape[1]
    if count is None:
        return (
            func.unnest(
                *(bindparam(_array_name(name, target), type_=ARRAY(target.type)) for target in columns)
            )
            .table_valued(*(column(target.name, target.type) for target in columns))
            .render_derived(name=name)
        )
    listed = values_list(
        *(column(f"column{number}", target.type) for number, target in enumerate(columns, start=1))
    ).data(
        [
            tuple(bindparam(_cell_name(name, target, index), type_=target.type) for target in columns)
            for index in range(count)
        ]
    )
    return select(
        *(listed.c[f"column{number}"].label(target.name) for number, target in enumerate(columns, start=1))
    ).subquery(name)


def rows_params(
    dialect: Dialect, name: str, columns: Sequence[Column[Any]], rows: Sequence[Sequence[Any]]
) -> dict[str, Any]:
    """The parameters that fill rows_of's `name` with `rows`."""
    if arrays(dialect):
        by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return {
            _array_name(name, target): list(items) for target, items in zip(columns, by_column, strict=True)
        }
    return {
        _cell_name(name, target, index): value
        for index, row in enumerate(rows)
        for target, value in zip(columns, row, strict=True)
    }


def among(dialect_name: str, target: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`target IN (…)`, its list the parameter `name` (a list of values): on PostgreSQL
    `= ANY($1)`, one array parameter."""
    if dialect_name == "postgresql":
        return target == any_(bindparam(name, type_=ARRAY(target.type)))
    return target.in_(bindparam(name, expanding=True))


def _array_name(name: str, target: Column[Any]) -> str:
    return f"{name}_{target.name}"


def _cell_name(name: str, target: Column[Any], index: int) -> str:
    return f"{name}_{target.name}_{index}"


@lru_cache(maxsize=SHAPES_KEPT)
def insert_rows(
    dialect_shape: tuple[str, int | None],
    table: Table,
    varying: tuple[str, ...],
    shared: tuple[str, ...],
    returning: tuple[str, ...] = (),
) -> Insert:
    """`INSERT INTO table (varying…, shared…) SELECT …`: the `varying` columns from
    rows (insert_params), the `shared` ones one value for all rows."""
    new = rows_of(dialect_shape, "new", tuple(table.c[name] for name in varying))
    statement = insert(table).from_select(
        [*varying, *shared],
        select(*new.c, *(bindparam(f"shared_{name}", type_=table.c[name].type) for name in shared)),
    )
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def insert_params(
    dialect: Dialect,
    table: Table,
    varying: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: dict[str, Any],
) -> dict[str, Any]:
    """The parameters of insert_rows for `rows` and the `shared` values."""
    return {
        **rows_params(dialect, "new", [table.c[name] for name in varying], rows),
        **{f"shared_{name}": value for name, value in shared.items()},
    }
