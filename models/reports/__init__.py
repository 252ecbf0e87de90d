"""The yearly compliance report (年度達成率): figures, evidence, period close and record import.

- `yearly.py` — `yearly_report(year)`, the one function every report output renders
- `figures.py` — the yearly roll-up queries and the figures dict
- `rules.py` — which years, rate rounding, target met, needed in a row, months, due status
- `narrative.py` — the two published sentences (and how they write a target and a rate)
- `evidence.py` — the records behind each figure, and the raw rows of the XLSX sheets
- `close.py` — closing a year (`ReportSnapshot`) and the restatement of frozen figures
- `late.py` — the year's late dispatches by reason (`dispatch.late_reasons`)
- `scorecard.py` — one agency's standing (the agency scorecard and the monthly digest's figures)
- `digest.py` — the monthly digest: when it is due, what it says, sent once per month
- `access.py` — who may read the report and who may close a year
- `importer.py` / `import_rows.py` — importing past records from CSV, all or nothing
"""

from models.core.clock import minutes  # the pages' and exports' minutes: the one time rule
from models.reports.access import REPORT_READER_ROLES, YEAR_CLOSER_ROLES
from models.reports.close import (
    ReportSnapshot,
    close_year,
    flatten,
    has_records,
    restatement,
    snapshot,
)
from models.reports.evidence import (
    DEFECT_ROW_KEYS,
    DISPATCH_ROW_KEYS,
    defect_evidence_ids,
    defect_rows,
    dispatch_evidence,
    dispatch_rows,
    round_evidence,
)
from models.reports.figures import (
    defect_dates_query,
    defect_tally_query,
    dispatch_tally_query,
    duration_histogram_query,
    figures,
    report_years,
    rounds_query,
)
from models.reports.narrative import format_rate, format_target, narrative
from models.reports.rules import (
    DEFECT_STATUSES,
    FIRST_YEAR,
    LAST_YEAR,
    OUTCOME_FILTERS,
    TargetInEffect,
    check_year,
    month_bounds,
    month_expr,
    month_starts,
    needed_in_a_row,
    not_a_year,
    percentile,
    rate,
    target_in_effect,
    target_met,
)
from models.reports.yearly import yearly_report

__all__ = [
    "DEFECT_ROW_KEYS",
    "DISPATCH_ROW_KEYS",
    "DEFECT_STATUSES",
    "FIRST_YEAR",
    "LAST_YEAR",
    "OUTCOME_FILTERS",
    "REPORT_READER_ROLES",
    "YEAR_CLOSER_ROLES",
    "ReportSnapshot",
    "check_year",
    "not_a_year",
    "close_year",
    "defect_dates_query",
    "defect_evidence_ids",
    "defect_rows",
    "defect_tally_query",
    "dispatch_evidence",
    "dispatch_rows",
    "dispatch_tally_query",
    "duration_histogram_query",
    "figures",
    "flatten",
    "format_rate",
    "format_target",
    "minutes",
    "month_bounds",
    "month_expr",
    "month_starts",
    "narrative",
    "needed_in_a_row",
    "percentile",
    "rate",
    "report_years",
    "has_records",
    "target_in_effect",
    "TargetInEffect",
    "restatement",
    "rounds_query",
    "round_evidence",
    "snapshot",
    "target_met",
    "yearly_report",
]
