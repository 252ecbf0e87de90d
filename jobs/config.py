"""The jobs' settings, read from the app config (`CITYDESK_*`) and checked: a bad value stops
the scheduler with a message naming the setting, never a traceback."""

import re
from dataclasses import dataclass
from datetime import timedelta

from models.core.errors import InvalidInput
from models.core.settings import flag, number, whole  # the one parser (models.core.settings)
from models.dispatch.ladder import Rungs


def time_of_day(config, key: str, default: str = "") -> tuple[int, int]:
    """An HH:MM setting as (hour, minute); InvalidInput names it otherwise."""
    at = str(config.get(key, default))
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
    if not match:
        raise InvalidInput(f"CITYDESK_{key} must be HH:MM (got {at!r})")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class SchedulerSettings:
    """How often each job runs and how the scheduler lock is held."""

    sweep_seconds: float
    relay_seconds: float
    retention_at: tuple[int, int]  # (hour, minute), Asia/Taipei
    lease_seconds: float
    renew_seconds: float
    digest_at: tuple[int, int] = (8, 30)  # the monthly digest's time of day, Asia/Taipei

    @classmethod
    def from_config(cls, config) -> "SchedulerSettings":
        """Read and check the scheduler's settings."""
        lease = number(config, "JOBS_LEASE_SECONDS", minimum=1, maximum=300)
        renew = number(config, "JOBS_RENEW_SECONDS", minimum=0.1, maximum=60)
        if renew * 2 > lease:
            raise InvalidInput(
                "CITYDESK_JOBS_RENEW_SECONDS must be at most half of CITYDESK_JOBS_LEASE_SECONDS"
            )
        return cls(
            sweep_seconds=number(config, "JOBS_SWEEP_SECONDS", minimum=0.1, maximum=10),
            relay_seconds=number(config, "JOBS_RELAY_SECONDS", minimum=0.1, maximum=60),
            retention_at=time_of_day(config, "JOBS_RETENTION_AT"),
            lease_seconds=lease,
            renew_seconds=renew,
            digest_at=time_of_day(config, "JOBS_DIGEST_AT", default="08:30"),
        )


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server notices are sent through (`CITYDESK_MAIL_*`)."""

    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config) -> "MailSettings":
        """Read and check the mail settings (no server: e-mail notices wait)."""
        use_tls, use_ssl = flag(config, "MAIL_USE_TLS"), flag(config, "MAIL_USE_SSL")
        if use_tls and use_ssl:
            raise InvalidInput(
                "Set only one of CITYDESK_MAIL_USE_TLS (STARTTLS) and CITYDESK_MAIL_USE_SSL"
            )
        sender = str(config.get("MAIL_SENDER") or "").strip()
        if "@" not in sender:
            raise InvalidInput(f"CITYDESK_MAIL_SENDER must be an e-mail address (got {sender!r})")
        return cls(
            server=str(config.get("MAIL_SERVER") or "").strip(),
            port=int(number(config, "MAIL_PORT", minimum=1, maximum=65535)),
            use_tls=use_tls,
            use_ssl=use_ssl,
            username=str(config.get("MAIL_USERNAME") or ""),
            password=str(config.get("MAIL_PASSWORD") or ""),
            sender=sender,
            timeout=number(config, "MAIL_TIMEOUT", minimum=0.1, maximum=300),
        )


@dataclass(frozen=True)
class RelaySettings:
    """How the outbox relay retries and claims."""

    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float
    lease_seconds: float
    batch_size: int
    webhook_timeout: float
    mail: MailSettings

    @classmethod
    def from_config(cls, config) -> "RelaySettings":
        """Read and check the relay's settings."""
        mail = MailSettings.from_config(config)
        webhook_timeout = number(config, "WEBHOOK_TIMEOUT", minimum=0.1, maximum=60)
        lease = number(config, "OUTBOX_LEASE_SECONDS", minimum=1, maximum=3600)
        if lease < 2 * max(mail.timeout, webhook_timeout):
            raise InvalidInput(
                "CITYDESK_OUTBOX_LEASE_SECONDS must be at least twice the mail and webhook "
                "timeouts (a claimed notice must not expire while it is being sent)"
            )
        return cls(
            max_attempts=int(number(config, "OUTBOX_MAX_ATTEMPTS", minimum=1, maximum=100)),
            backoff_seconds=number(config, "OUTBOX_BACKOFF_SECONDS", minimum=0.01),
            backoff_max_seconds=number(config, "OUTBOX_BACKOFF_MAX_SECONDS", minimum=0.01),
            lease_seconds=lease,
            batch_size=int(number(config, "OUTBOX_BATCH_SIZE", minimum=1, maximum=1000)),
            webhook_timeout=webhook_timeout,
            mail=mail,
        )


@dataclass(frozen=True)
class Ladder:
    """The configured escalation ladder (`CITYDESK_ESCALATION_*`): seconds before the deadline
    for the reminder and after it for the chief (None turns a step off), whether supervisors
    get the breach notice, and how old a deadline may be for its notices still to be sent.

    Since migration 0017 the supervisor's ladder (models.dispatch.ladder) drives the sweep: the
    configured rungs seed its first default version, and apply to a dispatch that recorded no
    version (one written outside CityDesk's operations, or notified while none existed).
    `max_age` stays a setting. No defaults here: the values are read from the configuration,
    whose defaults are the domain's (models.dispatch.ladder.DEFAULT_*)."""

    reminder_before: int | None
    breach_to_supervisors: bool
    chief_after: int | None
    max_age: timedelta

    @classmethod
    def from_config(cls, config) -> "Ladder":
        """The ladder configured for this application; InvalidInput names a bad setting."""
        rungs = Rungs.from_config(config)
        return cls(
            reminder_before=rungs.reminder_before,
            breach_to_supervisors=rungs.breach_to_supervisors,
            chief_after=rungs.chief_after,
            max_age=timedelta(hours=whole(config, "ESCALATION_MAX_AGE_HOURS")),
        )

    @property
    def rungs(self) -> Rungs:
        """The configured rungs (no repeated reminders: only the supervisor's page sets them)."""
        return Rungs(
            reminder_before=self.reminder_before,
            breach_to_supervisors=self.breach_to_supervisors,
            chief_after=self.chief_after,
        )


def check(config) -> None:
    """Check every jobs setting at once (the CLI calls this before starting)."""
    from models.core import clock
    from models.dispatch.retention import retention_cutoff
    from models.reference.webhooks import AddressPolicy

    SchedulerSettings.from_config(config)
    RelaySettings.from_config(config)
    Ladder.from_config(config)
    AddressPolicy.from_config(config)
    retention_cutoff(clock.now(), config.get("RETENTION_DAYS"))
