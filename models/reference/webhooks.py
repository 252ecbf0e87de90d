"""Where an agency's webhook may point. One rule, checked when the URL is set (the address
written in it) and again by the sender on every connection it opens (each address the host
name resolves to), so neither a stored URL nor a DNS answer can aim CityDesk at itself, the
cloud's metadata service or a link-local neighbour. Private ranges stay allowed by default:
the agencies' own systems live there (docs/security.md)."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from models.core.errors import InvalidInput

# Why an address is refused, as reason codes (the web app words them for people).
METADATA, UNSPECIFIED, LOOPBACK, LINK_LOCAL, MULTICAST, PRIVATE, NOT_HTTP = (
    "metadata",
    "unspecified",
    "loopback",
    "link_local",
    "multicast",
    "private",
    "not_http",
)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_WORDS = {
    METADATA: "the cloud metadata address",
    UNSPECIFIED: "an unspecified address",
    LOOPBACK: "a loopback address (this server)",
    LINK_LOCAL: "a link-local address",
    MULTICAST: "a multicast address",
    PRIVATE: "a private address (CITYDESK_WEBHOOK_ALLOW_PRIVATE is off)",
}


class AddressRefused(InvalidInput):
    """A webhook URL or the address its host resolves to may not be used."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _flag(config, key: str, default: bool) -> bool:
    value = config.get(key, default)
    if value in (True, False):  # also 1 and 0, as CITYDESK_* environment values parse
        return bool(value)
    raise InvalidInput(f"CITYDESK_{key} must be true or false (got {value!r})")


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a webhook may reach (`CITYDESK_WEBHOOK_ALLOW_PRIVATE`, and
    `CITYDESK_WEBHOOK_ALLOW_LOOPBACK` for tests whose receiver listens on 127.0.0.1)."""

    allow_private: bool = True
    allow_loopback: bool = False

    @classmethod
    def from_config(cls, config) -> "AddressPolicy":
        """The policy a configuration sets; InvalidInput names a bad setting."""
        return cls(
            allow_private=_flag(config, "WEBHOOK_ALLOW_PRIVATE", True),
            allow_loopback=_flag(config, "WEBHOOK_ALLOW_LOOPBACK", False),
        )

    @classmethod
    def configured(cls) -> "AddressPolicy":
        """The running application's policy."""
        return cls.from_config(current_app.config)

    def refusal(self, address: str) -> str | None:
        """The reason code refusing an IP address, or None when a webhook may reach it."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # fe80::1%eth0 carries a zone
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if ip in _METADATA:
            return METADATA
        if ip.is_unspecified:
            return UNSPECIFIED
        if ip.is_loopback:
            return None if self.allow_loopback else LOOPBACK
        if any(ip in net for net in _LINK_LOCAL):
            return LINK_LOCAL
        if ip.is_multicast:
            return MULTICAST
        if any(ip in net for net in _PRIVATE):
            return None if self.allow_private else PRIVATE
        return None

    def check_address(self, host: str, address: str) -> None:
        """Raise AddressRefused when `address` (what `host` resolved to) is refused."""
        reason = self.refusal(address)
        if reason is not None:
            shown = host if host == address else f"{host} ({address})"
            raise AddressRefused(reason, f"webhook address {shown} is {_WORDS[reason]}")

    def check_url(self, url: str) -> None:
        """Raise AddressRefused for a URL that is not http(s) or whose host is a refused
        address; a host name is checked after resolution, when the sender connects."""
        parts = urlsplit(url.strip())
        host = parts.hostname
        if parts.scheme not in {"http", "https"} or not host:
            raise AddressRefused(NOT_HTTP, f"not an http(s) URL: {url!r}")
        address = _literal_address(host)
        if address is not None:
            self.check_address(host, address)


def _literal_address(host: str) -> str | None:
    """The IP address a host written in a URL names without DNS, or None for a real name."""
    if host == "localhost" or host.endswith(".localhost"):
        return "127.0.0.1"  # RFC 6761: always this machine
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:  # the old forms resolvers still accept: 2130706433, 0x7f.1, 127.1
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def check_webhook_url(url: str) -> None:
    """Refuse a webhook URL the configured policy forbids (empty means no webhook)."""
    if url and url.strip():
        AddressPolicy.configured().check_url(url)
