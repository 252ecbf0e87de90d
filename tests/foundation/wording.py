"""The wording rules of issue 15, as functions a test can apply to any text: Traditional
Chinese as a Taiwanese civil servant writes it (no Simplified-only character, no mainland
term, no English sentence, full-width punctuation in Chinese text) and plain English (no
Chinese outside proper names and the published narrative).

Text that people typed or that comes with the reference data (agency and zone names, users'
names, a visit's subject, a code) is not wording: `Masks.from_database()` collects every
string stored in the database and the checks skip it. Mainland terms and Simplified strings
are written here as \\u escapes, so a grep of the code base for them finds nothing.
"""

import difflib
import re
from html.parser import HTMLParser

import opencc

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAS_CJK = re.compile(f"[{CJK}]")

_S2TW = opencc.OpenCC("s2tw")  # Simplified → Taiwan's standard characters
_S2TWP = opencc.OpenCC("s2twp")  # … and Taiwan's phrases (OpenCC's TWPhrases)

# Characters OpenCC's s2tw rewrites although they are Traditional and right in Taiwan.
ALLOWED_CHARACTERS = {
    "台": "櫃台: the everyday form in Taiwan (臺 is the formal one); both are Traditional",
    "布": "分布, 公布: the Ministry of Education's forms; 佈 is only OpenCC's preference",
}

# Words that OpenCC's Taiwan phrases (s2twp) would replace, used here in their Taiwan sense.
TAIWAN_SENSE = {
    "程序": "a procedure (the escalation procedure), not a computer program",
    "代碼": "a code (an agency's code), not source code",
    "登錄": "to record (登錄缺失, 原登錄), as Taiwan's offices use it; sign-in is 登入",
    "對象": "the target of an action or a service (適用對象)",
    "權限": "a permission; OpenCC's 許可權 is a segmentation artefact",
    "查看": "to look at; in everyday use in Taiwan beside 檢視",
    "發送": "to send (a notice); in everyday use in Taiwan beside 傳送",
    "保存": "to keep (records are kept); not 'save a file'",
    "項目": "an item of a list, not a project",
    "分區": "zones of the building; OpenCC's 分割槽 is a disk partition",
    "類型": "a type (of object)",
    "像素": "pixels; in use in Taiwan beside 畫素",
}

# Mainland terms and the Taiwan ones to use (in Traditional characters: a Simplified spelling
# fails the character rule already).
MAINLAND_TERMS = {
    "\u5b57\u6bb5": "field → 欄位",
    "\u4fe1\u606f": "information → 資訊、訊息",
    "\u9ed8\u8a8d": "default → 預設",
    "\u7f3a\u7701": "default → 預設",
    "\u7528\u6236": "user → 使用者",
    "\u6578\u64da": "data → 資料、數字",
    "\u8996\u983b": "video → 影片",
    "\u97f3\u983b": "audio → 音訊",
    "\u8edf\u4ef6": "software → 軟體",
    "\u786c\u4ef6": "hardware → 硬體",
    "\u7db2\u7d61": "network → 網路",
    "\u4e92\u806f\u7db2": "internet → 網際網路",
    "\u670d\u52d9\u5668": "server → 伺服器",
    "\u6253\u5370": "print → 列印",
    "\u93c8\u63a5": "link → 連結",
    "\u83dc\u55ae": "menu → 選單",
    "\u5c4f\u5e55": "screen → 螢幕",
    "\u9f20\u6a19": "mouse → 滑鼠",
    "\u9ede\u64ca": "click → 點選、按",
    "\u754c\u9762": "interface → 介面",
    "\u5c0e\u51fa": "export → 匯出",
    "\u641c\u7d22": "search → 搜尋",
    "\u7de9\u5b58": "cache → 快取",
    "\u5728\u7dda": "online → 線上",
    "\u90f5\u7bb1": "mailbox → 信箱",
    "\u4e8c\u7dad\u78bc": "QR code → QR 碼",
    "\u53cd\u994b": "feedback → 回饋",
    "\u8cea\u91cf": "quality → 品質",
    "\u77ed\u4fe1": "text message → 簡訊",
    "\u6fc0\u6d3b": "activate → 啟用",
    "\u8cec\u865f": "account → 帳號",
    "\u8cec\u6236": "account → 帳戶",
    "\u5275\u5efa": "create → 建立",
    "\u7372\u53d6": "get → 取得",
    "\u8a3b\u92b7": "sign out → 登出",
    "\u767b\u9678": "sign in → 登入",
    "\u5b57\u7b26": "character → 字元",
    "\u6587\u672c": "text → 文字",
    "\u6279\u91cf": "batch → 批次",
    "\u968a\u5217": "queue → 佇列",
    "\u5be6\u6642": "real time → 即時",
    "\u5ba2\u6236\u7aef": "client → 用戶端",
    "\u6a21\u677f": "template → 範本",
    "\u8996\u5716": "view → 檢視",
    "\u8abf\u7528": "call → 呼叫",
    "\u517c\u5bb9": "compatible → 相容",
    "\u5167\u5b58": "memory → 記憶體",
    "\u6587\u4ef6\u593e": "folder → 資料夾",
    "\u6e20\u9053": "channel → 管道",
    "\u5bc6\u9470": "key → 金鑰",
    "\u5237\u65b0": "refresh → 重新整理",
}

# Latin words that are names, units or codes, not English sentences, in Chinese text.
LATIN_NAMES = {
    "CityDesk",
    "Webhook",
    "HMAC-SHA256",
    "API",
    "CSV",
    "XLSX",
    "JSON",
    "PDF",
    "QR",
    "SMTP",
    "HTTP",
    "HTTPS",
    "URL",
    "ID",
    "OpenAPI",
    "Excel",
    "LibreOffice",
    "Calc",
    "PostgreSQL",
    "SQLite",
    "Email",
    "E-mail",
    "HEIC",
    "JPEG",
    "PNG",
    "SVG",
    "MB",
    "KB",
    "px",
    "Bearer",
    "Token",
    "Android",
    "iPhone",
    "iOS",
    "Chrome",
    "Safari",
    "Firefox",
    "Edge",
    "Wi-Fi",
    "holidays",
    "English",
    "TOTP",
    "IP",
    "OK",
    "none",
}

# The published narrative (always Chinese, byte for byte as the report prints it, half-width
# parentheses included): DESIGN "The narrative".
NARRATIVE = re.compile(
    r"\d+年度民眾臨櫃陳情，[^。]*。其中[^。]*。"
    r"|\d+年度缺失案件並完成改善總計\d+件\([^()]*\)。"
    r"|\d+年度派員到場服務之民眾滿意度[^。]*。"
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(r"(?:https?://|/)[\w./?=&%#:~-]+")
CODE = re.compile(r"`[^`]+`|\b\d{1,3}(?:\.\d{1,3}){3}\b|::")  # `citydesk jobs`, addresses
PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|\{\w*\}")
WORD = r"[A-Za-z][A-Za-z’'-]*"
ENGLISH_RUN = re.compile(rf"\b{WORD}(?:[ \t]+{WORD})+\b")
# Half-width punctuation touching Chinese: "帳號: ", "滿意度 (%)", "(淨空走道", "件,".
# … and a space before a full-width parenthesis after Chinese (「預計 8 分鐘 （由…」).
HALF_WIDTH = re.compile(f"[{CJK}][ ]?[,:;!?()]|[,:;!?(][ ]?[{CJK}]|[)] ?[{CJK}]|[{CJK}] （")


def _whole(string: str) -> str:
    """`string` as a pattern that matches it only where an ASCII word ends at its ASCII ends."""
    before = "(?<![A-Za-z0-9])" if string[0].isascii() and string[0].isalnum() else ""
    after = "(?![A-Za-z0-9])" if string[-1].isascii() and string[-1].isalnum() else ""
    return f"{before}{re.escape(string)}{after}"


class Masks:
    """Strings that are not wording (typed by people, reference data, codes): replaced by a
    neutral mark before the checks run."""

    def __init__(self, strings):
        kept = sorted({s.strip() for s in strings if s and len(s.strip()) >= 2}, key=len)
        kept = [s for s in kept if re.search(rf"[A-Za-z{CJK}]", s)]
        # whole words only: the code "ok" is no reason to skip "Looking" (a name in Chinese
        # needs no such edge: 「User李股長」 is a label run into a name)
        alternatives = "|".join(_whole(s) for s in reversed(kept))
        self.pattern = re.compile(alternatives) if kept else None

    @classmethod
    def from_database(cls) -> "Masks":
        """Every string stored in the database's text columns (data, not wording)."""
        from sqlalchemy import String, Text, select

        from models.core import db

        found = []
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)):
                found.extend(v for v in row if isinstance(v, str) and len(v) <= 400)
        return cls(found)

    def apply(self, text: str) -> str:
        """`text` with every known data string replaced by ¦."""
        return self.pattern.sub("¦", text) if self.pattern else text


# A petitioner's name as the pages mask it (王○明): personal data, not wording.
MASKED_NAME = re.compile(f"[{CJK}]○+[{CJK}]*")
# Language names written in their own language (the language switch and the user's language).
ENDONYMS = {"中文": "the Chinese language's name for itself, as language menus write it"}


def _neutral(text: str, masks: Masks | None) -> str:
    text = NARRATIVE.sub("¦", text)
    text = MASKED_NAME.sub("¦", text)
    for name in ENDONYMS:
        text = text.replace(name, "¦")
    text = PLACEHOLDER.sub("¦", text)
    text = CODE.sub("¦", text)
    text = EMAIL.sub("¦", text)
    text = URL.sub("¦", text)
    return masks.apply(text) if masks else text


def _changed(before: str, after: str):
    """The (old, new) spans where OpenCC rewrote `before` into `after`."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i, j, k, m in matcher.get_opcodes():
        if op != "equal":
            yield before[i:j], after[k:m], before[max(0, i - 4) : j + 4]


def chinese_problems(text: str, masks: Masks | None = None) -> list[str]:
    """What breaks the zh-TW rules in `text` (empty when it reads as Taiwan writes)."""
    text = _neutral(text, masks)
    problems = []
    taiwan = _S2TW.convert(text)
    for old, new, around in _changed(text, taiwan):
        if old and all(c in ALLOWED_CHARACTERS for c in old):
            continue
        problems.append(f"Simplified-only {old!r} (Taiwan writes {new!r}) in 「{around}」")
    for term, better in MAINLAND_TERMS.items():
        for found in re.finditer(term, text):
            around = text[max(0, found.start() - 4) : found.end() + 4]
            problems.append(f"mainland term {term!r} ({better}) in 「{around}」")
    plain = text
    for word in TAIWAN_SENSE:
        plain = plain.replace(word, "¦" * len(word))
    if not problems:  # a Simplified character makes the phrase check repeat itself
        for old, new, around in _changed(_S2TW.convert(plain), _S2TWP.convert(plain)):
            problems.append(f"OpenCC's Taiwan phrase: {old!r} → {new!r} in 「{around}」")
    latin = text
    for name in sorted(LATIN_NAMES, key=len, reverse=True):
        latin = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "¦", latin)
    for run in ENGLISH_RUN.finditer(latin):
        problems.append(f"English words {run.group()!r} in 「{text.strip()[:80]}」")
    for mark in HALF_WIDTH.finditer(text):
        around = text[max(0, mark.start() - 6) : mark.end() + 6]
        problems.append(f"half-width punctuation {mark.group()!r} in 「{around}」")
    return problems


def english_problems(text: str, masks: Masks | None = None) -> list[str]:
    """What breaks the English rules in `text`: Chinese outside names and the narrative."""
    text = _neutral(text, masks)
    return [
        f"Chinese {run.group()!r} in {text.strip()[:80]!r}"
        for run in re.finditer(f"[{CJK}\u3000-\u303f\uff00-\uffef]+", text)
        if HAS_CJK.search(run.group())
    ]


VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-label")


# Elements that flow within a line of text: their text joins the text around them, as it reads.
INLINE = {
    "a",
    "abbr",
    "b",
    "bdi",
    "cite",
    "code",
    "data",
    "dfn",
    "em",
    "i",
    "kbd",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
    "var",
    "br",
    "wbr",
}


class _Visible(HTMLParser):
    """The text a person sees or hears on a page, a line of running text at a time (inline
    elements join the text around them, with its spaces), skipping parts marked as another
    language."""

    def __init__(self, language: str):
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[tuple[str, bool]] = []  # (tag, inside another language or hidden)
        self.texts: list[str] = []
        self.line: list[str] = []

    def _foreign(self) -> bool:
        return bool(self.stack and self.stack[-1][1])

    def _flush(self) -> None:
        text = " ".join("".join(self.line).split())
        if text:
            self.texts.append(text)
        self.line = []

    def handle_starttag(self, tag, attrs):
        if tag not in INLINE:
            self._flush()
        values = dict(attrs)
        lang = values.get("lang")
        foreign = self._foreign() or tag in ("script", "style", "template")
        if lang is not None and tag != "html":
            foreign = foreign or not lang.lower().startswith(self.language)
        if not foreign:
            for name in SHOWN_ATTRIBUTES:
                if values.get(name):
                    self.texts.append(values[name])
            if (
                tag == "input"
                and values.get("type") in ("submit", "button")
                and values.get("value")
            ):
                self.texts.append(values["value"])
        if tag not in VOID:
            self.stack.append((tag, foreign))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self._flush()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if not self._foreign():
            self.line.append(data)

    def close(self):
        """Finish the page (its last line of text)."""
        super().close()
        self._flush()


def visible_texts(html: str, language: str) -> list[str]:
    """The page's visible texts (text nodes and shown attributes) in `language` ("zh"/"en")."""
    parser = _Visible(language)
    parser.feed(html)
    parser.close()
    return parser.texts
