"""Many rows in one statement, with few parameters.

On PostgreSQL each column travels as one array (`unnest($1::bigint[], $2::text[]) AS
t(a, b)`): a statement over a hundred rows binds a handful of parameters instead of
hundreds, its text does not change with the number of rows (one prepared statement),
and asyncpg and PostgreSQL encode and parse far less. Other databases (SQLite) get
the portable form: a UNION ALL of one-row SELECTs, or an IN list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    FromClause,
    any_,
    bindparam,
    column,
    func,
    select,
)
from sqlalchemy import (
    values as values_list,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect


def rows_of(
    dialect: Dialect, name: str, columns: Sequence[Column[Any]], rows: Sequence[Sequence[Any]]
) -> FromClause:
    """`rows` as a FROM item called `name`, its columns named and typed as `columns`
    (columns of a table, whose types say how each value is bound)."""
    if not rows:
        raise ValueError("rows_of needs at least one row")
    if dialect.name == "postgresql":
        values = list(zip(*rows, strict=True))
        return (
            func.unnest(
                *(
                    bindparam(f"{name}_{target.name}", list(items), type_=ARRAY(target.type))
                    for target, items in zip(columns, values, strict=True)
                )
            )
            .table_valued(*(column(target.name, target.type) for target in columns))
            .render_derived(name=name)
        )
    listed = values_list(
        *(column(f"column{number}", target.type) for number, target in enumerate(columns, start=1))
    ).data([tuple(row) for row in rows])
    return select(
        *(listed.c[f"column{number}"].label(target.name) for number, target in enumerate(columns, start=1))
    ).subquery(name)


def among(dialect: Dialect, target: ColumnElement[Any], items: Sequence[Any]) -> ColumnElement[bool]:
    """`target IN (items)`: on PostgreSQL `= ANY($1)`, one array parameter."""
    if dialect.name == "postgresql":
        return target == any_(bindparam(None, list(items), type_=ARRAY(target.type)))
    return target.in_(items)
