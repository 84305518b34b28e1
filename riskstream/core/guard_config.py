"""The guard service's settings (`riskstream guard serve`); Kafka's address and topics come from `config`."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from riskstream.core.config import GUARD_PORT as STACK_GUARD_PORT
from riskstream.core.config import Option
from riskstream.core.errors import ConfigError

GUARD_HOST = Option("--host", "RISKSTREAM_GUARD_HOST", "127.0.0.1", "address the guard listens on")
GUARD_PORT = Option("--port", STACK_GUARD_PORT.env, STACK_GUARD_PORT.default, "the guard's HTTP port", int)
GUARD_MAX_STALENESS = Option("--max-staleness-s", "RISKSTREAM_GUARD_MAX_STALENESS_S", 5.0,
                             "a view not known complete for this long is stale, and the fail modes decide", float)
GUARD_FAIL_MODES = Option("--fail-modes", "RISKSTREAM_GUARD_FAIL_MODES", "*=open",
                          "per surface, what a stale view does: open (decide as if every breaker were closed) or "
                          "closed (serve only items known to be allowed), e.g. '*=open,kids=closed'")

GUARD_OPTIONS = (GUARD_HOST, GUARD_PORT, GUARD_MAX_STALENESS, GUARD_FAIL_MODES)
FAIL_MODES = ("open", "closed")


def parse_fail_modes(text: str) -> dict[str, str]:
    """`surface=mode,...` with `*` for every other surface (open unless given).

    >>> parse_fail_modes("kids=closed")
    {'kids': 'closed', '*': 'open'}
    """
    modes: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        surface, sep, mode = (s.strip() for s in part.partition("="))
        if not sep or not surface or mode not in FAIL_MODES:
            raise ConfigError(f"{GUARD_FAIL_MODES.flag}: {part!r} is not surface=open or surface=closed "
                              f"(`*` for any surface)")
        modes[surface] = mode
    modes.setdefault("*", "open")
    return modes


@dataclass(frozen=True)
class GuardSettings:
    host: str = "127.0.0.1"
    port: int = 18090
    max_staleness_s: float = 5.0
    fail_modes: dict[str, str] = field(default_factory=lambda: {"*": "open"})

    def __post_init__(self) -> None:
        if self.max_staleness_s <= 0:
            raise ConfigError(f"{GUARD_MAX_STALENESS.flag} must be > 0, got {self.max_staleness_s}")

    def fail_mode(self, surface: str) -> str:
        return self.fail_modes.get(surface, self.fail_modes.get("*", "open"))


def guard_settings(args: argparse.Namespace) -> GuardSettings:
    return GuardSettings(host=args.host, port=args.port, max_staleness_s=args.max_staleness_s,
                         fail_modes=parse_fail_modes(args.fail_modes))
