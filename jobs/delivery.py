"""The channels a notice travels over: SMTP e-mail and signed webhooks (in-app notices need no
transport: the relay marks them delivered). A `Transient` failure is retried with backoff, a
`Permanent` one (an address the server refuses, a webhook URL that answers 404) is not."""

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

import httpcore
import httpx

from jobs import signature
from jobs.config import MailSettings
from models.core import clock
from models.reference.webhooks import AddressPolicy, AddressRefused


class DeliveryFailed(Exception):
    """A notice could not be delivered this time."""

    permanent = False


class Transient(DeliveryFailed):
    """Worth another attempt later (server down, timeout, 5xx)."""


class Permanent(DeliveryFailed):
    """Another attempt would fail the same way; an administrator must look (then retry)."""

    permanent = True


class _Disconnected(Transient):
    """The server closed the connection."""


class Mailer:
    """One SMTP connection per relay run, opened on first use and reused for the batch."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._down: str | None = None  # the server failed to answer during this run

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    s.server, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
            try:
                if s.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password)
            except BaseException:
                smtp.close()
                raise
        except (OSError, smtplib.SMTPException) as exc:
            self._down = f"SMTP server {s.server}:{s.port} unavailable: {_describe(exc)}"
            raise Transient(self._down) from exc
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Send one message to one recipient; raises Transient or Permanent."""
        if self._down:
            raise Transient(self._down)
        if self._smtp is None:
            self._smtp = self._connect()
            self._send(message, recipient)
            return
        try:
            self._send(message, recipient)
        except _Disconnected:
            # The server dropped the connection kept from an earlier notice: once more, fresh.
            self._smtp = self._connect()
            self._send(message, recipient)

    def _send(self, message: EmailMessage, recipient: str) -> None:
        envelope_from = parseaddr(self.settings.sender)[1]
        try:
            self._smtp.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise _Disconnected(f"SMTP server disconnected: {_describe(exc)}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            text = "; ".join(f"{code} {_decode(msg)}" for code, msg in exc.recipients.values())
            if codes and all(500 <= code < 600 for code in codes):
                raise Permanent(f"the mail server refused {recipient}: {text}") from exc
            raise Transient(f"the mail server deferred {recipient}: {text}") from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise Transient(f"SMTP {exc.smtp_code} {_decode(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Transient(f"SMTP error: {_describe(exc)}") from exc

    def close(self) -> None:
        """Say goodbye to the server (and close the socket whatever it answers)."""
        if self._smtp is None:
            return
        smtp, self._smtp = self._smtp, None
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()


class _GuardedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses the policy allows: the host is resolved here,
    every address it resolves to is checked, and the socket goes to a checked address (no
    second lookup that DNS could answer differently)."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        for address in addresses:
            self.policy.check_address(host, address)
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address")


# httpcore's exceptions as httpx's (most specific first): the sender catches httpx's.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)
_HTTPCORE_ERRORS = tuple(core for core, _mapped in _HTTPX_ERRORS)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore connection pool whose network backend is
    `_GuardedBackend` (httpx has no resolver hook of its own): every connection goes to an
    address the policy allows. Responses are read in full here (webhook answers are short)."""

    def __init__(self, policy: AddressPolicy):
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request through the guarded pool; httpcore's errors come out as httpx's."""
        url = request.url
        try:
            answer = self._pool.request(
                request.method,
                httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                headers=request.headers.raw,
                content=request.read(),
                extensions=request.extensions,  # the timeouts httpx sets per request
            )
        except _HTTPCORE_ERRORS as exc:  # AddressRefused (the policy's) passes through as is
            raise _as_httpx(exc) from exc
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            content=answer.content,
            extensions=answer.extensions,
        )

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()


def _as_httpx(exc: Exception) -> httpx.HTTPError:
    """The httpx error for an httpcore one (same name and message)."""
    mapped = next(mapped for core, mapped in _HTTPX_ERRORS if isinstance(exc, core))
    return mapped(str(exc))


class WebhookSender:
    """POSTs signed JSON events with one HTTP client per relay run."""

    RETRY_STATUSES = {408, 425, 429}

    def __init__(self, timeout: float, policy: AddressPolicy):
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": "CityDesk-Webhook/1.0"},
            transport=GuardedTransport(policy),
        )
        self.timeout = timeout

    def send(self, url: str, body: bytes, *, secret: str, notice_id: int, event: str) -> int:
        """POST the event; returns the HTTP status on success, raises Transient or Permanent."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": str(notice_id),
            "X-CityDesk-Event": event,
            signature.HEADER: signature.sign(secret, body, int(clock.now().timestamp())),
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except AddressRefused as exc:
            raise Permanent(f"{exc.message}: not sent") from exc
        except httpx.TimeoutException as exc:
            raise Transient(f"webhook timed out after {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise Transient(f"webhook unreachable: {_describe(exc)}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status >= 500 or status in self.RETRY_STATUSES:
            raise Transient(f"webhook answered HTTP {status}")
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            raise Permanent(
                f"webhook answered HTTP {status} (redirect to {location!r}): "
                "set the final URL on the agency"
            )
        raise Permanent(f"webhook refused the event: HTTP {status}")

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self._client.close()


def _decode(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
