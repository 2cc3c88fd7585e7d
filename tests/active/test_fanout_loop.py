"""The active-learning loop on the fan-out's own configurations, in a whole (tiny) campaign run by jobflow.

Morse labels, tiny NequIP models, one facet: the campaign's model, its (100) fan-out and the teacher spot
checks, then a loop whose committees explore the fan-out's NEB images and slabs and are checked on the same
spot-check frames against the same teacher labels.
"""

from __future__ import annotations

import pytest
from li_campaign.builders import run_builders
from li_campaign.flows.campaign import CampaignMaker
from li_campaign.report import collect_report
from li_campaign.schemas.spec import ActiveLearningSpec, spec_from_dict
from tests.active.local_run import run_in_new_campaign

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Some jobs are not connected"),
]

SPEC = {
    "name": "al-fanout",
    "seed": 2,
    "training_set": {
        "lattice_constant_A": 3.575,
        "bulk": {"n_strained": 6, "max_strain": 0.05, "n_rattled": 4, "rattle_std_A": 0.08},
        "vacancy": None,
        "slabs": {"facets": ["100"], "min_slab_size_A": 5.0, "min_vacuum_A": 6.0, "n_perturbed": 0, "adatom": True,
                  "adatom_min_lateral_A": 5.0, "adatom_n_heights": 1},
    },
    "dft": {"engine": "morse", "morse": {"epsilon_eV": 0.1, "r0_A": 3.4, "rho0": 4.0, "cutoff_A": 6.0}, "pack_size": 100},
    "mlip": {"num_layers": 1, "num_features": 8, "radial_mlp_width": 16, "max_epochs": 60, "batch_size": 4,
             "loss_coeffs": {"total_energy": 10.0, "forces": 1.0, "stress": 1000.0}, "deploy": "eager",
             "max_train_energy_mae_meV_atom": None},  # as tests/data/pipeline_morse.yaml: its EOS has a minimum
    "fanout": {
        "facets": ["100"],
        "eos": {"max_strain": 0.04, "n_points": 5},
        "slab": {"min_slab_size_A": 5.0, "min_vacuum_A": 8.0, "min_lateral_A": 6.0, "fix_bottom_A": 1.5},
        "relax": {"fmax_eV_A": 0.1, "max_steps": 40, "optimizer": "FIRE"},
        "neb": {"n_images": 1, "fmax_eV_A": 0.2, "max_steps": 20, "climb": True},
        "neb_convergence": {"enabled": False},
        "mechanisms": {"exchange": False, "across_step": False},
    },
    "bulk": {"enabled": False},
    "active_learning": {
        "committee_size": 2,
        "max_iterations": 2,
        "max_epochs": 10,
        "trust_lower_eV_A": 1e-6,
        "trust_upper_eV_A": 1e3,
        "budget_per_iteration": 2,
        "explore_fanout": True,
        "exploration": {"bulk_supercell": 1, "bulk_temperatures_K": [300], "facets": [], "md_steps": 2,
                        "sample_every": 1, "relax_steps": 0, "hop_images": 0},
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return run_in_new_campaign(tmp_path_factory.mktemp("alf"), CampaignMaker(spec=spec_from_dict(SPEC)).make())


def test_each_iteration_explores_the_fanout_and_is_spot_checked_on_the_teacher_labels(campaign):
    _, store = campaign
    (validation,) = [d["output"] for d in store.query({"output.doc_type": "validation"}, properties=["output"])]
    teacher = {(c["quantity"], c["item"]): c["dft"] for c in validation["checks"] if c["facet"] is not None}
    assert teacher and all(v is not None for v in teacher.values())
    (diffusion,) = [r for d in store.query({"output.doc_type": "pack", "output.result_doc_types": "diffusion"},
                                           properties=["output"]) for r in d["output"]["results"] if r]  # fmt: skip
    n_images = sum(len(hop["images"]) for hop in diffusion["hops"] if hop.get("images"))
    docs = sorted(
        (d["output"] for d in store.query({"output.doc_type": "active_learning_iteration"}, properties=["output"])),
        key=lambda d: d["iteration"],
    )
    assert [d["iteration"] for d in docs] == list(range(len(docs))) and 1 <= len(docs) <= 2
    for doc in docs:
        assert doc["n_fanout_frames"] == n_images + 2 and doc["origins"].count("fanout_neb") == n_images
        assert {(c["quantity"], c["item"]) for c in doc["spot_checks"]} == set(teacher)
        for check in doc["spot_checks"]:  # the same frames and teacher labels as the campaign's spot checks
            assert check["dft"] == pytest.approx(teacher[(check["quantity"], check["item"])], abs=1e-9)
            assert check["status"] == ("pass" if abs(check["error"]) <= check["threshold"] else "fail")
        assert doc["spot_checks_passed"] == all(c["status"] == "pass" for c in doc["spot_checks"])
    assert docs[-1]["stop_reason"] in ("spot_checks_passed", "max_iterations")
    for doc in docs[:-1]:  # a committee that failed a check had the teacher label copies near its failing cells
        near = [s for s in doc["selected"] if s["origin"] == "spot_check_neighbourhood"]
        assert doc["spot_checks_passed"] or 0 < len(near) <= ActiveLearningSpec().near_check_budget
        failing = {f"{c['quantity']} ({c['facet']}) {c['item']}" for c in doc["spot_checks"] if c["status"] == "fail"}
        assert all(s["label"].split(" (error")[0] in failing for s in near)
    assert all(d["stop_reason"] is None for d in docs[:-1])


def test_report_lists_each_iterations_spot_checks(campaign):
    campaign, _ = campaign
    run_builders(campaign)
    rows = collect_report(campaign)["active_learning"]
    assert rows and all(isinstance(r["spot_checks_passed"], bool) for r in rows)
    assert all(set(r["spot_check_max_abs_error"]) <= {"adsorption_energy", "barrier", "surface_energy"} for r in rows)
    assert all(r["n_fanout_frames"] > 0 for r in rows)
