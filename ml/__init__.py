"""Propensity models on the warehouse's point-in-time features.

features.ml_features / features.ml_labels -> LightGBM train and evaluate (time split,
baseline side by side) -> versioned registry with a champion pointer -> ml.person_scores.
"""

import os

# LightGBM's OpenMP threads spin while they wait. When the cores are shared with other busy
# processes (dbt, DuckDB, other jobs), spinning threads starve each other: measured here,
# 2 threads took 925 ms per boosting round against 70 ms with passive waiting. libgomp reads
# this once, when LightGBM's library loads, so it is set before any ml module imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
