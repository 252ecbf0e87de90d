"""Every main page of every role fits a 360 × 740 phone: a real browser walks, in Chinese and
in English, the pages each role reaches from home and its menu and the pages those link to (one
per endpoint, plus a ticket in each state, open and closed dispatches and a round in progress),
on the demo data.

Rules checked on each page (the failure names the page and the element):
- the page is no wider than the screen (`scrollWidth` ≤ 360: no sideways scrolling);
- no visible interactive control (link, button, input, select, textarea, summary, label of a
  control) reaches past the screen's right or left edge. No horizontally scrollable container
  is allowed either: a control hidden in one counts as past the edge;
- touch targets are at least 44 px tall: buttons (and `.button` links), summaries, text
  fields, selects and text areas, links laid out as boxes and the links of the site header.
  Exempt: a link in running text (`display: inline`), as WCAG 2.5.8 exempts targets in a
  sentence, and a link in a table cell (a record's number, a figure), which keeps the row's
  text size. A checkbox or radio counts with its label: the taller of the two must be 44 px;
- no table is squeezed: a cell whose text has to break inside a word (more lines than words;
  a run of Chinese counts as one word) leaves room for at least three characters a line.
Elements of 1 px or less (visually hidden) and the skip link (off-screen until focused) are
not controls a finger can reach and are left out.

A full-page screenshot of each page goes to test-artifacts/phone/.
"""

from collections import deque
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from models.core import db
from models.dispatch import OPEN_STATES, Dispatch, create_display_link
from models.facility import Defect, InspectionRound
from models.reference import Agency
from models.users import User
from tests.conftest import browser_login, screenshot
from tests.foundation.conftest import DEMO_LOGINS

pytestmark = pytest.mark.browser

PHONE_360 = {"width": 360, "height": 740}


# Not pages: files, images, downloads and the app's machinery.
NOT_PAGES = {
    "static",
    "main.manifest",
    "main.service_worker",
    "facility.photo",
    "facility.poster",
    "reports.download",
    "imports.problems",
}
MAX_PAGES = 60  # per role; the walk keeps one page per endpoint, so this is never reached

MEASURE = """
() => {
  const W = window.innerWidth;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim())
      s += '.' + el.className.trim().split(/\\s+/).join('.');
    for (const a of ['name', 'type', 'href', 'value']) {
      const v = el.getAttribute(a);
      if (v && a !== 'value') s += `[${a}=${v}]`;
    }
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '')
      .replace(/\\s+/g, ' ').trim().slice(0, 30);
    return text ? `${s} 「${text}」` : s;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) return null;
    if (!el.checkVisibility({visibilityProperty: true})) return null;  // e.g. in a closed <details>
    if (el.closest('.visually-hidden, .skip-link')) return null;
    for (let up = el.parentElement; up; up = up.parentElement) {
      const box = up.getBoundingClientRect();
      if ((box.width <= 1 || box.height <= 1) && getComputedStyle(up).overflow !== 'visible')
        return null;  // inside a visually hidden box (a stacked table's header row)
    }
    return r;
  };
  const out = {
    scrollWidth: document.documentElement.scrollWidth,
    bodyWidth: document.body.scrollWidth,
    past: [], small: [], squeezed: [],
  };
  const controls = 'a[href], button, input:not([type=hidden]), select, textarea, summary, label';
  for (const el of document.querySelectorAll(controls)) {
    if (el.tagName === 'LABEL' && !el.control) continue;
    const r = shown(el);
    if (!r) continue;
    if (r.right > W + 0.5 || r.left < -0.5)
      out.past.push(`${describe(el)} spans x ${Math.round(r.left)}–${Math.round(r.right)}`);
  }
  const textual = ['text', 'password', 'email', 'number', 'search', 'tel', 'url', 'date',
                   'datetime-local', 'time', 'month', 'week', 'file', 'submit', 'button',
                   'reset', 'image'];
  const tall = (el) => {
    const r = shown(el);
    return r ? r.height : 0;
  };
  for (const el of document.querySelectorAll(
      'button, input:not([type=hidden]), select, textarea, summary, a[href]')) {
    const r = shown(el);
    if (!r) continue;
    let height = r.height;
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (el.tagName === 'A') {
      const inText = getComputedStyle(el).display === 'inline' || el.closest('td, th');
      if (inText && !el.classList.contains('button') && !el.closest('.site-header')) continue;
    } else if (el.tagName === 'INPUT' && (type === 'checkbox' || type === 'radio')) {
      for (const label of el.labels || []) height = Math.max(height, tall(label));
    } else if (el.tagName === 'INPUT' && !textual.includes(type)) {
      continue;  // colour, range: none in CityDesk
    }
    if (height < 43.5) out.small.push(`${describe(el)} is ${Math.round(height)} px tall`);
  }
  for (const cell of document.querySelectorAll('td, th')) {
    const r = shown(cell);
    if (!r) continue;
    if ([...cell.innerText.replace(/\\s/g, '')].length < 3) continue;
    const cs = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    // Lines of text in the cell, and the words (runs between spaces) they hold.
    const range = document.createRange();
    range.selectNodeContents(cell);
    const boxes = [...range.getClientRects()].filter((b) => b.width > 0);
    boxes.sort((a, b) => a.top - b.top);
    let lines = 0;
    let bottom = -Infinity;
    for (const box of boxes) {
      if (box.top >= bottom - 2) {
        lines += 1;  // starts below the line before: a new line
        bottom = box.bottom;
      } else bottom = Math.max(bottom, box.bottom);
    }
    const words = cell.innerText.trim().split(/\\s+/).length;
    if (lines > words && room < 3 * parseFloat(cs.fontSize))
      out.squeezed.push(`${describe(cell)} has ${Math.round(room)} px for its text`);
  }
  return out;
}
"""


def wall_display_link() -> str:
    """A display link for a wall screen (made as the demo administrator)."""
    admin = db.session.scalar(select(User).where(User.username == DEMO_LOGINS["admin"]))
    _link, secret = create_display_link("一樓大廳電視", by=admin)
    db.session.commit()
    return f"/desk/board/wall/{secret}"


def extra_pages(role: str) -> list[str]:
    """Pages the walk may not reach by the first link of their kind: each state matters."""
    if role == "clerk":
        # The first by id (a query without ORDER BY answers in whatever order its plan reads).
        by_id = select(Dispatch).order_by(Dispatch.id)
        open_one = db.session.scalar(
            by_id.where(Dispatch.state.in_([s.value for s in OPEN_STATES]))
        )
        closed = db.session.scalar(
            by_id.where(Dispatch.state.not_in([s.value for s in OPEN_STATES]))
        )
        return [
            f"/desk/dispatches/{open_one.id}",
            f"/desk/dispatches/{closed.id}",
            f"/desk/visits/{closed.visit_id}",
            "/desk/end-of-day",
        ]
    if role == "agency":
        mine = (
            select(Dispatch)
            .join(Dispatch.agency)
            .where(Agency.code == "social-welfare")
            .order_by(Dispatch.id)
        )
        open_one = db.session.scalar(mine.where(Dispatch.state.in_([s.value for s in OPEN_STATES])))
        return [f"/agency/dispatches/{open_one.id}"] if open_one else []
    if role in ("facility", "supervisor"):
        tickets = {d.state: d.id for d in db.session.scalars(select(Defect).order_by(Defect.id))}
        pages = [f"/facility/tickets/{i}" for i in tickets.values()]
        if role == "facility":
            walk = db.session.scalar(
                select(InspectionRound).where(InspectionRound.finished_at.is_(None))
            )
            pages += [
                f"/facility/rounds/{walk.id}",
                f"/facility/rounds/{walk.id}?floor=2F",
                f"/facility/rounds/{walk.id}/finding?floor=1F&category=facility",
            ]
        return pages
    return []


def _endpoint(adapter, path: str) -> str | None:
    """The endpoint serving `path`, or None when it is not one of ours."""
    try:
        return adapter.match(urlsplit(path).path, method="GET")[0]
    except HTTPException:
        return None


def _links(page, origin: str) -> list[str]:
    """The same-site paths the page links to (no downloads, no other sites)."""
    hrefs = page.eval_on_selector_all("a[href]:not([download])", "els => els.map(e => e.href)")
    paths = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def _problems(result: dict) -> list[str]:
    problems = []
    if result["scrollWidth"] > PHONE_360["width"] or result["bodyWidth"] > PHONE_360["width"]:
        problems.append(
            f"page is {max(result['scrollWidth'], result['bodyWidth'])} px wide "
            f"(screen {PHONE_360['width']})"
        )
    problems += [f"past the edge: {p}" for p in result["past"]]
    problems += [f"touch target too small: {p}" for p in result["small"]]
    problems += [f"squeezed table cell: {p}" for p in result["squeezed"]]
    return problems


def walk(page, app, role: str, origin: str, name: str) -> tuple[list[str], dict[str, list[str]]]:
    """Visit the role's pages breadth-first from home: one page per endpoint (plus the
    extra pages); returns the paths visited and the problems found per path."""
    adapter = app.url_map.bind("localhost")
    queue = deque(["/", *extra_pages(role)])
    extras = set(queue) - {"/"}
    seen_endpoints: set[str] = set()
    visited: list[str] = []
    found: dict[str, list[str]] = {}
    while queue and len(visited) < MAX_PAGES:
        path = queue.popleft()
        endpoint = _endpoint(adapter, path)
        if endpoint is None or endpoint in NOT_PAGES or path in visited:
            continue
        if path not in extras:
            if endpoint in seen_endpoints:
                continue
            seen_endpoints.add(endpoint)
        response = page.goto(path)
        assert response.status == 200, f"{role} {path}: HTTP {response.status}"
        page.wait_for_load_state("load")
        visited.append(path)
        slug = path.strip("/").replace("/", "_").replace("?", "_").replace("&", "_") or "home"
        screenshot(page, f"phone/{name}-{slug.replace('=', '-')}")
        problems = _problems(page.evaluate(MEASURE))
        if problems:
            found[f"{name} {path}"] = problems
        menu = page.locator(".nav-menu summary")
        if path == "/" and menu.is_visible():  # the phone menu, open
            menu.click()
            screenshot(page, f"phone/{name}-menu")
            problems = _problems(page.evaluate(MEASURE))
            if problems:
                found[f"{name} {path} (menu open)"] = problems
        queue.extend(_links(page, origin))
    return visited, found


@pytest.mark.module_data  # the demo data is built once for every role and language
@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("role", ["anonymous", *DEMO_LOGINS])
def test_every_page_fits_a_360px_phone(browser, live_server, app, module_demo, role, language):
    name = f"{language}-{role}"
    locale = "zh-TW" if language == "zh" else "en-US"
    context = browser.new_context(viewport=PHONE_360, base_url=live_server, locale=locale)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/login")
        if language == "en":
            page.get_by_role("button", name="English").click()
        if role == "anonymous":  # the sign-in page and a wall screen's display link
            visited, found = ["/login", "/desk/board/wall/<link>"], {}
            for path, shot in [("/login", "login"), (wall_display_link(), "wall-display")]:
                if path != "/login":
                    page.goto(path)
                screenshot(page, f"phone/{name}-{shot}")
                problems = _problems(page.evaluate(MEASURE))
                if problems:
                    found[f"{name} {shot}"] = problems
        else:
            browser_login(page, DEMO_LOGINS[role], module_demo[DEMO_LOGINS[role]])
            visited, found = walk(page, app, role, live_server, name)
    finally:
        context.close()
    print(f"{name}: walked {len(visited)} pages: {' '.join(visited)}")
    assert len(visited) >= 1
    report = "\n".join(f"{where}:\n  " + "\n  ".join(problems) for where, problems in found.items())
    assert not found, f"pages that do not fit a 360 px phone:\n{report}"
