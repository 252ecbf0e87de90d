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
