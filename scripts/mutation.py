"""Mutation testing of the rules the figures depend on (DESIGN "The rules"; docs/testing.md).

    python scripts/mutation.py                         # every rule module
    python scripts/mutation.py models/reports/rules.py # some of them
    python scripts/mutation.py --changed-since REF     # the rule modules changed since REF

mutmut (`pip install -e '.[mutation]'`, configured in pyproject.toml `[tool.mutmut]`) makes
one-line mutants of the rule functions listed in RULES below, and runs against each the tests
(among the rule test files of `pytest_add_cli_args_test_selection`) that call the mutated
function. A mutant that no test kills is a survivor; survivors listed in docs/testing.md as
equivalent (with the mutated line and the reason) are not counted. Prints each module's score
and the overall score; exits non-zero on a survivor that is not listed, or when the overall
score is below 97%.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "testing.md"
THRESHOLD = 97.0

# The rule functions, by module (a method is `Class.method`). One place: the docs name them.
RULES: dict[str, list[str]] = {
    "models/dispatch/rules.py": ["deadline_after", "on_time_rate", "satisfaction_share"],
    "models/dispatch/tables.py": [
        "Dispatch.is_overdue",
        "Dispatch.outcome",
        "Dispatch.on_time_at",
        "Dispatch.outcome_expr",
        "Dispatch.past_deadline",
        "Visit.visitor_wait",
    ],
    "models/core/clock.py": [
        "taipei_year",
        "roc_year",
        "year_bounds",
        "in_year",
        "minutes",
        "whole_seconds",
        "is_past",
    ],
    "models/reports/rules.py": [
        "target_in_effect",
        "target_met",
        "needed_in_a_row",
        "check_year",
        "is_fixed",
        "DueDates.due_date",
        "DueDates.due_status",
    ],
    "models/reports/narrative.py": ["format_target", "format_rate", "narrative"],
    "models/reports/figures.py": ["_counts", "defect_tally_query"],
    "models/workdays.py": [
        "WorkCalendar.is_working_day",
        "WorkCalendar.add_working_days",
        "WorkCalendar.working_days_between",
    ],
    "models/reports/importer.py": ["apply"],
    "models/core/audit.py": ["content_hash", "verify_chain"],
    "models/dispatch/access.py": ["can_see_dispatches", "visible_condition", "may_act_for_agency"],
    "models/dispatch/operations.py": ["_move"],
    "models/dispatch/late.py": ["may_record_late_reason"],
    "models/dispatch/live.py": ["LiveRows.holds_until"],
}

# mutmut's exit codes: a failing test run (1, 3) or a timeout (36, SIGXCPU) kills the mutant.
STATUS = {
    1: "killed",
    3: "killed",
    36: "killed",
    24: "killed",
    -24: "killed",  # SIGXCPU: the mutant ran past its time limit (a loop that never ends)
    152: "killed",
    255: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    None: "not checked",
}


def mangled(module: str, function: str) -> str:
    """mutmut's name of a function's mutants, without the number (module.x_f, module.xǁCǁm)."""
    dotted = module.removesuffix(".py").replace("/", ".")
    if "." in function:
        cls, method = function.split(".")
        return f"{dotted}.xǁ{cls}ǁ{method}"
    return f"{dotted}.x_{function}"


def equivalents() -> dict[str, str]:
    """The mutants docs/testing.md lists as equivalent: name → the mutated line it names."""
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([\w.ǁ]+__mutmut_\d+)`\s*\|\s*`(.*?)`\s*\|", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def changed_modules(ref: str) -> list[str]:
    """The rule modules that differ between `ref` and the working tree."""
    out = subprocess.run(
        ["git", "diff", "--name-only", ref, "--"], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"git diff against {ref} failed: {out.stderr.strip()}")
    changed = set(out.stdout.split())
    return [m for m in RULES if m in changed]


def migrated_template(folder: Path) -> Path:
    """A migrated SQLite database each test session copies instead of migrating again."""
    path = folder / "template.sqlite3"
    code = (
        "import os, sys; sys.path.insert(0, os.getcwd());"
        "from tests.conftest import make_app; from flask_migrate import upgrade;"
        f"app = make_app('sqlite:///{path}', __import__('pathlib').Path('{folder}'));"
        "ctx = app.app_context(); ctx.push(); upgrade();"
        "from models.core import db; db.session.remove(); db.engine.dispose()"  # WAL written back
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return path


def mutated_line(name: str) -> str:
    """The line a mutant changes (the `+` line of `mutmut show`)."""
    out = subprocess.run(["mutmut", "show", name], cwd=ROOT, capture_output=True, text=True)
    plus = [
        line[1:].strip()
        for line in out.stdout.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " ".join(plus)


def run(modules: list[str], children: int) -> dict[str, dict]:
    """Run mutmut over the rule functions of `modules`; each mutant's status by module."""
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="citydesk-mutation-") as folder:
        env["CITYDESK_TEST_SQLITE_TEMPLATE"] = str(migrated_template(Path(folder)))
        env.pop("TEST_DATABASE_URL", None)
        names = [mangled(m, f) + "__mutmut_*" for m in modules for f in RULES[m]]
        log = ROOT / "mutants" / "mutation.log"
        log.parent.mkdir(exist_ok=True)
        with log.open("w") as out:
            done = subprocess.run(
                ["mutmut", "run", "--max-children", str(children), *names],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            print(log.read_text()[-4000:])
            sys.exit(f"mutmut failed (exit {done.returncode}); the log is {log}")
    return collect(modules)


def collect(modules: list[str]) -> dict[str, dict]:
    """Each rule mutant's status by module, as the last run in `mutants/` left them."""
    results: dict[str, dict] = {}
    for module in modules:
        meta = json.loads((ROOT / "mutants" / f"{module}.meta").read_text())
        prefixes = tuple(mangled(module, f) + "__mutmut_" for f in RULES[module])
        results[module] = {
            k: STATUS.get(v, f"exit {v}")
            for k, v in meta["exit_code_by_key"].items()
            if k.startswith(prefixes)
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="rule modules (default: all of RULES)")
    parser.add_argument("--changed-since", metavar="REF", help="only rule modules changed since")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--report", action="store_true", help="only report what the last run in mutants/ found"
    )
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in RULES]
    if unknown:
        parser.error(f"not a rule module: {', '.join(unknown)} (see RULES in {__file__})")
    modules = args.modules or list(RULES)
    if args.changed_since:
        modules = [m for m in changed_modules(args.changed_since) if m in modules]
        if not modules:
            print(f"mutation: no rule module changed since {args.changed_since}")
            return 0
    started = time.monotonic()
    results = collect(modules) if args.report else run(modules, args.children)
    listed = equivalents()
    new_survivors = []
    totals = {"mutants": 0, "killed": 0, "equivalent": 0}
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'equiv.':>6} {'score':>7}")
    for module, statuses in results.items():
        killed = sum(1 for s in statuses.values() if s == "killed")
        equivalent = 0
        for name, status in sorted(statuses.items()):
            if status == "killed":
                continue
            if name in listed and listed[name] == mutated_line(name):
                equivalent += 1
            else:
                new_survivors.append((name, status))
        counted = len(statuses) - equivalent
        score = 100.0 * killed / counted if counted else 100.0
        print(f"{module:32} {len(statuses):7} {killed:6} {equivalent:6} {score:6.1f}%")
        totals["mutants"] += len(statuses)
        totals["killed"] += killed
        totals["equivalent"] += equivalent
    counted = totals["mutants"] - totals["equivalent"]
    overall = 100.0 * totals["killed"] / counted if counted else 100.0
    print(
        f"{'overall':32} {totals['mutants']:7} {totals['killed']:6} {totals['equivalent']:6} "
        f"{overall:6.1f}%"
    )
    minutes = (time.monotonic() - started) / 60
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {minutes:.1f} min, {os.cpu_count()} cores")
    for name, status in new_survivors:
        print(f"\nNOT KILLED ({status}), not listed as equivalent in docs/testing.md: {name}")
        shown = subprocess.run(["mutmut", "show", name], cwd=ROOT, capture_output=True, text=True)
        print(shown.stdout)
    if new_survivors:
        print(
            f"mutation: {len(new_survivors)} mutant(s) survived: kill each with a test named for "
            "the rule, or list it as equivalent in docs/testing.md with the reason"
        )
        return 1
    if overall < THRESHOLD:
        print(f"mutation: overall score {overall:.1f}% is below {THRESHOLD}%")
        return 1
    print("mutation: every mutant killed or listed as equivalent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
