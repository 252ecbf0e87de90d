"""Domain errors: illegal moves and bad input, mapped by the web layer to 409/422/404."""


class DomainError(Exception):
    """Base of every error an operation raises on purpose."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:  # the input it is about, when one is (pages show it there)
            self.field = field


class InvalidInput(DomainError):
    """The input breaks a rule (unknown agency, missing reason...)."""

    status = 422
    code = "invalid"


class Conflict(DomainError):
    """The object is not in a state that allows this move (arrived twice, cancelled...)."""

    status = 409
    code = "conflict"


class NotFound(DomainError):
    """No such object, or not one the actor may see."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The actor may not do this."""

    status = 403
    code = "forbidden"
