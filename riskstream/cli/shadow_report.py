"""`riskstream policy shadow-report VERSION`: what enforcing a shadow policy would have changed.

Read from the job's `shadow_health` rows (1-minute windows), one job's rows at a time (a replay writes
its own): per surface and region, impressions judged unsafe under the policies in force and under the
shadow, the impressions that would flip either way, and the items that flip most (summed from each
window's top-10 list, so a bound from below for items outside some window's top 10).
"""
from __future__ import annotations

from dataclasses import dataclass

from riskstream.io import clickhouse

_WHERE = "shadow_policy_version = {version:String} AND window_seconds = 60 AND job_id = {job:String}"


@dataclass(frozen=True)
class SliceChange:
    surface: str
    region: str
    scored: int
    unsafe_active: int
    unsafe_shadow: int
    to_unsafe: int
    to_safe: int


@dataclass(frozen=True)
class ShadowReport:
    version: str
    job_id: str
    first_ms: int
    last_ms: int
    active_versions: tuple[str, ...]
    slices: tuple[SliceChange, ...]
    top_items: tuple[tuple[str, int], ...]

    @property
    def total(self) -> SliceChange:
        return SliceChange("all", "all", *(sum(getattr(s, f) for s in self.slices) for f in
                                           ("scored", "unsafe_active", "unsafe_shadow", "to_unsafe", "to_safe")))


def newest_job(client, version: str) -> str | None:
    """The job that most recently wrote a shadow evaluation of `version`."""
    rows = client.query("SELECT argMax(job_id, written_at) FROM shadow_health WHERE shadow_policy_version = "
                        "{version:String} HAVING count() > 0", parameters={"version": version}).result_rows
    return rows[0][0] if rows else None


def report(settings, version: str, job_id: str | None = None) -> ShadowReport | None:
    """The shadow report of `version` for one job (default: the newest that evaluated it); None if none did."""
    client = clickhouse.connect(settings, database=settings.database)
    try:
        job_id = job_id or newest_job(client, version)
        if job_id is None:
            return None
        parameters = {"version": version, "job": job_id}
        slices = client.query(
            f"SELECT surface, region, sum(scored), sum(unsafe_active), sum(unsafe_shadow), sum(to_unsafe), sum(to_safe) "
            f"FROM shadow_health FINAL WHERE {_WHERE} GROUP BY surface, region "
            f"ORDER BY sum(to_unsafe) + sum(to_safe) DESC, surface, region", parameters=parameters).result_rows
        if not slices:
            return None
        [(first, last, active)] = client.query(
            f"SELECT toUnixTimestamp64Milli(min(window_start)), toUnixTimestamp64Milli(max(window_end)), "
            f"arraySort(groupUniqArrayArray(splitByChar(',', active_policy_version))) "
            f"FROM shadow_health FINAL WHERE {_WHERE}", parameters=parameters).result_rows
        items = client.query(
            f"SELECT item.1 AS item_id, sum(item.2) AS flipped FROM shadow_health FINAL "
            f"ARRAY JOIN flipped_items AS item WHERE {_WHERE} GROUP BY item_id ORDER BY flipped DESC, item_id LIMIT 10",
            parameters=parameters).result_rows
    finally:
        client.close()
    return ShadowReport(version, job_id, int(first), int(last), tuple(active),
                        tuple(SliceChange(*row) for row in slices), tuple((i, int(n)) for i, n in items))


def render(found: ShadowReport) -> str:
    """The report as text: a table per slice, the total, and the items that flip most."""
    lines = [f"shadow policy {found.version}, job {found.job_id}, against {', '.join(found.active_versions)}",
             f"{'surface':<14}{'region':<8}{'scored':>9}{'unsafe now':>12}{'if enforced':>13}{'-> unsafe':>11}"
             f"{'-> safe':>9}{'change':>9}"]
    for s in (*found.slices, found.total):
        change = (s.unsafe_shadow - s.unsafe_active) / s.scored if s.scored else 0.0
        lines.append(f"{s.surface:<14}{s.region:<8}{s.scored:>9,}{s.unsafe_active:>12,}{s.unsafe_shadow:>13,}"
                     f"{s.to_unsafe:>11,}{s.to_safe:>9,}{change:>+9.2%}")
    if found.top_items:
        lines.append("items that would flip most: " + ", ".join(f"{item} ({n})" for item, n in found.top_items))
    return "\n".join(lines)
