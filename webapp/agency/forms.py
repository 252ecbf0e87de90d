"""Agency forms."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField

from webapp.forms import Form, choices


class SoundForm(Form):
    """Switch the alert sound on (1) or off (0)."""

    on = RadioField(_l("Sound alerts"), choices=choices([("1", _l("On")), ("0", _l("Off"))]))
