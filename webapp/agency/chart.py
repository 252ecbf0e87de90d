"""The scorecard's month-by-month line, drawn on the server as SVG geometry (no script, no
style attribute: the CSP forbids them; colours come from classes in scorecard.css).

A phone-sized drawing (360 units wide, so its text stays legible at 360 px): each month's
on-time rate as a bar, the rate of the year so far as a line through the months that have
begun, and the target as a dashed line. The scale starts at the tens below the lowest value
(rates live between 80 and 100; a 0-100 scale would flatten them)."""

from typing import Any

WIDTH, HEIGHT = 360, 210
LEFT, RIGHT, TOP, BOTTOM = 30, 12, 14, 30


def _floor_ten(value: float) -> int:
    return max(0, int(value // 10) * 10)


def year_line(card: dict[str, Any], last_month: int) -> dict[str, Any]:
    """The geometry of a scorecard's months up to `last_month` (12 once the year is over)."""
    months = card["by_month"][:last_month]
    values = [m["rate"] for m in months if m["rate"] is not None]
    values += [m["year_to_date_rate"] for m in months if m["year_to_date_rate"] is not None]
    if card["target"] is not None:
        values.append(card["target"])
    low = min(_floor_ten(min(values)) if values else 0, 90)
    span = HEIGHT - TOP - BOTTOM
    plot = WIDTH - LEFT - RIGHT
    step = plot / 12

    def y(value: float) -> float:
        return round(TOP + span * (1 - (value - low) / (100 - low)), 1)

    bars, points = [], []
    for row in months:
        x = LEFT + step * (row["month"] - 1)
        middle = round(x + step / 2, 1)
        if row["rate"] is not None:
            top = y(max(row["rate"], low))
            bars.append(
                {
                    "month": row["month"],
                    "x": round(x + step * 0.2, 1),
                    "width": round(step * 0.6, 1),
                    "y": top,
                    "height": round(y(low) - top, 1),
                    "rate": row["rate"],
                    "below": None if card["target"] is None else row["rate"] < card["target"],
                }
            )
        if row["year_to_date_rate"] is not None:
            points.append(
                {
                    "month": row["month"],
                    "x": middle,
                    "y": y(max(row["year_to_date_rate"], low)),
                    "rate": row["year_to_date_rate"],
                }
            )
    middle_tick = low + (100 - low) // 2
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": y(low),
        "ticks": [{"value": v, "y": y(v)} for v in sorted({low, middle_tick, 100})],
        "labels": [{"month": m, "x": round(LEFT + step * (m - 0.5), 1)} for m in range(1, 13)],
        "bars": bars,
        "points": points,
        "line": " ".join(f"{p['x']},{p['y']}" for p in points),
        "target_y": y(card["target"]) if card["target"] is not None else None,
    }
