"""The success model (training/irt.py, training/success_model.py) on tiny hand-made outcome tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from training import irt
from training.success_model import Gathered, Pools, apply_links, connected, evidence


def _grid(rows: dict[str, list[float]]) -> list[tuple[str, int, float]]:
    return [(m, i, y) for m, ys in rows.items() for i, y in enumerate(ys)]


def _two_sources(link: str | None) -> Gathered:
    """Source A: strong X beats middle Y. Source B: Y beats weak Z. Y is on both."""
    g = Gathered(sources=["a", "b"])
    rows_a = {"X": [1, 1, 1, 1, 1, 1, 1, 0], "Y": [1, 1, 1, 1, 0, 0, 0, 0]}
    rows_b = {"Y": [1, 1, 1, 1, 1, 1, 1, 0], "Z": [1, 1, 1, 0, 0, 0, 0, 0]}
    for src, rows in (("a", rows_a), ("b", rows_b)):
        for m, i, y in _grid(rows):
            g.add(src, m, f"q{i}", float(y), None, None)
    if link:
        apply_links(g, [SimpleNamespace(kind=link, sd=0.3 if link == "stand_in" else None,
                                        members={"a": "Y", "b": "Y"})])
    return g


@pytest.mark.parametrize("link", ["same", "stand_in"])
def test_a_shared_model_links_two_sources_onto_one_scale(link):
    g = _two_sources(link)
    assert len(connected(g, "a")) == len(set(g.nodes.values()))  # every node reaches source a
    fit = irt.fit(evidence(g), reference_source=0)
    theta = {name: fit.theta[k] for name, k in g.nodes.items()}
    # X > Y on a, Y > Z on b: through Y, X sits above Z although they never met
    assert theta["a:X"] > theta["a:Y"] and theta["b:Y"] > theta["b:Z"]
    assert theta["a:X"] > theta["b:Z"] + 1.0
    if link == "same":
        assert g.nodes["a:Y"] == g.nodes["b:Y"]
    else:
        assert abs(theta["a:Y"] - theta["b:Y"]) < 0.6


def test_without_a_link_the_second_source_is_not_connected():
    g = _two_sources(None)
    reach = connected(g, "a")
    assert g.nodes["a:X"] in reach and g.nodes["b:Z"] not in reach


def test_easy_items_are_near_certain_for_every_capable_model():
    g = Gathered(sources=["a"])
    # 10 models: every one solves the 20 easy items; model j solves j of the 10 hard ones
    rows = {f"m{j}": [1.0] * 20 + [1.0] * j + [0.0] * (10 - j) for j in range(1, 11)}
    for m, i, y in _grid(rows):
        g.add("a", m, f"q{i}", y, None, None)
    fit = irt.fit(evidence(g))
    easy, hard = fit.b[:20], fit.b[20:]
    p_easy = {m: float(irt.success(fit.theta[g.nodes[f"a:{m}"]], easy, 1.0).mean()) for m in rows}
    p_hard = {m: float(irt.success(fit.theta[g.nodes[f"a:{m}"]], hard, 1.0).mean()) for m in rows}
    assert all(p > 0.9 for m, p in p_easy.items() if m != "m1"), p_easy
    assert p_easy["m10"] - p_easy["m3"] < 0.08  # easy: every capable model near certain
    assert p_hard["m10"] - p_hard["m3"] > 0.4  # hard: the gap opens


def test_success_is_monotone_in_difficulty_and_ability():
    b = np.linspace(-4, 4, 17)
    p = irt.success(0.5, b, 1.0)
    assert np.all(np.diff(p) < 0)
    assert np.all(irt.success(1.5, b, 1.0) > p)
    pools = Pools(
        by_cell={"k|low": [(0, np.array([-3.0, -2.0]), np.ones(2))], "k|high": [(0, np.array([2.0, 3.0]), np.ones(2))]},
        by_level={"low": [(0, np.array([-2.5]), np.ones(1))], "medium": [(0, np.array([0.0]), np.ones(1))],
                  "high": [(0, np.array([2.5]), np.ones(1))]},
    )
    acc = [pools.success([1.0], f"k|{d}")[0] for d in ("low", "medium", "high")]
    assert acc == sorted(acc, reverse=True) and acc[0] > 0.9
    places = [pools.difficulty(f"k|{d}", 1) for d in ("low", "medium", "high")]
    assert places == sorted(places)
    assert pools.success([places[1]], "k|medium")[0] == pytest.approx(0.5, abs=1e-3)
    # a cell with its own items leans toward them, shrunk toward the level pool
    own_only = float(np.mean(irt.success(1.0, np.array([-3.0, -2.0]), 1.0)))
    level_only = float(irt.success(1.0, np.array([-2.5]), 1.0)[0])
    assert pools.success([1.0], "k|low") == (pytest.approx((2 * own_only + 30 * level_only) / 32), 2)


def test_an_aggregate_rate_places_a_model_without_items():
    g = Gathered(sources=["a"])
    rng = np.random.default_rng(0)
    for m, skill in (("p", 1.0), ("q", -1.0)):
        for i, b in enumerate(np.linspace(-2, 2, 40)):
            g.add("a", m, f"q{i}", float(rng.random() < 1 / (1 + np.exp(-(skill - b)))), None, None)
    g.aggregates.append((g.node("a", "listed"), 0, 0.5, 500.0))
    fit = irt.fit(evidence(g))
    k = g.nodes["a:listed"]
    items = fit.b
    assert float(np.mean(irt.success(fit.theta[k], items, 1.0))) == pytest.approx(0.5, abs=0.03)
    assert irt.ability_for_rate(0.5, items, 1.0) == pytest.approx(fit.theta[k], abs=0.1)


def test_gradient_matches_finite_differences():
    g = _two_sources("stand_in")
    g.aggregates.append((g.node("a", "listed"), 1, 0.4, 50.0))
    ev = evidence(g)
    rng = np.random.default_rng(1)
    for slopes in (False, True):
        n = ev.n_nodes + len(ev.item_source) + (2 if slopes else 1) * (ev.n_sources - 1)
        x = rng.normal(size=n)
        _, grad = irt._objective(x, ev, 0, slopes)
        num = np.array([(irt._objective(x + e, ev, 0, slopes)[0] - irt._objective(x - e, ev, 0, slopes)[0]) / 2e-6
                        for e in np.eye(n) * 1e-6])
        assert np.abs(num - grad).max() < 1e-4


def test_a_link_to_a_model_without_outcomes_is_refused():
    g = _two_sources(None)
    with pytest.raises(ValueError, match=r"links\[0\]: no outcomes for 'b:Nobody'"):
        apply_links(g, [SimpleNamespace(kind="same", sd=None, members={"a": "X", "b": "Nobody"})])


def test_catalog_abilities_widen_for_proxies_and_unseen_sources():
    from training.production_table import MapEntry, ModelMap, catalog_abilities

    g = _two_sources("same")
    fit = irt.fit(evidence(g), reference_source=0)
    mapping = ModelMap(models={"x": MapEntry(evidence="proxy", swebench="X", rationale="r")},
                       proxy_sd=0.4, transfer_sd=0.5)
    g.sources = ["swebench", "livecodebench"]  # the map names rows by these sources
    g.nodes = {k.replace("a:", "swebench:").replace("b:", "livecodebench:"): v for k, v in g.nodes.items()}
    b_ref = fit.b[np.array(g.item_source) == 0]
    (own, transferred), basis = catalog_abilities(mapping.models["x"], mapping, g, fit, b_ref, {}, {})
    k = g.nodes["swebench:X"]
    assert own[0] == pytest.approx(fit.theta[k])
    assert own[1] == pytest.approx(np.hypot(fit.theta_se[k], 0.4))  # stand-in spread added
    assert transferred[0] == pytest.approx(own[0])  # carried to the source it was not seen on
    assert transferred[1] == pytest.approx(np.hypot(own[1], 0.5))
    assert basis.startswith("proxy via swebench 'X'")
