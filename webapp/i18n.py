"""Languages: Traditional Chinese by default, English available.

The message catalogues (`webapp/translations/*/LC_MESSAGES/messages.po`) are compiled when the
app starts whenever a `.mo` is missing or older than its `.po`, into the instance folder, so a
newcomer never runs a manual step and a stale catalogue is never served.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request, session
from flask_login import current_user

from models.core.text import CHINESE, ENGLISH, reads_english
from webapp.extensions import babel

SOURCE = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"zh_Hant_TW": "中文", "en": "English"}


def compile_catalogues(target: Path) -> None:
    """Compile every .po under SOURCE into `target` when it is newer than the .mo there."""
    for po_path in SOURCE.glob("*/LC_MESSAGES/*.po"):
        mo_path = target / po_path.relative_to(SOURCE).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=po_path.parts[-3])
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        tmp.replace(mo_path)


def follows_browser_language(view):
    """Mark a page opened from outside (a link in an e-mail): with no language chosen, it
    speaks the browser's (Accept-Language) when that is one of ours."""
    view.follows_browser_language = True
    return view


def _browser_language(languages) -> str | None:
    """The browser's most preferred language among ours, on a page marked for it."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if not getattr(view, "follows_browser_language", False):
        return None
    for tag, _quality in request.accept_languages:
        base = tag.lower().replace("_", "-").split("-")[0]
        found = next((code for code in languages if code.lower().split("_")[0] == base), None)
        if found:
            return found
    return None


def reads_chinese() -> bool:
    """Is the reader Chinese? True unless the current locale is English (Chinese is the
    default: no request, no locale, or any zh locale)."""
    from flask_babel import get_locale

    return not reads_english(get_locale())


def current_locale() -> str:
    """The current reader's locale code: zh_Hant_TW (the default) or en."""
    return CHINESE if reads_chinese() else ENGLISH


def language_tag() -> str:
    """The current reader's language as an HTML/manifest lang tag: zh-Hant-TW or en."""
    return "zh-Hant-TW" if reads_chinese() else "en"


def select_locale() -> str:
    """The signed-in user's language, else the session's choice, else (on pages opened from
    an e-mail) the browser's, else Traditional Chinese."""
    languages = current_app.config["LANGUAGES"]
    if request:
        user = current_user if current_user and current_user.is_authenticated else None
        if user is not None and user.locale in languages:
            return user.locale
        if session.get("lang") in languages:
            return session["lang"]
        browser = _browser_language(languages)
        if browser:
            return browser
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    """Compile catalogues and bind Flask-Babel with our selector."""
    target = Path(app.instance_path) / "translations"
    compile_catalogues(target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def languages():
        return {"language_names": LANGUAGE_NAMES, "current_locale": current_locale()}

    app.add_template_global(reads_chinese)
    app.add_template_global(language_tag)
