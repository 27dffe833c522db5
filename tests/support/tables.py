"""Small accuracy tables from plain numbers, for tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from router.accuracy import AccuracyTable, Cell, ModelEntry


def table_for(models: Sequence[str], cells: Sequence[str], lower: Mapping[str, Mapping[str, float]],
              overall: Mapping[str, float], bound: str = "given") -> AccuracyTable:
    """A table whose models are all `measured`, with the given lower bounds."""
    return AccuracyTable(
        bound=bound,
        cells=tuple(cells),
        models={
            m: ModelEntry(
                evidence="measured",
                overall=Cell(lower=overall[m]),
                cells={c: Cell(lower=v) for c, v in lower.get(m, {}).items()},
            )
            for m in models
        },
    )
