"""Safety-score quantiles of any selection of safety_health rows, in ClickHouse SQL, from the rows' score
histograms (riskstream/core/score_buckets.py): merged with sumMap, then the nearest rank's bucket and its
representative, as the job computes each row's own quantiles (udfs/score_histogram.py)."""
from __future__ import annotations

from riskstream.core.score_buckets import GAMMA

MERGED = "sumMap(mapKeys(score_histogram), mapValues(score_histogram))"  # an aggregate: (keys sorted, counts)


def quantile(merged: str, q: float) -> str:
    """The nearest-rank q-quantile of `merged` (a MERGED expression or its alias); NULL when empty."""
    keys, counts = f"({merged}).1", f"({merged}).2"
    rank = f"greatest(1, toUInt64(ceil({q!r} * arraySum({counts}))))"
    key = f"{keys}[arrayFirstIndex(c -> c >= {rank}, arrayCumSum({counts}))]"
    return f"if(arraySum({counts}) = 0, NULL, 2 * pow({GAMMA!r}, {key}) / (1 + {GAMMA!r}))"


def quantiles_over_time_sql(source: str, where: str, qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> str:
    """p50/p95/p99 (by default) per time interval of the impressions in the rows `where` selects."""
    columns = ", ".join(f"{quantile('merged', q)} AS p{str(q * 100).rstrip('0').rstrip('.').replace('.', '_')}"
                        for q in qs)
    return f"""
SELECT time, {columns}
FROM (
    SELECT $__timeInterval(window_start) AS time, {MERGED} AS merged
    FROM {source}
    WHERE {where} AND scored > 0
    GROUP BY time
)
ORDER BY time"""
