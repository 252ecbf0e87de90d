"""Every message a user can see reads as a Taiwanese civil servant writes it when the UI is
zh-TW, and in plain English when it is English (issue 15): every page of every role (walked
from home and its links on the demo data, as tests/foundation/test_phone.py walks them, plus
its extra pages), every form sent empty and with bad values (the form errors and flash
messages that come back), the error pages, the e-mails, the in-app notices, the API's error
messages, the CLI's messages and the compiled catalogue.

The rules are in tests/foundation/wording.py (OpenCC for Simplified-only characters and
Taiwan's phrases, a list of mainland terms, English sentences, half-width punctuation).
"""

import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.mofile import read_mo
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from models.core import db
from models.core.outbox import Channel, Notification
from tests.foundation.conftest import DEMO_LOGINS
from tests.foundation.test_phone import NOT_PAGES, extra_pages, wall_display_link
from tests.foundation.wording import (
    Masks,
    chinese_problems,
    english_problems,
    visible_texts,
)

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["anonymous", *DEMO_LOGINS]

# Forms not sent by the walk: signing out or in, switching the language, unlocking (wrong
# passwords would throttle the demo account). Their messages are checked by their own tests.
NOT_SENT = {"auth.logout", "auth.login", "main.set_language", "auth.unlock"}
# GET pages that only answer a form or a file (no page of their own to read).
NOT_READ = NOT_PAGES | {"auth.logout", "main.set_language"}
TEXT_INPUTS = {
    "text",
    "search",
    "password",
    "email",
    "number",
    "tel",
    "url",
    "date",
    "datetime-local",
    "time",
    "month",
    "week",
    None,
}
BAD_VALUES = {
    "number": "-1",
    "email": "x",
    "date": "x",
    "url": "x",
    "tel": "x",
    "datetime-local": "x",
    "time": "x",
    "month": "x",
}


class _Forms:
    """The POST forms of a page: action, fields (name, type, default) and whether it has any
    field a person fills in."""

    def __init__(self, html: str):
        self.found: list[dict] = []
        for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", html, re.S | re.I):
            head, body = match.groups()
            if not re.search(r'method="post"', head, re.I):
                continue
            action = re.search(r'action="([^"]*)"', head)
            fields, filled = [], False
            tags = re.finditer(
                r"<(select)\b([^>]*)>(.*?)</select>|<(input|textarea)\b([^>]*)>", body, re.S | re.I
            )
            for tag in tags:
                if tag.group(1):
                    kind, attrs, inner = "select", tag.group(2), tag.group(3)
                else:
                    kind, attrs, inner = tag.group(4).lower(), tag.group(5), ""
                name = re.search(r'\bname="([^"]*)"', attrs)
                if not name:
                    continue
                itype = re.search(r'\btype="([^"]*)"', attrs)
                itype = itype.group(1).lower() if itype else None
                value = re.search(r'\bvalue="([^"]*)"', attrs)
                value = value.group(1) if value else ""
                if kind == "select":
                    options = re.findall(r"<option\b([^>]*)>", inner)
                    chosen = [o for o in options if re.search(r"\bselected\b", o)] or options[:1]
                    picked = re.search(r'\bvalue="([^"]*)"', chosen[0]) if chosen else None
                    value = picked.group(1) if picked else ""
                    filled = True
                elif kind == "textarea" or itype in TEXT_INPUTS:
                    filled = True
                    kind = "text"
                elif itype in ("checkbox", "radio"):
                    if not re.search(r"\bchecked\b", attrs):
                        continue
                elif itype in ("submit", "button", "file"):
                    continue
                fields.append({"name": name.group(1), "kind": kind, "type": itype, "value": value})
            self.found.append(
                {"action": action.group(1) if action else None, "fields": fields, "filled": filled}
            )


def _endpoint(adapter, path: str, method="GET") -> str | None:
    try:
        return adapter.match(urlsplit(path).path, method=method)[0]
    except HTTPException:
        return None


def _links(html: str) -> list[str]:
    paths = []
    for href in re.findall(r'<a\b[^>]*href="([^"#]*)"', html):
        if "download" in href:
            continue
        parts = urlsplit(href.replace("&amp;", "&"))
        if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/api/"):
            continue
        paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def _check(found: dict, where: str, html: str, language: str, masks: Masks) -> None:
    rule = chinese_problems if language == "zh" else english_problems
    problems = []
    for text in visible_texts(html, language):
        problems += rule(text, masks)
    if problems:
        found.setdefault(where, [])
        for p in problems:
            if p not in found[where]:
                found[where].append(p)


def _send_forms(client, adapter, page: str, html: str, language, masks, found, sent) -> None:
    """Send each fillable POST form of the page as a browser would with its fields cleared,
    then with bad values in the typed fields; read the page that comes back."""
    for form in _Forms(html).found:
        action = form["action"] or page
        endpoint = _endpoint(adapter, action, "POST")
        if endpoint is None or endpoint in NOT_SENT or not form["filled"] or endpoint in sent:
            continue
        sent.add(endpoint)
        for attempt in ("empty", "bad"):
            data = {}
            for field in form["fields"]:
                if field["kind"] == "text":
                    value = BAD_VALUES.get(field["type"], "") if attempt == "bad" else ""
                else:
                    value = field["value"]
                data[field["name"]] = value
            if attempt == "bad" and data == {
                f["name"]: ("" if f["kind"] == "text" else f["value"]) for f in form["fields"]
            }:
                continue  # no typed field takes a bad value
            response = client.post(action, data=data, follow_redirects=True)
            assert response.status_code < 500, f"{page}: form {action} ({attempt}) failed"
            _check(
                found,
                f"{page} form {action} ({attempt})",
                response.get_data(as_text=True),
                language,
                masks,
            )


def _sign_in(app, role: str, passwords: dict, language: str):
    client = app.test_client()
    if role != "anonymous":
        username = DEMO_LOGINS[role]
        response = client.post(
            "/login", data={"username": username, "password": passwords[username]}
        )
        assert response.status_code == 302, f"{role} could not sign in"
    client.post("/language", data={"lang": "en" if language == "en" else "zh_Hant_TW"})
    return client


def _ack_path() -> str:
    """The acknowledgement page of a new notice e-mail (its token travels only by mail)."""
    from models.core import audit
    from models.dispatch import log_visit, notify
    from models.reference import agency_by_code, update_agency
    from models.users import User

    clerk = db.session.scalar(select(User).where(User.username == DEMO_LOGINS["clerk"]))
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        update_agency(agency_by_code("labor"), emails="desk@labor.example")
        visit = log_visit(kind="petition", subject="勞保給付查詢", by=clerk)
        dispatch = notify(visit, "labor", by=clerk)
        db.session.commit()
    mail = db.session.scalar(
        select(Notification).where(
            Notification.dispatch_id == dispatch.id, Notification.channel == Channel.EMAIL.value
        )
    )
    return mail.payload["ack_path"]


def walk(app, client, role, language, masks, found, anonymous=()) -> set[str]:
    """Read the role's pages (one per endpoint, plus the extra pages) breadth-first from
    home, and send their forms; returns the endpoints read."""
    adapter = app.url_map.bind("localhost")
    start = ["/", *extra_pages(role)]
    if role == "anonymous":  # the sign-in page, a wall screen and an e-mail's ack link
        start = ["/", "/login", *anonymous]
    queue = deque(start)
    extras = set(start)
    seen, read, sent = set(), set(), set()
    while queue:
        path = queue.popleft()
        endpoint = _endpoint(adapter, path)
        if endpoint is None or endpoint in NOT_READ or path in seen:
            continue
        if path not in extras and endpoint in read:
            continue
        seen.add(path)
        read.add(endpoint)
        response = client.get(path, follow_redirects=True)
        assert response.status_code < 500, f"{role} {path}: HTTP {response.status_code}"
        if not response.content_type.startswith("text/html"):
            continue
        html = response.get_data(as_text=True)
        _check(found, f"{language} {role} {path}", html, language, masks)
        _send_forms(client, adapter, path, html, language, masks, found, sent)
        queue.extend(_links(html))
    return read


def _report(found: dict) -> str:
    return "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())


def _page_endpoints(app) -> set[str]:
    """The GET endpoints that answer with a page (not the API, files or form answers)."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and rule.endpoint not in NOT_READ
        and not rule.rule.startswith("/api/")
    }


# The screen of the idle lock shows only on a locked session (tests/security/test_idle_lock.py);
# unlocked, /unlock goes straight on to the page asked for.
UNLINKED = {"auth.unlock"}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_page_and_form_speaks_the_users_language(app, phone_demo, language):
    """Every role's pages and form answers: zh-TW wording in Chinese, no Chinese in English
    (outside names, what people typed and the published narrative)."""
    anonymous = [wall_display_link(), _ack_path()]  # pages a link in hand opens
    masks = Masks.from_database()
    found: dict[str, list[str]] = {}
    read: set[str] = set()
    for role in ROLES:
        client = _sign_in(app, role, phone_demo, language)
        read |= walk(app, client, role, language, masks, found, anonymous)
    unread = sorted(_page_endpoints(app) - read - UNLINKED)
    if unread:
        found["pages no role reached (link them, or add them to the walk)"] = unread
    assert not found, f"wording problems ({language}):\n{_report(found)}"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_error_pages_speak_the_users_language(app, csrf_app, phone_demo, language, monkeypatch):
    """404, 403, 500 and an expired form (CSRF) in the reader's language."""
    masks = Masks.from_database()
    found: dict[str, list[str]] = {}
    client = _sign_in(app, "clerk", phone_demo, language)
    for path, status in (("/no-such-page", 404), ("/admin/users", 403)):
        response = client.get(path)
        assert response.status_code == status
        _check(found, f"{status} {path}", response.get_data(as_text=True), language, masks)
    stranger = csrf_app.test_client()
    with stranger.session_transaction() as session:
        session["lang"] = "en" if language == "en" else "zh_Hant_TW"
    response = stranger.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    _check(found, "CSRF /login", response.get_data(as_text=True), language, masks)

    def broken():
        raise RuntimeError("a test breaks the page on purpose")

    monkeypatch.setitem(app.view_functions, "notifications.index", broken)
    response = client.get("/notifications")
    assert response.status_code == 500
    _check(found, "500 /notifications", response.get_data(as_text=True), language, masks)
    assert not found, _report(found)


def test_api_errors_speak_the_users_language(app, phone_demo):
    """A JSON error's message follows the signed-in user's language."""
    masks = Masks.from_database()
    found: dict[str, list[str]] = {}
    for language in ("zh", "en"):
        client = _sign_in(app, "clerk", phone_demo, language)
        for method, path, body in (
            ("POST", "/api/v1/visits", {}),
            ("POST", "/api/v1/visits", {"kind": "petition", "subject": "x", "bogus": 1}),
            ("GET", "/api/v1/dispatches/999999", None),
            ("POST", "/api/v1/visits/999999/dispatches", {"agency": "no-such-agency"}),
            ("GET", "/api/v1/reports/yearly?year=abc", None),
        ):
            response = client.open(path, method=method, json=body)
            assert response.status_code >= 400, path
            message = response.get_json()
            texts = [message["message"]]
            for messages in (message.get("fields") or {}).values():
                stack = [messages]
                while stack:
                    item = stack.pop()
                    if isinstance(item, dict):
                        stack.extend(item.values())
                    elif isinstance(item, list):
                        stack.extend(item)
                    else:
                        texts.append(str(item))
            rule = chinese_problems if language == "zh" else english_problems
            problems = [p for text in texts for p in rule(text, masks)]
            if language == "zh" and not any(re.search("[\u4e00-\u9fff]", t) for t in texts):
                problems.append(f"no Chinese at all: {texts}")
            if problems:
                found[f"{language} {method} {path}"] = problems
    assert not found, _report(found)


def test_every_email_speaks_both_languages(app, phone_demo):
    """Each kind of e-mail the demo sends: the Chinese half reads as Taiwan writes, the
    English half is English (the mails are bilingual, Chinese first)."""
    from jobs.config import MailSettings
    from jobs.messages import render_email
    from models.dispatch import Dispatch
    from models.dispatch import notices as dispatch_notices

    _ack_path()  # a dispatch to an agency with an e-mail address: its notified mail
    dispatch = db.session.scalar(select(Dispatch).order_by(Dispatch.id.desc()))
    dispatch_notices.enqueue_reminder(dispatch, number=2)
    dispatch_notices.enqueue_breach(dispatch, to_supervisors=True)
    dispatch_notices.enqueue_chief(dispatch, minutes_late=7)
    db.session.commit()
    masks = Masks.from_database()
    found: dict[str, list[str]] = {}
    kinds = {}
    for notice in db.session.scalars(
        select(Notification).where(Notification.channel == Channel.EMAIL.value)
    ):
        kinds.setdefault(notice.kind, notice)
    wanted = {"dispatch.notified", "dispatch.reminder", "dispatch.breach", "dispatch.escalated"}
    assert wanted <= set(kinds), sorted(kinds)
    settings = MailSettings.from_config(app.config)
    for kind, notice in sorted(kinds.items()):
        dispatch = db.session.get(Dispatch, notice.dispatch_id) if notice.dispatch_id else None
        message = render_email(notice, dispatch, settings)
        body = message.get_content()
        chinese, _line, english = body.partition("-" * 64)
        english, _sig, _footer = english.partition("\n--\n")
        zh_subject, _slash, en_subject = str(message["Subject"]).partition(" / ")
        problems = [p for t in (zh_subject, chinese) for p in chinese_problems(t, masks)]
        problems += [p for t in (en_subject, english) for p in english_problems(t, masks)]
        if problems:
            found[kind] = problems
    assert not found, _report(found)


def test_notices_tell_one_dispatch_from_another(app, phone_demo):
    """Each in-app notice and each e-mail about a dispatch names its number, its subject and
    its agency (two overdue notices used to read the same)."""
    from jobs.config import MailSettings
    from jobs.messages import render_email
    from models.dispatch import Dispatch
    from webapp.notifications.views import describe

    settings = MailSettings.from_config(app.config)
    checked = 0
    with app.test_request_context("/"):
        for notice in db.session.scalars(
            select(Notification).where(Notification.dispatch_id.is_not(None))
        ):
            dispatch = db.session.get(Dispatch, notice.dispatch_id)
            wanted = [f"#{dispatch.id}", dispatch.subject, dispatch.agency.name_zh]
            if notice.channel == Channel.IN_APP.value:
                text = describe(notice, dispatch)
            elif notice.channel == Channel.EMAIL.value:
                message = render_email(notice, dispatch, settings)
                text = str(message["Subject"])
            else:
                continue
            missing = [w for w in wanted if w not in text]
            assert not missing, f"{notice.kind} to {notice.recipient}: {text!r} lacks {missing}"
            checked += 1
    assert checked > 0


def test_the_compiled_catalogue_reads_as_taiwan_writes(app):
    """Every msgstr of the compiled zh-TW catalogue passes the Chinese rules."""
    mo = Path(app.instance_path) / "translations/zh_Hant_TW/LC_MESSAGES/messages.mo"
    with mo.open("rb") as handle:
        catalog = read_mo(handle)
    found = {}
    for message in catalog:
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else message.string
        problems = [p for s in strings for p in chinese_problems(s)]
        if problems:
            found[message.id if isinstance(message.id, str) else message.id[0]] = problems
    assert len(catalog) > 500
    assert not found, _report(found)


def test_the_rules_catch_what_they_name():
    """The checks fail on each kind of mistake they exist for (so a pass means something)."""
    simplified = "\u8be5\u5b57\u6bb5\u662f\u5fc5\u586b\u5b57\u6bb5\u3002"  # WTForms zh
    assert any("Simplified" in p for p in chinese_problems(simplified))
    assert any("mainland" in p for p in chinese_problems("\u9ed8\u8a8d\u503c"))
    assert any("Taiwan phrase" in p for p in chinese_problems("\u652f\u6301"))
    assert any("English" in p for p in chinese_problems("帳號 Username already taken"))
    assert any("half-width" in p for p in chinese_problems("滿意度 (%)"))
    assert any("half-width" in p for p in chinese_problems("帳號: clerk"))
    assert any("half-width" in p for p in chinese_problems("預計 8 分鐘 （由林社工確認）"))
    assert chinese_problems("櫃台人員；滿意度（%）；CityDesk 的 API 權杖；clerk@city.example") == []
    narrative = "112年度缺失案件並完成改善總計198件(淨空走道95件、設施正常48件、"
    narrative += "環境整潔38件、天地無虞17件)。"
    assert chinese_problems(narrative) == []
    assert english_problems("Dispatch #3 to 社會局") != []
    assert english_problems("Dispatch #3 to 社會局", Masks(["社會局"])) == []
    html = '<p>申請<button lang="en">English</button><span title="說明">x</span></p>'
    html += "<script>a b</script>"
    assert visible_texts(html, "zh") == ["申請", "說明", "x"]


def test_cli_messages_follow_the_cli_language(run_cli, monkeypatch, create_user):
    """The CLI speaks the language of its environment (LC_ALL / LC_MESSAGES / LANG, as any
    POSIX tool): zh_TW → Traditional Chinese, en_US → English, C → the site's default."""
    create_user(role="clerk", username="taken")
    cases = [
        ("create-user", "taken", "--role", "clerk"),
        ("create-user", "someone", "--role", "agency"),
        ("create-user", "someone", "--role", "janitor"),
        ("create-user", "x", "--role", "clerk"),
        ("set-password", "nobody"),
    ]
    found = {}
    for language, env in (("zh", "zh_TW.UTF-8"), ("en", "en_US.UTF-8"), ("zh", "C.UTF-8")):
        monkeypatch.setenv("LANG", env)
        monkeypatch.delenv("LC_ALL", raising=False)
        monkeypatch.delenv("LC_MESSAGES", raising=False)
        for args in cases:
            result = run_cli(*args, input="Correct-Horse-9-battery\n")
            assert result.exit_code != 0, args
            text = result.output
            rule = chinese_problems if language == "zh" else english_problems
            problems = rule(text, Masks(["taken", "someone", "janitor", "nobody"]))
            if language == "zh" and not re.search("[\u4e00-\u9fff]", text):
                problems.append("no Chinese at all")
            if problems:
                found[f"{env} {' '.join(args)}: {text.strip()}"] = problems
        report = run_cli("report", "yearly", "--format", "text")
        assert report.exit_code == 0, report.output
        rule = chinese_problems if language == "zh" else english_problems
        problems = rule(report.output, Masks.from_database())
        if problems:
            found[f"{env} report yearly"] = problems
    assert not found, _report(found)


def test_the_glossary_is_the_catalogues_wording():
    """docs/glossary.md: for each row marked ✓, every msgid with the English word (the row's
    regex) has the row's Chinese term (or one of those named in parentheses) in its
    translation: one concept, one term."""
    from babel.messages.pofile import read_po

    rows = []
    for line in (ROOT / "docs/glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[3].startswith("✓"):
            pattern = re.search(r"`([^`]+)`", cells[3]).group(1)
            named = re.search(r"\(([^)]*)\)\s*$", cells[3])
            terms = re.split(r" or |、", named.group(1)) if named else [cells[0].split("（")[0]]
            rows.append((pattern, [t.strip() for t in terms]))
    assert len(rows) >= 10
    po = ROOT / "webapp/translations/zh_Hant_TW/LC_MESSAGES/messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="zh_Hant_TW")
    found = {}
    for pattern, terms in rows:
        for message in catalog:
            msgid = message.id if isinstance(message.id, str) else (message.id or [""])[0]
            text = message.string if isinstance(message.string, str) else message.string[0]
            if msgid and re.search(pattern, msgid, re.I) and not any(t in text for t in terms):
                found.setdefault(f"{pattern} → {terms}", []).append(f"{msgid} → {text}")
    assert not found, _report(found)
