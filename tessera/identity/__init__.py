"""Identity resolution helpers that live outside dbt: accuracy against ground truth, stats."""
