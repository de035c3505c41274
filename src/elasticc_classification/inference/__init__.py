"""Inference: the classifier and its loaders, prediction, export, alerts."""
