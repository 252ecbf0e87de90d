"""Reading `CITYDESK_*` settings from the app config, checked: a bad value is an InvalidInput
naming the setting, never a traceback. The one parser for the jobs (jobs.config) and for the
settings the domain reads itself (the seed of the escalation ladder)."""

from models.core.errors import InvalidInput


def number(config, key: str, *, minimum: float, maximum: float | None = None) -> float:
    """A numeric setting within [minimum, maximum]; InvalidInput names it otherwise."""
    value = config.get(key)
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"CITYDESK_{key} must be a number (got {value!r})") from None
    if result < minimum or (maximum is not None and result > maximum):
        bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"≥ {minimum:g}"
        raise InvalidInput(f"CITYDESK_{key} must be {bounds} (got {value!r})")
    return result


def whole(config, key: str, *, optional: bool = False) -> int | None:
    """A whole-number setting ≥ 0; with `optional`, unset, empty, `null` or `off` is None."""
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "null", "off"}):
        if optional:
            return None
        raise InvalidInput(f"CITYDESK_{key} must be set")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"CITYDESK_{key} must be a whole number (got {value!r})") from None
    if number < 0 or isinstance(value, bool):
        raise InvalidInput(f"CITYDESK_{key} must be a whole number ≥ 0 (got {value!r})")
    return number


def flag(config, key: str) -> bool:
    """A true/false setting."""
    value = config.get(key)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", "", "none"}:
        return False
    raise InvalidInput(f"CITYDESK_{key} must be true or false (got {value!r})")
