"""The routing benchmark's metrics against values computed by hand on tiny curves."""

from __future__ import annotations

import numpy as np
import pytest

from training.bench import metrics

# One two-model curve: weak 0.6, strong 0.8, a router that is good early.
SHARES = [0.0, 0.5, 1.0]
QUALS = [0.6, 0.75, 0.8]


def test_apgr_hand_computed() -> None:
    # Area = 0.5 * (0.6 + 0.75) / 2 + 0.5 * (0.75 + 0.8) / 2 = 0.725; weak area 0.6, strong area 0.8.
    assert metrics.apgr(SHARES, QUALS, 0.6, 0.8) == pytest.approx((0.725 - 0.6) / 0.2)


def test_apgr_random_line_is_one_half_and_order_does_not_matter() -> None:
    assert metrics.apgr([1.0, 0.0, 0.3], [0.8, 0.6, 0.66], 0.6, 0.8) == pytest.approx(0.5)


def test_apgr_uses_the_curves_own_share_range() -> None:
    # As RouteLLM's code: the weak and strong areas are integrated over the same points.
    assert metrics.apgr([0.0, 0.5], [0.6, 0.75], 0.6, 0.8) == pytest.approx(0.375)


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.5, 0.5 * 0.1 / 0.15),  # target 0.70 on the first segment
        (0.8, 0.5 + 0.5 * 0.01 / 0.05),  # target 0.76 on the second
        (0.0, 0.0),
        (1.0, 1.0),
    ],
)
def test_cpt_hand_computed(fraction: float, expected: float) -> None:
    assert metrics.cpt(SHARES, QUALS, 0.6, 0.8, fraction) == pytest.approx(expected)


def test_cpt_matches_routellm_np_interp_on_monotone_curves() -> None:
    for frac in (0.2, 0.5, 0.8):
        target = 0.6 + frac * 0.2
        assert metrics.cpt(SHARES, QUALS, 0.6, 0.8, frac) == pytest.approx(np.interp(target, QUALS, SHARES))


def test_cpt_none_when_never_reached() -> None:
    assert metrics.cpt([0.0, 1.0], [0.6, 0.7], 0.6, 0.8, 0.8) is None


def test_pgr() -> None:
    assert metrics.pgr(0.7, 0.6, 0.8) == pytest.approx(0.5)


POINTS = [(1.0, 0.5), (2.0, 0.55), (3.0, 0.9), (4.0, 0.85)]


def test_nondecreasing_hull_drops_dominated_and_falling_points() -> None:
    hull = metrics.nondecreasing_hull(POINTS)
    # (2, 0.55) lies under the chord (1, 0.5)-(3, 0.9); (4, 0.85) is past the top.
    assert hull.tolist() == [[1.0, 0.5], [3.0, 0.9]]


def test_nondecreasing_hull_keeps_best_of_equal_costs() -> None:
    assert metrics.nondecreasing_hull([(1.0, 0.2), (1.0, 0.4), (2.0, 0.5)]).tolist() == [[1.0, 0.4], [2.0, 0.5]]


def test_aiq_hand_computed() -> None:
    # Hull (1, .5)-(3, .9), flat to 4: area 2 x 0.7 + 1 x 0.9 = 2.3 over a width of 3.
    assert metrics.aiq(POINTS, 1.0, 4.0) == pytest.approx(2.3 / 3)


def test_aiq_left_of_the_curve_counts_nothing_and_clips_at_the_top() -> None:
    # Range [0, 2]: nothing on [0, 1); on [1, 2] the hull runs 0.5 -> 0.7: area 0.6, width 2.
    assert metrics.aiq(POINTS, 0.0, 2.0) == pytest.approx(0.6 / 2)


def test_aiq_of_a_single_point_is_its_flat_extension() -> None:
    assert metrics.aiq([(1.0, 0.8)], 1.0, 3.0) == pytest.approx(0.8)


@pytest.mark.parametrize(("target", "expected"), [(0.7, 2.0), (0.4, 1.0), (0.9, 3.0), (0.95, None)])
def test_cost_at_quality_hand_computed(target: float, expected: float | None) -> None:
    got = metrics.cost_at_quality(POINTS, target)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_regret() -> None:
    assert metrics.regret(0.9, 0.75) == pytest.approx(0.15)


def test_optimal_two_model_hand_computed() -> None:
    strong = np.array([1, 1, 0, 1])
    weak = np.array([0, 1, 1, 0])
    # Weak alone: 2/4; two items gain from the strong model; one strong call recovers one of them.
    assert metrics.optimal_two_model(strong, weak, 0.0) == pytest.approx(0.5)
    assert metrics.optimal_two_model(strong, weak, 0.25) == pytest.approx(0.75)
    assert metrics.optimal_two_model(strong, weak, 1.0) == pytest.approx(1.0)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError):
        metrics.apgr([0.5, 0.5], [0.6, 0.7], 0.6, 0.8)
    with pytest.raises(ValueError):
        metrics.aiq(POINTS, 2.0, 2.0)
    with pytest.raises(ValueError):
        metrics.nondecreasing_hull([])


# --- the honest comparison: no-routing mixture vs reachable router points -----------------

def test_reachable_cost_reads_points_without_interpolating() -> None:
    pts = [(1.0, 0.5), (3.0, 0.9), (2.0, 0.7)]
    # target 0.8: the hull would interpolate between (2, 0.7) and (3, 0.9) at 2.5; a router reaches only 3
    assert metrics.cost_at_quality(pts, 0.8) == pytest.approx(2.5)
    assert metrics.reachable_cost_at_quality(pts, 0.8) == 3.0
    assert metrics.reachable_cost_at_quality(pts, 0.7) == 2.0
    assert metrics.reachable_cost_at_quality(pts, 0.95) is None


def test_no_routing_baseline_is_the_lower_hull_of_single_models() -> None:
    # singles: cheap (1, 0.5), mid (4, 0.7) below the chord, strong (5, 1.0)
    singles = [(1.0, 0.5), (4.0, 0.7), (5.0, 1.0)]
    # 95% of 1.0 = 0.95: mix cheap and strong, (0.95 - 0.5) / 0.5 = 90% strong -> 1 + 0.9 * 4 = 4.6
    assert metrics.cost_at_quality(singles, 0.95) == pytest.approx(4.6)


def test_routing_gain_on_a_hand_made_set() -> None:
    # 4 items, two models: cheap solves items 0-1, strong solves all; cost cheap 1, strong 5.
    single_q = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=float)
    single_c = np.array([[1, 1, 1, 1], [5, 5, 5, 5]], dtype=float)
    # one router point: cheap on items 0-1, strong on 2-3 -> quality 1.0, cost 3.0
    router_q = np.array([[1, 1, 1, 1]], dtype=float)
    router_c = np.array([[1, 1, 5, 5]], dtype=float)
    out = metrics.routing_gain(router_c, router_q, single_c, single_q, n_boot=200)
    # no routing at 0.95: cheap 0.5 / strong 1.0 -> 90% strong: 1 + 0.9 * 4 = 4.6; routing 3.0
    assert out["no_routing_cost"] == pytest.approx(4.6)
    assert out["routing_cost"] == pytest.approx(3.0)
    assert out["gain"] == pytest.approx(1.6)
    lo, hi = out["ci95"]
    assert lo is not None and hi is not None and lo <= 1.6 <= hi


def test_routing_gain_is_negative_when_the_router_only_reaches_dear_points() -> None:
    single_q = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=float)
    single_c = np.array([[1, 1, 1, 1], [5, 5, 5, 5]], dtype=float)
    router_q = np.array([[1, 1, 1, 1]], dtype=float)
    router_c = np.array([[5, 5, 5, 5]], dtype=float)  # always strong
    out = metrics.routing_gain(router_c, router_q, single_c, single_q, n_boot=100)
    assert out["gain"] == pytest.approx(4.6 - 5.0)
    assert out["ci95"][1] is not None and out["ci95"][1] < 0
