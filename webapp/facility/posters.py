"""Printable QR posters (SVG, A4) that open the repair report form for one zone and floor."""

from urllib.parse import urlencode

import segno
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import escape

from models.reference import Floor, Zone

FONT = "Noto Sans CJK TC, Noto Sans TC, PingFang TC, Microsoft JhengHei, sans-serif"


def report_url(zone: Zone, floor: Floor) -> str:
    """The address a poster's QR code opens: BASE_URL + the report form with zone and floor."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/facility/report?{urlencode({'zone': zone.code, 'floor': floor.code})}"


def _text(x, y, size, text, *, weight="400", fill="#1b1f24", family=FONT) -> str:
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
        f'font-family="{family}" text-anchor="middle">{escape(text)}</text>'
    )


def poster_svg(zone: Zone, floor: Floor) -> str:
    """An A4 poster (210 × 297 mm): bilingual title, the zone and floor, the QR code, the URL."""
    url = report_url(zone, floor)
    qr = segno.make(url, error="m")
    code = qr.svg_inline(scale=1, border=2, omitsize=True, dark="#000")
    code = code.replace("<svg ", '<svg x="40" y="118" width="130" height="130" ', 1)
    lines = {}
    for locale in ("zh_Hant_TW", "en"):
        with force_locale(locale):
            lines[locale] = (
                _("See a problem? Scan to report it"),
                _("Scan with your phone's camera and sign in: zone and floor are filled in."),
                _("Joint Service Centre · Online repair reports"),
            )
    zh, en = lines["zh_Hant_TW"], lines["en"]
    place_zh = f"{zone.name_zh} · {floor.code}"
    place_en = f"{zone.name_en} · {floor.code}"
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        'viewBox="0 0 210 297" role="img">',
        f"<title>{escape(zh[0])} — {escape(place_zh)}</title>",
        '<rect width="210" height="297" fill="#ffffff"/>',
        '<rect width="210" height="34" fill="#0b4f8a"/>',
        _text(105, 15, 7.5, zh[2], weight="700", fill="#ffffff"),
        _text(105, 26, 5, en[2], fill="#ffffff"),
        _text(105, 56, 12, zh[0], weight="700"),
        _text(105, 67, 6.5, en[0]),
        '<rect x="25" y="78" width="160" height="30" rx="4" fill="#e7f0fa" stroke="#0b4f8a"/>',
        _text(105, 92, 12, place_zh, weight="700", fill="#0b4f8a"),
        _text(105, 102.5, 6, place_en, fill="#0b4f8a"),
        code,
        _text(105, 261, 5.2, zh[1]),
        _text(105, 269, 4.2, en[1], fill="#545b64"),
        _text(105, 284, 3.4, url, fill="#545b64", family="monospace"),
        "</svg>",
    ]
    return "\n".join(parts)
