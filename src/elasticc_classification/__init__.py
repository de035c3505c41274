"""Hierarchical classification of ELAsTiCC2 alerts."""

__version__ = "0.1.0"
