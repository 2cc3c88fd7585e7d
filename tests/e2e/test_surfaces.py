"""The surface fan-out through FireWorks via the real CLI (issue 4), and idempotent resubmission.

tests/data/surfaces_morse.yaml enables every surface calculation kind (enumerated facets up to
index 2 with converged slabs, steps and kinks, hops, exchange and across-step paths with image
convergence, adatom MD) with Morse labels and a tiny model, so it runs in a few minutes.
"""

from __future__ import annotations

import json
import os

import pytest

from li_campaign.structures.facets import distinct_facets
from li_campaign.schemas.spec import facet_label
from tests.e2e.test_campaign import REPO, li

SPEC = REPO / "tests" / "data" / "surfaces_morse.yaml"
FACETS = sorted(facet_label(hkl) for hkl in distinct_facets(2))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    """Run the campaign, build and report; then submit the same spec again, run, build and report."""
    root = tmp_path_factory.mktemp("surfaces") / "campaign"
    env = dict(os.environ, LI_CAMPAIGN_DIR=str(root), OMP_NUM_THREADS="1")
    li(env, "init")
    li(env, "submit", str(SPEC))
    first_run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    li(env, "build")
    first = json.loads(li(env, "report", "--json").stdout)
    refused = li(env, "submit", str(SPEC), check=False)
    li(env, "submit", str(SPEC), "--force")
    second_run = li(env, "run", "--workers", "2", "--no-progress", check=False)
    li(env, "build")
    second = json.loads(li(env, "report", "--json").stdout)
    return {"env": env, "runs": (first_run, second_run), "refused": refused, "first": first, "second": second}


def test_every_job_of_both_submissions_completed(twice):
    for run in twice["runs"]:
        assert run.returncode == 0, run.stdout + run.stderr
    status = json.loads(li(twice["env"], "status", "--json").stdout)
    assert set(status["states"]) == {"COMPLETED"} and status["failed"] == []


def test_report_has_every_facet_step_and_diffusivity(twice):
    report = twice["first"]
    rows = {row["facet"]: row for row in report["facets"]}
    assert sorted(rows) == FACETS
    for row in rows.values():
        assert row["hkl"] and row["surface_energy_J_m2"] > 0
        assert row["min_adsorption_energy_eV"] is not None and row["min_barrier_eV"] is not None
    assert sum(row["wulff_fraction"] for row in rows.values()) == pytest.approx(1.0)
    assert set(report["step_energy_eV_per_A"]) == {"100"} and report["step_energy_eV_per_A"]["100"] > 0
    classes = report["steps"]["100"]["min_adsorption_energy_eV"]
    assert set(classes["stepped"]) >= {"terrace", "step-edge-upper", "step-edge-lower"} and "kink" in classes["kinked"]
    edge = report["step_edges"]["100"]
    assert edge["step_edge_barrier_eV"] is not None and edge["terrace_barrier_eV"] == rows["100"]["min_barrier_eV"]
    assert set(report["diffusivity"]) == {"110"} and set(report["diffusivity"]["110"]) <= {"300", "500"}
    assert "110" in report["arrhenius"]
    for key in ("bep", "bep_high_index"):
        assert {"slope", "intercept", "r2", "spearman", "ci95", "n"} <= set(report[key])
    assert report["bep"]["n"] == len(FACETS)
    assert report["bep_high_index"]["n"] == sum(1 for f in FACETS if max(map(int, f)) > 1)


def test_resubmitting_the_same_campaign_adds_no_calculation(twice):
    assert twice["refused"].returncode != 0 and "--force" in twice["refused"].stderr + twice["refused"].stdout
    first, second = twice["first"], twice["second"]
    assert first["n_calculations"] > 40 and first["calculations"]["reused"] == 0
    assert second["n_calculations"] == first["n_calculations"]
    assert second["calculations"]["reused"] == first["n_calculations"]  # every calculation came back from the store
    assert second["facets"] == first["facets"] and second["bep"] == first["bep"]
