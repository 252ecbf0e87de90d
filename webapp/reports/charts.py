"""Server-side SVG charts for the report page: geometry only; the template draws it.

No script and no style attribute (the CSP forbids them): colours come from classes in
reports.css, positions from SVG attributes.
"""

from typing import Any

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 84, 14, 34


def _y(value: float, top: float = 100.0) -> float:
    """The y coordinate of a value on a 0..top scale."""
    span = HEIGHT - TOP - BOTTOM
    return round(TOP + span * (1 - value / top), 1)


def monthly_rate(dispatch: dict) -> dict[str, Any]:
    """Bars of each month's on-time rate (0-100 %) and the target line."""
    plot = WIDTH - LEFT - RIGHT
    step = plot / 12
    target = dispatch.get("target")
    bars = []
    for row in dispatch["by_month"]:
        x = LEFT + step * (row["month"] - 1)
        value = row["rate"]
        bar = {
            "month": row["month"],
            "x": round(x + step * 0.15, 1),
            "width": round(step * 0.7, 1),
            "label_x": round(x + step / 2, 1),
            "rate": value,
        }
        if value is not None:
            bar["y"] = _y(value)
            bar["height"] = round(_y(0) - bar["y"], 1)
            # Met or missed only against a target that exists: else None (a plain bar).
            bar["below"] = None if target is None else value < target
        bars.append(bar)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "label_x": WIDTH - RIGHT + 6,
        "bottom": _y(0),
        "ticks": [{"value": v, "y": _y(v)} for v in (0, 25, 50, 75, 100)],
        "target_y": _y(target) if target is not None else None,
        "bars": bars,
    }


def defects_by_category(defects: dict) -> dict[str, Any]:
    """Pairs of bars per category: found and fixed, on a scale of the largest count."""
    plot = WIDTH - LEFT - RIGHT
    categories = defects["by_category"]
    top = max([c["found"] for c in categories] + [1])
    step = plot / max(len(categories), 1)
    groups = []
    for index, row in enumerate(categories):
        x = LEFT + step * index
        group = {"row": row, "label_x": round(x + step / 2, 1), "bars": []}
        for offset, key in ((0.15, "found"), (0.5, "fixed")):
            y = _y(row[key], top)
            group["bars"].append(
                {
                    "key": key,
                    "value": row[key],
                    "x": round(x + step * offset, 1),
                    "width": round(step * 0.33, 1),
                    "y": y,
                    "height": round(_y(0, top) - y, 1),
                    "text_x": round(x + step * (offset + 0.165), 1),
                }
            )
        groups.append(group)
    ticks = sorted({0, round(top / 2), top})
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": _y(0, top),
        "ticks": [{"value": v, "y": _y(v, top)} for v in ticks],
        "groups": groups,
    }
