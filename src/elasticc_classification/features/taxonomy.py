"""The class hierarchy: nodes in a fixed order, depths, sibling groups, root-to-leaf paths.

A taxonomy is a tree given as ``{parent: [children, ...]}`` from the root down, plus a
mapping from SNANA simulation model names to leaves. Node order is breadth-first with
children in the order listed; it fixes the order of the model's logits and of every
probability column written by the package. The root has depth 0. Optionally ``class_ids`` maps
nodes to ELAsTiCC taxonomy class ids (integers), which brokerClassification messages report, and
``prior`` maps every leaf to its relative number of objects in a population (the ELAsTiCC2 training
set's published numbers in the default file), for predictions under that population's prior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from elasticc_classification.errors import InputError


class TaxonomyError(InputError):
    """The taxonomy file is malformed, or a model is not mapped to a leaf."""


@dataclass(frozen=True)
class Taxonomy:
    """A validated class tree.

    Attributes
    ----------
    nodes : node names, breadth-first (index 0 is the root).
    parent : index of each node's parent (-1 for the root).
    depth : depth of each node (root 0).
    models : SNANA model name -> leaf name.
    class_ids : node name -> ELAsTiCC class id (may be empty, or cover only some nodes).
    prior : leaf name -> relative number of objects in a population (empty, or every leaf).
    """

    nodes: tuple[str, ...]
    parent: np.ndarray
    depth: np.ndarray
    models: Mapping[str, str] = field(default_factory=dict)
    class_ids: Mapping[str, int] = field(default_factory=dict)
    prior: Mapping[str, float] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "<dict>") -> Taxonomy:
        """Build from ``{"root": ..., "tree": {...}, "models": {...}}`` (the YAML layout)."""
        if not isinstance(spec, Mapping) or "tree" not in spec:
            raise TaxonomyError(f"{source}: a taxonomy needs a 'tree' mapping of parent -> [children]")
        tree = spec["tree"]
        if not isinstance(tree, Mapping) or not tree:
            raise TaxonomyError(f"{source}: 'tree' must be a non-empty mapping of parent -> [children]")
        children_of: dict[str, list[str]] = {}
        for p, ch in tree.items():
            if not isinstance(ch, (list, tuple)) or not ch or not all(isinstance(c, str) and c for c in ch):
                raise TaxonomyError(f"{source}: children of {p!r} must be a non-empty list of names, got {ch!r}")
            if len(set(ch)) != len(ch):
                raise TaxonomyError(f"{source}: {p!r} lists a child twice: {ch}")
            children_of[str(p)] = [str(c) for c in ch]
        all_children = [c for ch in children_of.values() for c in ch]
        roots = [p for p in children_of if p not in all_children]
        root = spec.get("root")
        if root is None:
            if len(roots) != 1:
                raise TaxonomyError(f"{source}: cannot tell the root: candidates {roots}; set 'root'")
            root = roots[0]
        if root not in children_of:
            raise TaxonomyError(f"{source}: root {root!r} has no children in 'tree'")
        nodes = [root]
        parent = [-1]
        seen = {root}
        i = 0
        while i < len(nodes):
            for c in children_of.get(nodes[i], []):
                if c in seen:
                    raise TaxonomyError(
                        f"{source}: node {c!r} appears twice (a node has one parent; the tree has no cycles)"
                    )
                seen.add(c)
                nodes.append(c)
                parent.append(i)
            i += 1
        unreachable = set(children_of) - seen
        if unreachable:
            raise TaxonomyError(f"{source}: nodes not reachable from root {root!r}: {sorted(unreachable)}")
        parent_arr = np.asarray(parent, dtype=np.int64)
        depth = np.zeros(len(nodes), dtype=np.int64)
        for k in range(1, len(nodes)):
            depth[k] = depth[parent_arr[k]] + 1
        tax = cls(tuple(nodes), parent_arr, depth, {})
        models = spec.get("models") or {}
        if not isinstance(models, Mapping):
            raise TaxonomyError(f"{source}: 'models' must map model names to leaves")
        leaves = set(tax.leaf_names)
        bad = {m: l for m, l in models.items() if l not in leaves}
        if bad:
            raise TaxonomyError(
                f"{source}: models mapped to names that are not leaves: {bad}; leaves are {sorted(leaves)}"
            )
        object.__setattr__(tax, "models", {str(k): str(v) for k, v in models.items()})
        ids = spec.get("class_ids") or {}
        if not isinstance(ids, Mapping):
            raise TaxonomyError(f"{source}: 'class_ids' must map node names to ELAsTiCC class ids (integers)")
        unknown = sorted(str(k) for k in ids if k not in tax.index)
        if unknown:
            raise TaxonomyError(f"{source}: class_ids name nodes that are not in the tree: {unknown}")
        bad_ids = {k: v for k, v in ids.items() if isinstance(v, bool) or not isinstance(v, int)}
        if bad_ids:
            raise TaxonomyError(f"{source}: class ids must be integers, got {bad_ids}")
        seen_ids: dict[int, str] = {}
        for k, v in ids.items():
            if v in seen_ids:
                raise TaxonomyError(f"{source}: class id {v} given to both {seen_ids[v]!r} and {k!r}")
            seen_ids[v] = k
        object.__setattr__(tax, "class_ids", {str(k): int(v) for k, v in ids.items()})
        prior = spec.get("prior") or {}
        if not isinstance(prior, Mapping):
            raise TaxonomyError(f"{source}: 'prior' must map every leaf to a positive relative number")
        if prior:
            if set(prior) != leaves:
                raise TaxonomyError(
                    f"{source}: 'prior' must name every leaf and only leaves; missing "
                    f"{sorted(leaves - set(prior))}, not leaves {sorted(set(prior) - leaves)}"
                )
            bad_p = {k: v for k, v in prior.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0}
            if bad_p:
                raise TaxonomyError(f"{source}: prior values must be positive numbers, got {bad_p}")
        object.__setattr__(tax, "prior", {str(k): float(v) for k, v in prior.items()})
        return tax

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Load a taxonomy YAML file; ``None`` loads the default ORACLE taxonomy."""
        if path is None:
            text = resources.files("elasticc_classification").joinpath("data/taxonomy.yaml").read_text()
            source = "default taxonomy"
        else:
            try:
                text = Path(path).read_text()
            except OSError as e:
                raise TaxonomyError(f"cannot read taxonomy file {path}: {e.strerror}") from None
            source = str(path)
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise TaxonomyError(f"{source}: not valid YAML: {e}") from None
        return cls.from_dict(spec, source)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout (round-trips through :meth:`from_dict`); stored in model artifacts."""
        tree = {
            self.nodes[i]: [self.nodes[c] for c in self.children(i)] for i in range(self.n_nodes) if self.children(i)
        }
        out: dict[str, Any] = {"root": self.nodes[0], "tree": tree, "models": dict(self.models)}
        if self.class_ids:
            out["class_ids"] = dict(self.class_ids)
        if self.prior:
            out["prior"] = dict(self.prior)
        return out

    # -- structure ----------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @cached_property
    def index(self) -> dict[str, int]:
        """Node name -> node index."""
        return {n: i for i, n in enumerate(self.nodes)}

    def children(self, i: int) -> list[int]:
        """Node indices of node ``i``'s children, in node order."""
        return list(self._children[i])

    @cached_property
    def _children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.nodes]
        for k, p in enumerate(self.parent.tolist()):
            if p >= 0:
                kids[p].append(k)
        return tuple(tuple(c) for c in kids)

    @cached_property
    def leaves(self) -> np.ndarray:
        """Node indices of the leaves, in node order."""
        has_child = np.zeros(self.n_nodes, dtype=bool)
        has_child[self.parent[self.parent >= 0]] = True
        return np.flatnonzero(~has_child)

    @property
    def leaf_names(self) -> list[str]:
        return [self.nodes[i] for i in self.leaves]

    @property
    def max_depth(self) -> int:
        return int(self.depth.max())

    @cached_property
    def sibling_groups(self) -> list[np.ndarray]:
        """Node indices of each group of siblings (children of one parent), root excluded."""
        return [np.asarray(self.children(i)) for i in range(self.n_nodes) if self.children(i)]

    @cached_property
    def group_of(self) -> np.ndarray:
        """Index into :attr:`sibling_groups` of every node (-1 for the root)."""
        g = np.full(self.n_nodes, -1, dtype=np.int64)
        for k, grp in enumerate(self.sibling_groups):
            g[grp] = k
        return g

    def path(self, node: int | str) -> list[int]:
        """Node indices from the root to ``node`` (both included)."""
        i = self.index[node] if isinstance(node, str) else int(node)
        out = [i]
        while self.parent[out[-1]] >= 0:
            out.append(int(self.parent[out[-1]]))
        return out[::-1]

    @cached_property
    def path_matrix(self) -> np.ndarray:
        """``(n_nodes, n_nodes)`` 0/1 matrix: row = any node, 1 on every node of its root path.

        Rows of leaves are the targets y of the hierarchical loss; ``marginals = exp(logcond @ path_matrix.T)``.
        """
        m = np.zeros((self.n_nodes, self.n_nodes), dtype=np.float32)
        for i in range(self.n_nodes):
            m[i, self.path(i)] = 1.0
        return m

    def level_nodes(self, depth: int) -> np.ndarray:
        """Node indices at ``depth`` (1 = children of the root)."""
        return np.flatnonzero(self.depth == depth)

    def ancestor_at(self, depth: int) -> np.ndarray:
        """For every node, the index of its ancestor at ``depth`` (itself if at that depth; -1 if shallower)."""
        out = np.full(self.n_nodes, -1, dtype=np.int64)
        for i in range(self.n_nodes):
            p = self.path(i)
            if len(p) > depth:
                out[i] = p[depth]
        return out

    # -- labels -------------------------------------------------------------------------
    def leaf_of_model(self, model: str) -> int:
        """Node index of the leaf a SNANA model maps to."""
        try:
            return self.index[self.models[model]]
        except KeyError:
            raise TaxonomyError(
                f"model {model!r} is not in the taxonomy's model mapping; known models: {sorted(self.models)}. "
                "Add it under 'models:' in the taxonomy file"
            ) from None

    # -- ELAsTiCC class ids -------------------------------------------------------------
    def leaf_class_ids(self) -> np.ndarray:
        """ELAsTiCC class id (int64) of every leaf, in leaf order; :class:`TaxonomyError` when the
        taxonomy has no ids or misses some leaves (brokerClassification needs every leaf's)."""
        missing = [n for n in self.leaf_names if n not in self.class_ids]
        if missing:
            what = "has no class_ids" if not self.class_ids else f"has no class id for the leaves {missing}"
            raise TaxonomyError(
                f"the model's taxonomy {what}: brokerClassification messages need an ELAsTiCC class id per leaf. "
                "Add a 'class_ids:' mapping to the taxonomy file (see config/taxonomy.yaml) and retrain, or give "
                "that file with --taxonomy"
            )
        return np.array([self.class_ids[n] for n in self.leaf_names], dtype=np.int64)
