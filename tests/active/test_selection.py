"""Selection and convergence of the active-learning loop on synthetic disagreement data."""

from __future__ import annotations

import re

import numpy as np
import pytest

from li_campaign.active.selection import (
    classify,
    farthest_point_sampling,
    is_converged,
    select_frames,
    stop_reason,
)
from li_campaign.core.errors import InputError
from li_campaign.schemas.spec import spec_from_dict

LINE = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [5.0]])

# σ (eV/Å) of 8 explored frames against trust levels 0.05 / 0.3
SIGMA = [0.01, 0.05, 0.2, 0.35, 0.3, 0.1, float("nan"), 0.299]
X = np.array([[100.0], [0.0], [10.0], [50.0], [60.0], [1.0], [70.0], [9.0]])
ORIGINS = ["bulk_md", "bulk_md", "slab_md", "bulk_md", "slab_md", "slab_md", "adatom_hop", "adatom_md"]


def test_trust_level_boundaries():
    classes = classify([0.0499999, 0.05, 0.2999999, 0.3, 1.0, float("nan"), float("inf")], 0.05, 0.3)
    assert list(classes) == ["accurate", "candidate", "candidate", "failed", "failed", "failed", "failed"]


def test_trust_levels_must_be_ordered():
    with pytest.raises(ValueError, match="lower must be below upper"):
        classify([0.1], 0.3, 0.3)


def test_farthest_point_sampling_picks_exactly():
    # seed 1 draws row 2 first; then the farthest rows: 11, 5, 0, then the tie 1 vs 10 goes to the lower index
    assert farthest_point_sampling(LINE, 5, seed=1) == [2, 4, 5, 0, 1]
    # seed 0 draws row 5 first
    assert farthest_point_sampling(LINE, 5, seed=0) == [5, 4, 0, 2, 1]
    assert farthest_point_sampling(LINE, 6, seed=1) == farthest_point_sampling(LINE, 6, seed=1)
    assert sorted(farthest_point_sampling(LINE, 10, seed=3)) == list(range(6))
    assert farthest_point_sampling(LINE, 0, seed=3) == []


def test_farthest_point_sampling_respects_quotas():
    groups = ["a", "a", "a", "b", "b", "c"]
    assert farthest_point_sampling(LINE, 6, seed=1, groups=groups, quotas={"b": 1}) == [2, 4, 5, 0, 1]
    assert farthest_point_sampling(LINE, 6, seed=1, groups=groups, quotas={"a": 0, "b": 0, "c": 0}) == []


def test_select_frames_classifies_and_picks_diverse_candidates_within_budget():
    sel = select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=2, seed=1)
    assert sel.indices("accurate") == [0]
    assert sel.indices("candidate") == [1, 2, 5, 7]
    assert sel.indices("failed") == [3, 4, 6]
    assert (sel.fraction("accurate"), sel.fraction("candidate"), sel.fraction("failed")) == (1 / 8, 4 / 8, 3 / 8)
    # candidates at x = 0, 10, 1, 9; seed 1 draws the second (frame 2, x = 10), the farthest is frame 1 (x = 0)
    assert sel.selected == [2, 1]
    everything = select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=100, seed=1)
    assert sorted(everything.selected) == [1, 2, 5, 7]  # never an accurate or a failed frame


def test_select_frames_by_largest_deviation_and_quota():
    sel = select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=3, method="max_deviation")
    assert sel.selected == [7, 2, 5]
    quota = select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=3, method="max_deviation", quotas={"slab_md": 1})
    assert quota.selected == [7, 2, 1]
    fps_quota = select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=4, seed=1, quotas={"slab_md": 1})
    assert fps_quota.selected == [2, 1, 7]


def test_select_frames_rejects_bad_input():
    with pytest.raises(ValueError, match="lengths differ"):
        select_frames(SIGMA, X[:3], ORIGINS, 0.05, 0.3, budget=2)
    with pytest.raises(ValueError, match="unknown selection method"):
        select_frames(SIGMA, X, ORIGINS, 0.05, 0.3, budget=2, method="cur")


def test_convergence_and_stop_reasons():
    assert is_converged(0.04, 0.05) and not is_converged(0.05, 0.05)
    assert stop_reason(0.01, 0.05, iteration=0, max_iterations=5, n_selected=3) == "converged"
    assert stop_reason(0.01, 0.05, iteration=4, max_iterations=5, n_selected=3) == "converged"
    assert stop_reason(0.5, 0.05, iteration=4, max_iterations=5, n_selected=3) == "max_iterations"
    assert stop_reason(0.5, 0.05, iteration=1, max_iterations=5, n_selected=0) == "no_candidates_selected"
    assert stop_reason(0.5, 0.05, iteration=1, max_iterations=5, n_selected=2) is None


def test_loop_on_synthetic_disagreement_stops_when_candidates_are_rare():
    """Each refit halves σ (uniform on [0, 0.6/2^k]): candidates ≈ 42, 83, 67, 33, 0 %; the loop stops at iteration 4."""
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.0, 0.6, 200)
    descriptors = rng.normal(size=(200, 3))
    origins = ["bulk_md"] * 200
    history = []
    for iteration in range(10):
        sel = select_frames(sigma, descriptors, origins, 0.05, 0.3, budget=5, seed=iteration)
        reason = stop_reason(sel.fraction("candidate"), 0.1, iteration, 10, len(sel.selected))
        history.append((sel.fraction("candidate"), reason))
        assert len(sel.selected) <= 5 and set(sel.selected) <= set(sel.indices("candidate"))
        if reason:
            break
        sigma = sigma / 2
    assert [reason for _, reason in history] == [None, None, None, None, "converged"]
    assert history[-1][0] < 0.1 <= history[-2][0]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"trust_lower_eV_A": 0.3, "trust_upper_eV_A": 0.2}, "must be below trust_upper_eV_A"),
        ({"committee_size": 3, "seeds": [1, 2]}, "need one per member"),
        ({"committee_size": 2, "seeds": [1, 1]}, "different seeds"),
        ({"origin_quotas": {"surface_md": 2}}, "unknown origins ['surface_md']"),
        ({"committee_size": 1}, "committee_size"),
        ({"exploration": {"bulk_temperatures_K": [-5.0]}}, "temperatures must be > 0 K"),
        ({"exploration": {"facets": ["1x0"]}}, "unknown facet"),
    ],
)
def test_spec_errors_name_the_field(section, message):
    with pytest.raises(InputError, match=re.escape(message)) as err:
        spec_from_dict({"name": "al", "active_learning": section}, source="al.yaml")
    assert "al.yaml" in str(err.value) and "active_learning" in str(err.value) and message in str(err.value)


def test_spec_defaults_and_member_seeds():
    spec = spec_from_dict({"name": "al", "active_learning": {}})
    al = spec.active_learning
    assert al.committee_size == 4 and al.member_seeds(spec.mlip.seed) == [456, 457, 458, 459]
    assert spec_from_dict({"name": "al"}).active_learning is None
