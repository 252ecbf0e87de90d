"""SQL helpers shared by the models (the same statement on SQLite and PostgreSQL)."""

import json
from datetime import datetime

from sqlalchemy import JSON, Row, Text, bindparam, cast, column, func, inspect, select, update

from models.core import db


def guarded_update(obj, *conditions, **values) -> bool:
    """Change `obj`'s row only while `conditions` still hold there (UPDATE ... WHERE key AND
    conditions RETURNING the row): True with `obj` reloaded from the changed row; False when
    another request changed it first, with `obj` reloaded as it is now (for the message).
    Exactly one of two concurrent guarded updates wins; the winner needs no second read."""
    model = type(obj)
    mapper = inspect(model)
    values_of_key = mapper.primary_key_from_instance(obj)
    key = [c == v for c, v in zip(mapper.primary_key, values_of_key, strict=True)]
    changed = db.session.execute(
        update(model)
        .where(*key, *conditions)
        .values(**values)
        .returning(model)
        .execution_options(populate_existing=True, synchronize_session=False)
    ).first()
    if changed is None:
        db.session.refresh(obj)
    return changed is not None


def insert_ignore(model, values: dict, conflict: list[str], returning) -> Row | None:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING returning; the new row or None
    when the key exists (two writers racing on a unique key: exactly one inserts)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(returning)
    )
    return db.session.execute(stmt).first()


def insert_ignore_many(model, rows: list[dict], conflict: list[str], returning) -> list[Row]:
    """`insert_ignore` for many rows in one statement: INSERT ... ON CONFLICT (conflict) DO
    NOTHING RETURNING returning; the rows inserted (none for a key that existed). Every row
    names the same columns. PostgreSQL gets the rows as one JSON parameter (`INSERT ... SELECT
    FROM json_to_recordset(...)`: a short statement whatever the number of rows); SQLite a
    multi-row INSERT batched by SQLAlchemy ("insertmanyvalues")."""
    if not rows:
        return []
    table = model.__table__
    columns = [column.expression for column in returning]
    if db.session.get_bind().dialect.name != "postgresql":
        from sqlalchemy.dialects.sqlite import insert

        stmt = insert(table).on_conflict_do_nothing(index_elements=conflict).returning(*columns)
        return list(db.session.execute(stmt, rows).all())
    from sqlalchemy.dialects.postgresql import insert

    names = list(rows[0])
    given = (
        func.json_to_recordset(cast(bindparam("rows", _json_rows(rows), type_=Text), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(name="given", with_types=True)
    )
    stmt = (
        insert(table)
        .from_select(names, select(*(given.c[name] for name in names)))
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(*columns)
    )
    return list(db.session.execute(stmt).all())


def _json_rows(rows: list[dict]) -> str:
    """Rows as one JSON array (instants in ISO 8601 with their offset) for json_to_recordset."""

    def plain(value):
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r}: CityDesk stores aware instants only")
            return value.isoformat()
        raise TypeError(f"cannot send {type(value).__name__} as JSON")

    return json.dumps(rows, ensure_ascii=False, default=plain)
