"""What the benchmarks share: the machine line they print, a free loopback port and a
PostgreSQL admin statement (each script puts `bench/` on its path and imports from here)."""

import os
import platform
import socket
from pathlib import Path


def machine() -> str:
    """One line about the machine the figures come from."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()} {platform.machine()}: {os.cpu_count()} cores ({model}), "
        f"{mem:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_admin(prefix: str, sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server of `prefix`, autocommitted."""
    import psycopg

    url = prefix.replace("postgresql+psycopg://", "postgresql://").rstrip("/") + "/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)
