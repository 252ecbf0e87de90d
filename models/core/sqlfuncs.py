"""Small SQL functions written once for SQLite and PostgreSQL (the roll-up's building blocks)."""

from sqlalchemy import Date, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):  # noqa: N801 (reads like an SQL function)
    """Whole seconds from the first timestamp to the second, rounded (NULL if either is NULL)."""

    type = Integer()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_between_default(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # date_part gives double precision (EXTRACT gives numeric, much slower to round)
    return f"CAST(ROUND(date_part('epoch', {end} - {start})) AS INTEGER)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400.0) AS INTEGER)"


class taipei_date(FunctionElement):  # noqa: N801
    """The Asia/Taipei calendar date of a UTC timestamp."""

    type = Date()
    inherit_cache = True
    name = "taipei_date"


@compiles(taipei_date)
def _taipei_date_default(element, compiler, **kw):
    (value,) = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(timezone('Asia/Taipei', {value}) AS DATE)"


@compiles(taipei_date, "sqlite")
def _taipei_date_sqlite(element, compiler, **kw):
    # SQLite has no time zones. Asia/Taipei is UTC+8 all year and has kept no daylight saving
    # time since 1979, so the fixed offset is exact for every record CityDesk holds.
    (value,) = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"date({value}, '+8 hours')"
