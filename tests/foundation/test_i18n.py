"""Every user-facing string is translatable and has a Traditional Chinese translation."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_string_in_the_code_has_a_chinese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            "--omit-header",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    po = ROOT / "webapp/translations/zh_Hant_TW/LC_MESSAGES/messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="zh_Hant_TW")
    translated = set()
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and not message.fuzzy and all(strings):
            translated.add(message.id if isinstance(message.id, str) else message.id[0])
    missing = sorted(wanted - translated)
    assert missing == [], "run: python scripts/i18n.py update, then translate: " + repr(missing)


def test_catalogues_are_compiled_at_start(app):
    compiled = Path(app.instance_path) / "translations/zh_Hant_TW/LC_MESSAGES/messages.mo"
    assert compiled.exists()


def _form_classes():
    """Every form class the web layer defines (imported with its package)."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import webapp

    for info in pkgutil.walk_packages(webapp.__path__, "webapp."):
        importlib.import_module(info.name)
    seen, todo = set(), [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c for c in seen if c.__module__.startswith("webapp.")}


def test_every_form_speaks_traditional_chinese():
    """WTForms' `zh` catalogue is Simplified: every form goes through webapp.forms.Form, which
    picks `zh_TW` (issue 15: the sign-in form showed the Simplified zh message)."""
    from webapp.forms import Form

    forms = _form_classes()
    assert {"LoginForm", "UserForm", "ReportForm", "LanguageForm"} <= {c.__name__ for c in forms}
    assert sorted(c.__name__ for c in forms if not issubclass(c, Form)) == []


def test_an_empty_sign_in_form_answers_in_traditional_chinese(app):
    client = app.test_client()
    page = client.post("/login", data={"username": "", "password": ""})
    text = page.get_data(as_text=True)
    assert "請輸入帳號。" in text and "此欄位是必需的。" not in text
    simplified = "\u8be5\u5b57\u6bb5"  # WTForms zh: "this field", in Simplified characters
    assert simplified not in text and "必填字段" not in text
