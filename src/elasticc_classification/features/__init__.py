"""Tensorize stage: taxonomy, preprocessing, features, shards and batch-time windows (no torch)."""
