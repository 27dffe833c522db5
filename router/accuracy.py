"""Accuracy tables (`data/accuracy/*.json`): how often each model got each kind of work
right in public benchmark outcomes, per cell, with a conservative bound.

A cell is one label of the table's label set. For the production table a cell is a
route key and a difficulty, written `route_key|difficulty` (see `cell_key`); benchmark
tables use their own set's labels (task name, subject). `training.accuracy_tables`
builds the files; this module only reads them and answers one question: the expected
accuracy of each model given a probability for every cell.

Every model entry says how it is known: `measured` (the model itself appears in the
sources), `proxy` (a named predecessor or sibling stands in for it) or `prior` (an
aggregate board or an explicit assumption). A cell with no observations uses the model's
`overall` figures; a thin cell is shrunk toward them by the builder and marked `shrunk`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr

from router.datafile import Strict, validate
from router.errors import ConfigError

CELL_SEPARATOR = "|"


def cell_key(route_key: str, difficulty: str) -> str:
    return f"{route_key}{CELL_SEPARATOR}{difficulty}"


class Cell(Strict):
    """Observed accuracy (null when nothing was observed), number of observations, and
    the conservative figure selection uses (`lower`)."""

    accuracy: float | None = Field(default=None, ge=0, le=1)
    n: float = Field(default=0, ge=0)
    lower: float = Field(ge=0, le=1)
    shrunk: bool = False


class ModelEntry(Strict):
    evidence: Literal["measured", "proxy", "prior"]
    measured_as: tuple[str, ...] = ()
    note: str = ""
    overall: Cell
    cells: dict[str, Cell] = {}
    # The operator's own evidence folded in (own-suite outcomes, feedback), per origin and
    # level, with the ability before and after (training/own_evidence.py); empty: none.
    own_evidence: dict[str, Any] = {}


class AccuracyTable(Strict):
    """One table. `cells` lists the label set in order; `bound` says how `lower` was
    computed; `provenance` records sources, versions and the command that built it.
    `difficulty` (optional) places each cell on the success model's ability scale, in
    logits: the ability that succeeds half the time on it."""

    version: Literal[1] = 1
    bound: str
    cells: tuple[str, ...] = Field(min_length=1)
    provenance: dict[str, Any] = {}
    models: dict[str, ModelEntry] = Field(min_length=1)
    difficulty: dict[str, float] = {}

    _index: dict[str, int] = PrivateAttr(default_factory=dict)
    _rows: dict[str, int] = PrivateAttr(default_factory=dict)
    _matrix: np.ndarray = PrivateAttr(default_factory=lambda: np.empty((0, 0)))
    _grid: tuple[tuple[str, ...], tuple[str, ...], np.ndarray] | None = PrivateAttr(default=None)
    _difficulty: np.ndarray | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        index = {c: i for i, c in enumerate(self.cells)}
        matrix = np.empty((len(self.models), len(self.cells)), dtype=np.float64)
        for row, entry in enumerate(self.models.values()):
            matrix[row] = entry.overall.lower
            for cell, stats in entry.cells.items():
                if cell in index:
                    matrix[row, index[cell]] = stats.lower
        self._index, self._matrix = index, matrix
        self._rows = {m: i for i, m in enumerate(self.models)}
        self._grid = _grid_of(self.cells)
        if self.difficulty and all(c in self.difficulty for c in self.cells):
            self._difficulty = np.array([self.difficulty[c] for c in self.cells], dtype=np.float64)

    def unknown_cells(self) -> list[str]:
        """`model: cell` for every cell a model lists that is not in `cells`."""
        index = self._index
        return [f"{m}: {c}" for m, e in self.models.items() for c in e.cells if c not in index]

    def probability_vector(self, cell_probs: Mapping[str, float]) -> np.ndarray:
        """Probabilities laid out in `cells` order (labels outside the table are ignored,
        the rest renormalised; all-unknown gives a uniform vector)."""
        index = self._index
        vec = np.zeros(len(self.cells), dtype=np.float64)
        for cell, p in cell_probs.items():
            i = index.get(cell)
            if i is not None:
                vec[i] += p
        return _normalised(vec)

    def joint_vector(self, route_probs: Mapping[str, float], difficulty_probs: Mapping[str, float]) -> np.ndarray:
        """`probability_vector(joint_probs(...))`, computed as an outer product when the
        cells form a full route key x difficulty grid (the production table)."""
        grid = self._grid
        if grid is None:
            return self.probability_vector(joint_probs(route_probs, difficulty_probs))
        keys, levels, order = grid
        r = np.fromiter((route_probs.get(k, 0.0) for k in keys), dtype=np.float64, count=len(keys))
        d = np.fromiter((difficulty_probs.get(v, 0.0) for v in levels), dtype=np.float64, count=len(levels))
        return _normalised(np.outer(r, d).ravel()[order])

    def expected_accuracy(self, model_id: str, probs: np.ndarray) -> float:
        """Sum over cells of probability x the cell's conservative accuracy."""
        return float(self._matrix[self._rows[model_id]] @ probs)

    def expected_accuracies(self, model_ids: Sequence[str], probs: np.ndarray) -> list[float]:
        """`expected_accuracy` for several models in one matrix product."""
        rows = self._rows
        return (self._matrix[[rows[m] for m in model_ids]] @ probs).tolist()

    def expected_difficulty(self, probs: np.ndarray) -> float | None:
        """The request's place on the ability scale: cell difficulties weighted by `probs`;
        None when the table places no cells."""
        return None if self._difficulty is None else float(self._difficulty @ probs)

    def overall(self, model_id: str) -> float:
        return self.models[model_id].overall.lower


def _normalised(vec: np.ndarray) -> np.ndarray:
    total = vec.sum()
    return vec / total if total > 0 else np.full(len(vec), 1.0 / len(vec))


def _grid_of(cells: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray] | None:
    """(route keys, difficulties, order) when `cells` is every `key|difficulty` pair once;
    `order[i]` is cell i's position in the key-major outer product."""
    parts = [c.split(CELL_SEPARATOR) for c in cells]
    if any(len(p) != 2 for p in parts):
        return None
    keys = tuple(dict.fromkeys(p[0] for p in parts))
    levels = tuple(dict.fromkeys(p[1] for p in parts))
    if len(keys) * len(levels) != len(cells) or len(set(cells)) != len(cells):
        return None
    k_index = {k: i for i, k in enumerate(keys)}
    l_index = {v: i for i, v in enumerate(levels)}
    order = np.array([k_index[k] * len(levels) + l_index[v] for k, v in parts], dtype=np.intp)
    return keys, levels, order


def joint_probs(route_probs: Mapping[str, float], difficulty_probs: Mapping[str, float]) -> dict[str, float]:
    """Production cells from the classifier's two heads, taken as independent."""
    return {
        cell_key(rk, d): pr * pd for rk, pr in route_probs.items() for d, pd in difficulty_probs.items()
    }


def load_accuracy_table(path: Path) -> AccuracyTable:
    """Read and validate one table; raises ConfigError with one line per problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path.name}: cannot read file: {exc.strerror or exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path.name}: line {exc.lineno}: invalid JSON: {exc.msg}"]) from exc
    table = validate(AccuracyTable, raw, path.name)
    problems = [f"{path.name}: models.{u}: cell not listed in 'cells'" for u in table.unknown_cells()]
    problems += [f"{path.name}: difficulty.{c}: cell not listed in 'cells'" for c in table.difficulty
                 if c not in table.cells]
    if problems:
        raise ConfigError(problems)
    return table
