"""The contract of the safety-score histograms every safety_health row keeps (`score_histogram`): the job
fills them (udfs/score_histogram.py) and the dashboards read quantiles from them in SQL
(dashboards/quantiles.py), so both take the buckets' definition from here.

Bucket k holds the scores in (GAMMA^(k-1), GAMMA^k] (DDSketch's logarithmic mapping), scores at or below
FLOOR in FLOOR's bucket; its representative 2 GAMMA^k / (1 + GAMMA) is within RELATIVE_ACCURACY of each.
"""
from __future__ import annotations

RELATIVE_ACCURACY = 0.005  # every reported quantile within 0.5% (relative) of the exact one
FLOOR = 1e-6               # below it, an absolute error of at most FLOOR
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
