"""Evaluation stage: metrics, calibration, evaluation over truncations, plots."""
