"""Experiments: holdout groups declared beside segments, assigned and measured in the warehouse.

The dbt models (models/experiments) assign and measure; this package validates the YAML
(config.py), reads the results for people (report.py, cli.py), simulates outcomes with a
known uplift for the demo and the tests (simulate.py) and draws the chart (chart.py).
"""
