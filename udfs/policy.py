"""Safety policy: per-category thresholds under a version, loaded from a TOML file.

A bad file is rejected with the line at fault, so an operator can fix it before a job reads it.

>>> policy = Policy(version="v1", thresholds={"spam": 0.8})
>>> policy.unsafe_categories(("spam", "hate"), [0.9, 0.99])
['spam']
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from riskstream.core.errors import PolicyError


@dataclass(frozen=True)
class Policy:
    version: str
    thresholds: dict[str, float] = field(default_factory=dict)

    def unsafe_categories(self, categories: tuple[str, ...], scores) -> list[str]:
        """Categories whose score reaches the policy threshold; a category without one is not judged."""
        return [c for c, s in zip(categories, scores) if c in self.thresholds and s >= self.thresholds[c]]


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def parse(text: str, source: str = "<policy>", known_categories: tuple[str, ...] | None = None) -> Policy:
    """Parse and validate a policy; PolicyError names the file and line at fault."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or int(re.search(r"line (\d+)", str(exc)).group(1))
        raise PolicyError(source, line, f"not valid TOML: {exc.msg if hasattr(exc, 'msg') else exc}") from exc
    unknown = set(raw) - {"version", "thresholds"}
    if unknown:
        key = sorted(unknown)[0]
        raise PolicyError(source, _line_of(text, key), f"unknown key {key!r} (expected version, [thresholds])")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyError(source, _line_of(text, "version"), "version must be a non-empty string")
    thresholds = raw.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        raise PolicyError(source, _line_of(text, "[thresholds]"), "a [thresholds] table with at least one category is required")
    for category, value in thresholds.items():
        line = _line_of(text, category)
        if known_categories is not None and category not in known_categories:
            raise PolicyError(source, line, f"unknown category {category!r}; the model has {', '.join(known_categories)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise PolicyError(source, line, f"threshold of {category!r} must be a number in [0, 1], got {value!r}")
    return Policy(version=version, thresholds={k: float(v) for k, v in thresholds.items()})


def load(path: Path, known_categories: tuple[str, ...] | None = None) -> Policy:
    path = Path(path)
    return parse(path.read_text(), str(path), known_categories)
