"""The sentences of the published report, written from the figures (DESIGN "The narrative"),
and the way DESIGN writes a target (85, 87.5) and a rate (86.44) in them: the two published
ones, and a third on the visitors' satisfaction when any visitor answered."""

from decimal import ROUND_HALF_UP, Decimal

from models.core import clock
from models.reports.rules import HUNDREDTHS


def format_target(target: Decimal | float | int | None) -> str:
    """A target as DESIGN writes it: without trailing zeros (85, 87.5); — when unset."""
    if target is None:
        return "—"
    value = Decimal(str(target)).normalize()
    return f"{value:f}"


def format_rate(value: Decimal | float | None) -> str:
    """A rate always with two decimals (86.44, 80.00); — when there is none."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)).quantize(HUNDREDTHS, ROUND_HALF_UP):f}"


def narrative(
    year: int, dispatch: dict, defects: dict, satisfaction: dict | None = None
) -> list[str]:
    """The sentences of the published report, written from the figures (always Chinese): the
    two published ones, and the satisfaction sentence when any visitor answered."""
    roc = clock.roc_year(year)
    minutes = dispatch.get("sla_minutes")
    limit = f"{format_target(minutes)}分鐘" if minutes is not None else "規定時限"
    first = (
        f"{roc}年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計{dispatch['counted']}件。"
        f"其中計有{dispatch['late']}件超過{limit}到場，"
    )
    if dispatch["rate"] is None:
        first += "尚無可計算之年度達成率。"
    elif dispatch["target"] is None:
        first += f"年度達成率為{format_rate(dispatch['rate'])}%。"
    else:
        verdict = "已達" if dispatch["target_met"] else "未達"
        # A year without a target of its own is held to the one it carries over (DESIGN).
        set_for = dispatch.get("target_year") or year
        whose = f"沿用{clock.roc_year(set_for)}" if set_for != year else str(roc)
        first += (
            f"年度達成率為{format_rate(dispatch['rate'])}%，"
            f"{verdict}{whose}年度訂定之{format_target(dispatch['target'])}%目標值。"
        )
    parts = "、".join(f"{c['name_zh']}{c['fixed']}件" for c in defects["by_category"])
    second = f"{roc}年度缺失案件並完成改善總計{defects['fixed']}件({parts})。"
    third = satisfaction_sentence(year, satisfaction)
    return [first, second] if third is None else [first, second, third]


def satisfaction_sentence(year: int, satisfaction: dict | None) -> str | None:
    """The third sentence, in the published style, e.g. `112年度派員到場服務之民眾滿意度調查
    共計回收40件，其中表示滿意者34件，滿意度為85.00%。`; None when nobody answered."""
    if not satisfaction or not satisfaction.get("responses"):
        return None
    roc = clock.roc_year(year)
    return (
        f"{roc}年度派員到場服務之民眾滿意度調查共計回收{satisfaction['responses']}件，"
        f"其中表示滿意者{satisfaction['satisfied']}件，"
        f"滿意度為{format_rate(satisfaction['share_satisfied'])}%。"
    )
