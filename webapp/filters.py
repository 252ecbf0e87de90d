"""Jinja filters: Asia/Taipei times, ROC years and masked personal data."""

from datetime import datetime
from decimal import Decimal

from flask import Flask

from models.core import clock
from webapp.forms import year_input
from webapp.i18n import reads_chinese


def taipei(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as Asia/Taipei wall time (Gregorian)."""
    if value is None:
        return "—"
    return clock.local(value).strftime(fmt)


def roc_datetime(value: datetime | None, seconds: bool = False) -> str:
    """An instant as ROC date and Taipei time: 113/01/05 14:03."""
    if value is None:
        return "—"
    return clock.roc_datetime(value, seconds)


def roc_date(value) -> str:
    """A date (or instant) as ROC date: 113/01/05."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = clock.local(value).date()
    return clock.roc_date(value)


def roc_year(year: int) -> str:
    """A Gregorian year as the ROC fiscal-year label: 112年度 (in English: ROC 112)."""
    roc = clock.roc_year(int(year))
    return f"{roc}年度" if reads_chinese() else f"ROC {roc}"


def percent(value: Decimal | float | None) -> str:
    """A rate with two decimals, or — when there is none."""
    if value is None:
        return "—"
    return f"{Decimal(value):.2f}%"


def colon() -> str:
    """The colon after a label: full-width in Chinese (「帳號：」), `: ` in English."""
    return "：" if reads_chinese() else ": "


def labelled(label, value) -> str:
    """A label and its value: 「轉派機關：請選擇機關」 in Chinese, `Agency: …` in English."""
    return f"{label}{colon()}{value}"


def aside(text) -> str:
    """A remark in parentheses after the text before it: full-width in Chinese (「（每 7 天）」),
    ` (every 7 days)` in English."""
    return f"（{text}）" if reads_chinese() else f" ({text})"


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.add_template_filter(taipei)
    app.add_template_filter(roc_datetime)
    app.add_template_filter(roc_date)
    app.add_template_filter(roc_year)
    app.add_template_filter(percent)
    app.add_template_filter(year_input, "year_input")
    app.add_template_global(clock.now, "server_now")
    app.add_template_global(colon)
    app.add_template_global(labelled)
    app.add_template_global(aside)
