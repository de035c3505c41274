"""Training stage: the network, the hierarchical loss, the Lightning module and data module, fit."""
