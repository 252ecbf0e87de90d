"""SQL helpers shared by the models (the same statement on SQLite and PostgreSQL)."""

from sqlalchemy import Row

from models.core import db


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


CHUNK_ROWS = 500  # rows per multi-row INSERT (well under SQLite's 32,766 bound parameters)


def insert_ignore_many(model, rows: list[dict], conflict: list[str], returning) -> list[Row]:
    """`insert_ignore` for many rows: one multi-row INSERT ... ON CONFLICT (conflict) DO
    NOTHING RETURNING returning per CHUNK_ROWS rows; the rows inserted (none for a key that
    existed). Every row must name the same columns."""
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    found: list[Row] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        stmt = (
            insert(model)
            .values(rows[start : start + CHUNK_ROWS])
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(*returning)
        )
        found += db.session.execute(stmt).all()
    return found
