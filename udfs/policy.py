"""Safety policy: per-category thresholds, block thresholds and kill switches under a version.

Written as a TOML file (the checked-in `policies/` files are the first versions) and published as an
Avro record (`schemas/policy/`) on the policies topic. Both are checked by the same rules; a bad file is
rejected with the line at fault, a bad record with the field at fault, so an operator can fix it before
anything reads it.

>>> policy = Policy(version="v1", thresholds={"spam": 0.8})
>>> policy.unsafe_categories(("spam", "hate"), [0.9, 0.99])
['spam']
>>> [str(c) for c in diff(policy, Policy("v2", {"spam": 0.7}))]
['version: v1 -> v2', 'thresholds.spam: 0.8 -> 0.7']
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from riskstream.core.errors import PolicyError
from udfs.breakers import BreakerParams

MODES = ("enforce", "shadow")
SLICE_FIELDS = ("surface", "region", "category")
FILE_KEYS = ("version", "mode", "thresholds", "block_thresholds", "kill_switches", "breaker", "breaker_overrides")
OVERRIDE_FIELDS = ("surface", "region", "recommender_model_version")
FORCED_STATES = ("open", "closed")
BREAKER_KEYS = tuple(f.name for f in fields(BreakerParams))


@dataclass(frozen=True)
class KillSwitch:
    """A slice not to serve; None matches any value."""

    surface: str | None = None
    region: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class BreakerOverride:
    """Breakers forced open or closed by hand; None matches any value."""

    state: str
    surface: str | None = None
    region: str | None = None
    recommender_model_version: str | None = None

    def matches(self, surface: str, region: str, recommender_model_version: str) -> bool:
        return all(want is None or want == got for want, got in zip(
            (self.surface, self.region, self.recommender_model_version), (surface, region, recommender_model_version)))


@dataclass(frozen=True)
class Policy:
    version: str
    thresholds: dict[str, float] = field(default_factory=dict)
    mode: str = "enforce"
    block_thresholds: dict[str, float] = field(default_factory=dict)
    kill_switches: tuple[KillSwitch, ...] = ()
    breaker: BreakerParams = field(default_factory=BreakerParams)
    breaker_overrides: tuple[BreakerOverride, ...] = ()
    author: str = ""
    reason: str = ""
    created_at_ms: int = 0
    rollback_of: str | None = None

    def unsafe_categories(self, categories: tuple[str, ...], scores) -> list[str]:
        """Categories whose score reaches the policy threshold; a category without one is not judged."""
        return [c for c, s in zip(categories, scores) if c in self.thresholds and s >= self.thresholds[c]]

    def breaker_override(self, surface: str, region: str, recommender_model_version: str) -> str | None:
        """The state the first matching override forces this slice's breaker into, or None."""
        for override in self.breaker_overrides:
            if override.matches(surface, region, recommender_model_version):
                return override.state
        return None

    def rules(self) -> "Policy":
        """The policy without its publication details: what two publications must share to be the same policy."""
        return replace(self, author="", reason="", created_at_ms=0, rollback_of=None)


def to_record(policy: Policy) -> dict:
    """The policy as a record of `schemas/policy/`."""
    record = {f.name: getattr(policy, f.name) for f in fields(Policy)}
    record["kill_switches"] = [{name: getattr(k, name) for name in SLICE_FIELDS} for k in policy.kill_switches]
    record["breaker"] = {name: getattr(policy.breaker, name) for name in BREAKER_KEYS}
    record["breaker_overrides"] = [{name: getattr(o, name) for name in (*OVERRIDE_FIELDS, "state")}
                                   for o in policy.breaker_overrides]
    return record


def from_record(record: dict, source: str, known_categories: tuple[str, ...] | None = None) -> Policy:
    """Check a decoded record by the file's rules; PolicyError names the field at fault."""
    policy = _checked(record, known_categories, source, None)
    return replace(policy, author=record.get("author") or "", reason=record.get("reason") or "",
                   created_at_ms=int(record.get("created_at_ms") or 0), rollback_of=record.get("rollback_of"))


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*\[*{re.escape(key)}\]*\s*(=|$)", line):
            return number
    return 1


def parse(text: str, source: str = "<policy>", known_categories: tuple[str, ...] | None = None) -> Policy:
    """Parse and validate a policy file; PolicyError names the file and line at fault."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or int(re.search(r"line (\d+)", str(exc)).group(1))
        raise PolicyError(source, line, f"not valid TOML: {exc.msg if hasattr(exc, 'msg') else exc}") from exc
    return _checked(raw, known_categories, source, text)


def _checked(raw: dict, known_categories: tuple[str, ...] | None, source: str, text: str | None) -> Policy:
    """The rules every policy obeys, whether it came as a file (`text`) or as a record."""

    def fail(key: str, detail: str, path: str | None = None):
        if text is not None:
            return PolicyError(source, _line_of(text, key), detail)
        return PolicyError(source, None, detail, field=path or key)

    unknown = set(raw) - set(FILE_KEYS) if text is not None else set()
    if unknown:
        key = sorted(unknown)[0]
        raise fail(key, f"unknown key {key!r} (expected {', '.join(FILE_KEYS)})")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise fail("version", "version must be a non-empty string")
    mode = raw.get("mode", "enforce")
    if mode not in MODES:
        raise fail("mode", f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    thresholds = raw.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        raise fail("[thresholds]" if text is not None else "thresholds",
                   "a [thresholds] table with at least one category is required")
    blocks = raw.get("block_thresholds") or {}
    for table, values in (("thresholds", thresholds), ("block_thresholds", blocks)):
        if not isinstance(values, dict):
            raise fail(table, f"{table} must be a table of category = number")
        for category, value in values.items():
            if known_categories is not None and category not in known_categories:
                raise fail(category, f"unknown category {category!r}; the model has {', '.join(known_categories)}",
                           f"{table}.{category}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise fail(category, f"threshold of {category!r} must be a number in [0, 1], got {value!r}",
                           f"{table}.{category}")
    for category, value in blocks.items():
        if category in thresholds and value < thresholds[category]:
            raise fail(category, f"block threshold of {category!r} ({value}) is below its unsafe threshold "
                                 f"({thresholds[category]}): an item would be blocked without being unsafe",
                       f"block_thresholds.{category}")
    switches = []
    for number, switch in enumerate(raw.get("kill_switches") or []):
        path = f"kill_switches[{number}]"
        if not isinstance(switch, dict) or set(switch) - set(SLICE_FIELDS):
            raise fail("kill_switches", f"each kill switch holds only {', '.join(SLICE_FIELDS)}", path)
        if not any(switch.get(name) for name in SLICE_FIELDS):
            raise fail("kill_switches", "a kill switch must name a surface, a region or a category "
                                        "(one naming none would stop everything)", path)
        category = switch.get("category")
        if category and known_categories is not None and category not in known_categories:
            raise fail("kill_switches", f"unknown category {category!r}", f"{path}.category")
        switches.append(KillSwitch(**{name: switch.get(name) or None for name in SLICE_FIELDS}))
    return Policy(version=version, thresholds={k: float(v) for k, v in thresholds.items()}, mode=mode,
                  block_thresholds={k: float(v) for k, v in blocks.items()}, kill_switches=tuple(switches),
                  breaker=_breaker(raw.get("breaker"), fail),
                  breaker_overrides=_overrides(raw.get("breaker_overrides") or [], fail))


def _overrides(raw, fail) -> tuple[BreakerOverride, ...]:
    """[[breaker_overrides]]: each names a slice (some of surface, region, recommender_model_version) and a state."""
    found = []
    for number, entry in enumerate(raw):
        path = f"breaker_overrides[{number}]"
        if not isinstance(entry, dict) or set(entry) - {*OVERRIDE_FIELDS, "state"}:
            raise fail("breaker_overrides", f"each breaker override holds only {', '.join(OVERRIDE_FIELDS)} and "
                                            "state", path)
        if entry.get("state") not in FORCED_STATES:
            raise fail("breaker_overrides", f"a breaker override's state must be one of {', '.join(FORCED_STATES)}, "
                                            f"got {entry.get('state')!r}", f"{path}.state")
        if not any(entry.get(name) for name in OVERRIDE_FIELDS):
            raise fail("breaker_overrides", "a breaker override must name a surface, a region or a recommender "
                                            "model version (one naming none would force every breaker)", path)
        found.append(BreakerOverride(entry["state"], *(entry.get(name) or None for name in OVERRIDE_FIELDS)))
    return tuple(found)


def _breaker(raw, fail) -> BreakerParams:
    """The [breaker] table: each key one of BreakerParams', numbers of the right kind; absent keys default."""
    if raw is None:
        return BreakerParams()
    if not isinstance(raw, dict):
        raise fail("breaker", "breaker must be a table of parameters")
    defaults = BreakerParams()
    values = {}
    for key, value in raw.items():
        if key not in BREAKER_KEYS:
            raise fail(key, f"unknown breaker parameter {key!r} (expected {', '.join(BREAKER_KEYS)})", f"breaker.{key}")
        kind = type(getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise fail(key, f"breaker parameter {key!r} must be a{'n integer' if kind is int else ' number'}, "
                            f"got {value!r}", f"breaker.{key}")
        values[key] = kind(value)
    try:
        return BreakerParams(**values)
    except ValueError as exc:
        key = next((k for k in ("close_rate", "trip_rate", "min_sample", "probe_minutes") if k in values), "breaker")
        raise fail(key, str(exc), f"breaker.{key}") from exc


def load(path: Path, known_categories: tuple[str, ...] | None = None) -> Policy:
    path = Path(path)
    return parse(path.read_text(), str(path), known_categories)


@dataclass(frozen=True)
class Change:
    """One difference between two policies: a field path, its value before and after (None: absent)."""

    path: str
    before: object
    after: object

    def __str__(self) -> str:
        return f"{self.path}: {'(none)' if self.before is None else self.before} -> " \
               f"{'(none)' if self.after is None else self.after}"


def diff(active: Policy | None, candidate: Policy) -> list[Change]:
    """What `candidate` changes against `active` (everything, when there is none), in a stable order."""
    base = active or Policy(version="")
    changes = [Change(name, getattr(base, name) or None, getattr(candidate, name))
               for name in ("version", "mode") if getattr(base, name) != getattr(candidate, name)]
    for table in ("thresholds", "block_thresholds"):
        before, after = getattr(base, table), getattr(candidate, table)
        changes += [Change(f"{table}.{category}", before.get(category), after.get(category))
                    for category in sorted(set(before) | set(after)) if before.get(category) != after.get(category)]
    before, after = set(base.kill_switches), set(candidate.kill_switches)
    changes += [Change("kill_switches", _slice_text(k), None) for k in sorted(before - after, key=_slice_text)]
    changes += [Change("kill_switches", None, _slice_text(k)) for k in sorted(after - before, key=_slice_text)]
    changes += [Change(f"breaker.{name}", getattr(base.breaker, name), getattr(candidate.breaker, name))
                for name in BREAKER_KEYS if getattr(base.breaker, name) != getattr(candidate.breaker, name)]
    before, after = set(base.breaker_overrides), set(candidate.breaker_overrides)
    changes += [Change("breaker_overrides", _override_text(o), None) for o in sorted(before - after, key=_override_text)]
    changes += [Change("breaker_overrides", None, _override_text(o)) for o in sorted(after - before, key=_override_text)]
    return changes


def _slice_text(switch: KillSwitch) -> str:
    return ",".join(f"{name}={getattr(switch, name)}" for name in SLICE_FIELDS if getattr(switch, name))


def _override_text(override: BreakerOverride) -> str:
    named = ",".join(f"{name}={getattr(override, name)}" for name in OVERRIDE_FIELDS if getattr(override, name))
    return f"{named} forced {override.state}"
