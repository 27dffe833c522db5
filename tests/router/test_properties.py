"""Invariants of the free tier's affinity and of availability, as hypothesis properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router import Availability, ModelState, ModelStatus, RouterState, RoutingRequest, load_config, route

CONFIG = load_config()
FREE_TIER = CONFIG.tiers.tiers["free"]
RANKED = [c.model for c in FREE_TIER.candidates]
ALL_FREE = RANKED + list(FREE_TIER.last_resort)
sessions = st.text(min_size=1, max_size=40)


def free_model(session: str, unavailable: frozenset[str] = frozenset()) -> str:
    availability = Availability({m: ModelStatus(ModelState.UNAVAILABLE) for m in unavailable})
    return route(RoutingRequest("kilo-auto/free", session_id=session), RouterState(CONFIG, availability)).model


@given(sessions)
def test_affinity_is_stable_for_a_session(session):
    assert len({free_model(session) for _ in range(3)}) == 1


@settings(max_examples=300)
@given(sessions, st.sampled_from(RANKED))
def test_removing_one_candidate_moves_only_its_sessions(session, removed):
    before = free_model(session)
    after = free_model(session, frozenset({removed}))
    if before != removed:
        assert after == before
    else:
        assert after != removed


@settings(max_examples=300)
@given(sessions, st.sets(st.sampled_from(ALL_FREE), max_size=len(ALL_FREE) - 1))
def test_no_error_while_any_candidate_is_available(session, unavailable):
    model = free_model(session, frozenset(unavailable))
    assert model not in unavailable


@given(sessions, st.sets(st.sampled_from(ALL_FREE), max_size=len(ALL_FREE) - 1))
def test_chain_is_the_rest_of_the_ranking(session, unavailable):
    availability = Availability({m: ModelStatus(ModelState.UNAVAILABLE) for m in unavailable})
    d = route(RoutingRequest("kilo-auto/free", session_id=session), RouterState(CONFIG, availability))
    assert sorted(d.chain) == sorted(m for m in ALL_FREE if m not in unavailable)
    assert d.chain[-1] == "openrouter/free" or "openrouter/free" in unavailable


def test_weights_shape_the_share_of_sessions():
    counts = {m: 0 for m in RANKED}
    for i in range(9000):
        counts[free_model(f"session-{i}")] += 1
    weights = {c.model: c.weight for c in FREE_TIER.candidates}
    total = sum(weights.values())
    for model, count in counts.items():
        assert abs(count / 9000 - weights[model] / total) < 0.03, counts
