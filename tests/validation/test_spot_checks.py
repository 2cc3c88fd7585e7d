"""Teacher spot checks end to end on (100) with a Morse teacher, against answers computed here.

The fan-out documents come from the real Makers with the Morse potential standing in for the
deployed model; the validation stage then labels the planned frames with the Morse *engine*
(the campaign's DFT teacher) and compares. Known answers:

- a model identical to the teacher: every error is zero and the checks pass; the teacher's
  values equal direct Morse pair sums (:mod:`tests.morse_reference`) of the frames, and the
  fan-out's own E_ads and γ (computed by other code at other geometries: the free relaxation,
  the EOS minimum) to a few meV;
- a model that is the teacher scaled by 1.3 (ε → 1.3 ε; every energy scales, the geometry does
  not): every error is exactly 0.3 × the teacher's value, and a check fails exactly when that
  exceeds its tolerance;
- a teacher whose clean-slab label is absurd: the checks that use it are refused, the frame is
  not offered for training, the others still run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from li_campaign.bulk import jobs as bulk_jobs
from li_campaign.dft import jobs as dft_jobs
from li_campaign.dft.jobs import DftBulkEosMaker
from li_campaign.kinetics import jobs as kinetics_jobs
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.kinetics import DiffusionDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import spec_from_dict
from li_campaign.schemas.surfaces import AdsorptionDoc, SurfaceEnergyDoc
from li_campaign.schemas.validation import ValidationDoc
from li_campaign.surfaces import jobs as surface_jobs
from li_campaign.validation import jobs as validation_jobs
from li_campaign.validation.plan import band_indices, plan_spot_checks
from tests.morse_reference import EV_PER_A2_IN_J_PER_M2, Morse

pytestmark = pytest.mark.filterwarnings("ignore:cd is deprecated")

SPEC = spec_from_dict(
    {
        "name": "spot",
        "dft": {"engine": "morse", "pack_size": 50},  # MorseSpec defaults: epsilon 0.2, r0 3.0, rho0 3.5, cutoff 6.0
        "fanout": {
            "facets": ["100"],
            "eos": {"max_strain": 0.03, "n_points": 7},
            "slab": {"min_slab_size_A": 4.0, "min_vacuum_A": 8.0, "min_lateral_A": 7.0, "fix_bottom_A": 1.0},
            "relax": {"fmax_eV_A": 0.01, "max_steps": 300, "optimizer": "LBFGS"},
            "neb": {"n_images": 3, "fmax_eV_A": 0.05, "max_steps": 200},
        },
        "validation": {"sites_per_facet": 2},
    }
)
SCALE = 1.3


def morse(scale: float = 1.0) -> MorsePotential:
    return MorsePotential(epsilon=0.2 * scale, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


def _run(job) -> JobStore:
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    return store


MODEL = ModelDoc(
    campaign="spot", architecture="nequip", sha256="a" * 64, deployed_path="/nonexistent.nequip.zip", deploy_mode="eager",
    package_path="/nonexistent.zip", package_sha256="b" * 64, split={"train": [], "val": [], "test": []},
    hyperparameters={}, training_wall_time_s=0, deploy_wall_time_s=0,
    holdout=HoldoutErrors(n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0),
    parity=ParityData(
        dft_energy_per_atom_eV=[], mlip_energy_per_atom_eV=[], dft_force_components_eV_A=[], mlip_force_components_eV_A=[]
    ),
    provenance=Provenance(campaign="spot", spec_hash="f" * 64, model_sha256="a" * 64),
)  # fmt: skip


@pytest.fixture(scope="module")
def fanout():
    """The (100) fan-out documents with the Morse potential as the model, and the teacher's EOS."""
    ctx = SPEC.provenance_context()
    fan = SPEC.fanout
    with pytest.MonkeyPatch.context() as patch:
        for module in (bulk_jobs, surface_jobs, kinetics_jobs):
            patch.setattr(module, "load_model", lambda model: morse())
        bulk_job = bulk_jobs.BulkLatticeMaker(eos=fan.eos, a_guess_A=2.92, **ctx).make(MODEL)
        bulk = BulkDoc.model_validate(_run(bulk_job).get_output(bulk_job.uuid, load=True))
        surface_job = surface_jobs.SurfaceEnergyMaker(slab=fan.slab, relax=fan.relax, **ctx).make(
            MODEL, bulk, (1, 0, 0)
        )
        surface = SurfaceEnergyDoc.model_validate(_run(surface_job).get_output(surface_job.uuid, load=True))
        sites_job = surface_jobs.AdsorptionSiteMaker(fanout=fan, **ctx).make(MODEL, bulk, (1, 0, 0))
        adsorption = AdsorptionDoc.model_validate(_run(sites_job).get_output(sites_job.uuid, load=True))
        neb_job = kinetics_jobs.SurfaceNebMaker(fanout=fan, **ctx).make(MODEL, adsorption)
        diffusion = DiffusionDoc.model_validate(_run(neb_job).get_output(neb_job.uuid, load=True))
    teacher_job = DftBulkEosMaker(dft=SPEC.dft, eos=fan.eos, a_guess_A=2.92, **ctx).make()
    teacher = BulkDoc.model_validate(_run(teacher_job).get_output(teacher_job.uuid, load=True))
    docs = {"surface": {"100": surface}, "adsorption": {"100": adsorption}, "diffusion": {"100": diffusion}}
    return {"bulk": bulk, "teacher": teacher, "docs": docs}


def _validate(fanout, scale: float, label=None, spec=SPEC) -> tuple[ValidationDoc, JobStore]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation_jobs, "load_model", lambda model: morse(scale))
        if label is not None:
            patch.setattr(dft_jobs, "label_atoms", label)
        job = validation_jobs.TeacherSpotCheckMaker(spec=spec).make(
            MODEL, fanout["bulk"], fanout["teacher"], fanout["docs"]
        )
        store = _run(job)
    doc = store.query_one({"output.doc_type": "validation"}, load=True)
    return ValidationDoc.model_validate(doc["output"]), store


@pytest.fixture(scope="module")
def exact(fanout):
    return _validate(fanout, 1.0)


@pytest.fixture(scope="module")
def scaled(fanout):
    return _validate(fanout, SCALE)


def _frames(store: JobStore) -> dict[str, dict]:
    return {doc["output"]["frame_id"]: doc["output"] for doc in _label_docs(store)}


def _label_docs(store: JobStore):
    for doc in store.query({"output.doc_type": "pack"}, load=True):
        for result in doc["output"]["results"]:
            if result is not None:
                yield {"output": result}


def test_the_plan_covers_sites_the_effective_hop_surface_energy_and_bulk(exact, fanout):
    doc, _ = exact
    by_quantity = {}
    for check in doc.checks:
        by_quantity.setdefault(check.quantity, []).append(check)
    stable = sorted(
        (s for s in fanout["docs"]["adsorption"]["100"].sites if s.stable), key=lambda s: s.free_adsorption_energy_eV
    )
    assert [c.item for c in by_quantity["adsorption_energy"]] == [s.label for s in stable[:2]]
    assert all(c.geometry == "relaxed NEB endpoint" for c in by_quantity["adsorption_energy"])
    diffusion = fanout["docs"]["diffusion"]["100"]
    assert len(by_quantity["barrier"]) == 1 and diffusion.effective_barrier_eV is not None
    assert by_quantity["barrier"][0].geometry.startswith("model's converged band (effective-barrier hop")
    assert [c.item for c in by_quantity["surface_energy"]] == ["slab"]
    assert sorted(c.quantity for c in doc.checks if c.facet is None) == ["bulk_modulus", "lattice_constant"]
    assert doc.engine == "morse" and doc.model_sha256 == "a" * 64


def test_a_model_identical_to_the_teacher_passes_with_zero_error(exact, fanout):
    doc, store = exact
    assert doc.passed and doc.n_checks == doc.n_passed == len(doc.checks) == 5
    assert doc.n_failed == doc.n_refused == doc.n_skipped == 0
    for check in doc.checks:
        assert check.status == "pass"
        assert check.error == pytest.approx(0.0, abs=1e-9 if check.facet else 2e-3), check
    # every frame is a training frame of origin "validation", offered for training
    frames = _frames(store)
    assert sorted(frames) == sorted(doc.frame_ids) and doc.refused_frames == {}
    assert {f["origin"] for f in frames.values()} == {"validation"}


def test_teacher_values_are_the_direct_pair_sums_of_the_frames(exact, fanout):
    doc, store = exact
    frames = _frames(store)
    reference = Morse()
    energy = {fid: reference.structure_energy(Structure.from_dict(f["structure"])) for fid, f in frames.items()}
    for fid, frame in frames.items():
        assert frame["energy_eV"] == pytest.approx(energy[fid], abs=1e-6)
    bulk_id = next(fid for fid in frames if fid.endswith(":bulk"))
    eps = energy[bulk_id] / 2
    surface = fanout["docs"]["surface"]["100"]
    adsorption = fanout["docs"]["adsorption"]["100"]
    for check in doc.checks:
        ids = [fid for fid in check.frame_ids if fid != bulk_id]
        if check.quantity == "adsorption_energy":
            adatom, slab = ids
            assert check.dft == pytest.approx(energy[adatom] - energy[slab] - eps, abs=1e-6)
            # the fan-out's free E_ads (its own relaxation and EOS reference) agrees to a few meV
            site = next(s for s in adsorption.sites if s.label == check.item)
            assert check.dft == pytest.approx(site.free_adsorption_energy_eV, abs=5e-3)
        elif check.quantity == "barrier":
            band = [energy[fid] for fid in ids]
            assert check.dft == pytest.approx(max(band) - band[0], abs=1e-6)
            assert check.dft == pytest.approx(check.model_reported, abs=1e-6)  # every image of the band was labelled
            assert 0.05 < check.dft < 1.0
        elif check.quantity == "surface_energy":
            (slab,) = ids
            n_atoms = frames[slab]["n_atoms"]
            expected = (energy[slab] - n_atoms * eps) / (2 * surface.area_A2) * EV_PER_A2_IN_J_PER_M2
            assert check.dft == pytest.approx(expected, abs=1e-6)
            assert check.dft == pytest.approx(surface.surface_energy_J_m2, abs=2e-3)
        elif check.quantity == "lattice_constant":
            assert check.dft == pytest.approx(reference.bcc_lattice_constant(), abs=2e-3)


def test_a_wrong_model_fails_by_exactly_its_error(scaled, exact):
    doc, _ = scaled
    reference = {(c.quantity, c.facet, c.item): c for c in exact[0].checks}
    assert not doc.passed and doc.n_failed >= 1
    for check in doc.checks:
        if check.facet is None:
            continue  # a0 and B0 come from the EOS fits, not from the validation frames
        truth = reference[(check.quantity, check.facet, check.item)]
        assert check.dft == pytest.approx(truth.dft, abs=1e-9)  # the teacher does not change
        assert check.error == pytest.approx((SCALE - 1.0) * truth.dft, abs=1e-9)
        assert check.status == ("pass" if abs((SCALE - 1.0) * truth.dft) <= check.threshold else "fail")
    assert {c.quantity for c in doc.checks if c.status == "fail"} >= {"adsorption_energy"}


def test_an_absurd_teacher_label_is_refused_and_not_offered_for_training(fanout):
    from li_campaign.dft.engines import label_atoms

    n_clean = fanout["docs"]["adsorption"]["100"].n_slab_atoms
    assert n_clean != fanout["docs"]["surface"]["100"].n_atoms  # only the adsorption checks use this cell

    def broken(atoms, dft, **kwargs):
        result = label_atoms(atoms, dft, **kwargs)
        if len(atoms) == n_clean:  # a "converged" SCF 40 eV/atom off
            result = dataclasses.replace(result, energy=result.energy + 40.0 * len(atoms))
        return result

    doc, _ = _validate(fanout, 1.0, label=broken)
    refused = [c for c in doc.checks if c.status == "refused"]
    assert [c.quantity for c in refused] == ["adsorption_energy"]  # (100) has one stable site: the hollow
    assert all("eV/atom from the bulk reference" in c.reason and c.model is None for c in refused)
    assert not doc.passed and doc.n_refused == 1 and doc.n_passed == doc.n_checks - 1
    (frame_id,) = doc.refused_frames
    assert frame_id.endswith(":100:clean-slab") and frame_id not in doc.frame_ids


def test_cells_above_max_atoms_are_thinned_to_their_top_layers_and_still_checked(fanout, exact):
    """The (100) adatom cell has 4 layers of 9 atoms + the adatom; with max_atoms 30 it keeps the top 3 layers."""
    spec = SPEC.model_copy(update={"validation": SPEC.validation.model_copy(update={"max_atoms": 30})})
    plan = plan_spot_checks(
        spec.validation, fanout["bulk"], *(fanout["docs"][k] for k in ("surface", "adsorption", "diffusion"))
    )
    requests = {r.name: r.structure for r in plan.requests}
    (ads,) = [c for c in plan.checks if c.quantity == "adsorption_energy"]
    adatom, clean = (requests[name] for name in ads.frames)
    full = fanout["docs"]["adsorption"]["100"].slab_structure
    assert len(full) == 36 and (len(adatom), len(clean)) == (28, 27)
    assert ads.frames[1].endswith(":clean-slab:top3") and "thinned to the top 3 layers" in ads.geometry
    z = np.sort(full.cart_coords[:, 2])
    top = full.cart_coords[full.cart_coords[:, 2] > z[8] + 0.1]
    removed = z[9] - z[0]  # the bottom layer's thickness with its gap: the cell is that much shorter
    # the top 27 atoms, unmoved relative to each other, in a cell shortened so that the vacuum is the fan-out's
    np.testing.assert_allclose(np.sort(clean.cart_coords[:, 2]), np.sort(top[:, 2]) - removed, atol=1e-9)
    assert clean.lattice.c == pytest.approx(full.lattice.c - removed, abs=1e-9)
    gap = lambda s: s.lattice.c - np.ptp(s.cart_coords[:, 2])  # noqa: E731
    assert gap(clean) == pytest.approx(gap(full), abs=1e-9)
    np.testing.assert_allclose(clean.lattice.matrix[:2], full.lattice.matrix[:2])  # same lateral cell, same coverage
    assert adatom.cart_coords[:, 2].max() > clean.cart_coords[:, 2].max() + 1.0  # the adatom is kept
    (barrier,) = [c for c in plan.checks if c.quantity == "barrier"]
    assert all(len(requests[name]) == 28 for name in barrier.frames)

    doc, _ = _validate(fanout, 1.0, spec=spec)  # the teacher labels the thinned cells: still zero error, still checked
    assert doc.passed and doc.n_skipped == 0
    thick = {(c.quantity, c.item): c.dft for c in exact[0].checks}
    (thin,) = [c for c in doc.checks if c.quantity == "adsorption_energy"]
    assert thin.error == pytest.approx(0.0, abs=1e-9)
    assert thin.dft != pytest.approx(thick[("adsorption_energy", thin.item)], abs=1e-6)  # another slab: its own E_ads

    spec = SPEC.model_copy(update={"validation": SPEC.validation.model_copy(update={"max_atoms": 20})})
    plan = plan_spot_checks(
        spec.validation, fanout["bulk"], *(fanout["docs"][k] for k in ("surface", "adsorption", "diffusion"))
    )
    skipped = [c for c in plan.checks if c.skip_reason]
    assert {c.quantity for c in skipped} == {"adsorption_energy", "barrier"}
    assert all("even with only the top 3 layers kept" in c.skip_reason for c in skipped)


@pytest.mark.parametrize(("scales", "passed"), [((0.9, 1.1), True), ((1.2, 1.4), False)])
def test_active_learning_explores_the_fanout_and_stops_when_its_committee_passes_the_spot_checks(
    fanout, exact, scales, passed
):
    """A committee of two Morse members scaled by ``scales``: its mean is the teacher scaled by their mean, so its
    spot-check errors are exactly (mean − 1) × the teacher's values, on the stored frames, with no new DFT."""
    from li_campaign.active import jobs as active_jobs
    from li_campaign.active.committee import CommitteeEvaluator
    from li_campaign.schemas.active import CommitteeDoc
    from li_campaign.schemas.frames import TrainingSetDoc
    from li_campaign.schemas.spec import ActiveLearningSpec

    exploration = {"bulk_supercell": 1, "bulk_temperatures_K": [300], "facets": [], "md_steps": 2, "relax_steps": 0,
                   "hop_images": 0, "sample_every": 1}  # fmt: skip
    al = ActiveLearningSpec(committee_size=2, explore_fanout=True, max_iterations=3, exploration=exploration)
    spec = SPEC.model_copy(update={"active_learning": al})
    validation, _ = exact
    committee = CommitteeDoc.model_construct(
        committee_id="spot:committee:iter0", members=[], holdout_frame_ids=[], holdout=MODEL.holdout
    )
    step = active_jobs.ExploreSelectMaker(spec=spec, iteration=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(active_jobs, "load_committee", lambda members: CommitteeEvaluator([morse(s) for s in scales]))
        doc = step._explore(
            committee, TrainingSetDoc.model_construct(n_frames=10), MODEL.provenance, fanout["docs"], validation
        )
    hops = fanout["docs"]["diffusion"]["100"].hops
    assert doc.n_fanout_frames == sum(len(h.images) for h in hops) + 2  # every band image, the two relaxed slabs
    assert doc.origins.count("fanout_neb") == sum(len(h.images) for h in hops) and doc.origins.count("fanout_slab") == 2
    fanout_sigma = [s for s, o in zip(doc.max_force_std_eV_A, doc.origins) if o.startswith("fanout")]
    assert min(fanout_sigma) >= 0 and max(fanout_sigma) > 0  # the members disagree on forces away from minima
    truth = {(c.quantity, c.item): c.dft for c in validation.checks if c.facet is not None}
    mean = float(np.mean(scales))
    assert len(doc.spot_checks) == len(truth)
    for check in doc.spot_checks:
        assert check.dft == pytest.approx(truth[(check.quantity, check.item)], abs=1e-9)
        assert check.error == pytest.approx((mean - 1.0) * check.dft, abs=1e-9)
    assert doc.spot_checks_passed is passed
    assert (doc.stop_reason == "spot_checks_passed") is passed


def test_a_short_band_check_keeps_the_models_saddle_and_a_shared_geometry_is_labelled_once(fanout):
    """max_band_images 3 on a hop between equivalent sites: start and the model's highest image (the end
    is the start by symmetry and is not labelled); the band's start is the site's own cell."""
    spec = SPEC.validation.model_copy(update={"max_band_images": 3})
    plan = plan_spot_checks(spec, fanout["bulk"], *(fanout["docs"][k] for k in ("surface", "adsorption", "diffusion")))
    (barrier,) = [c for c in plan.checks if c.quantity == "barrier"]
    (hop,) = [h for h in fanout["docs"]["diffusion"]["100"].hops if h.valid]
    assert len(hop.images) > 3 and len(hop.image_energies_eV) == len(hop.images)
    assert hop.start == hop.end  # hollow to hollow: the end's energy is the start's
    assert hop.image_energies_eV[-1] == pytest.approx(hop.image_energies_eV[0], abs=1e-3)
    peak = int(np.argmax(hop.image_energies_eV))
    requests = {r.name: r.structure for r in plan.requests}
    band = [requests[name] for name in barrier.frames]
    assert len(band) == 2 and 0 < peak < len(hop.images) - 1
    assert "the end is the start by symmetry" in barrier.geometry
    for structure, index in zip(band, (0, peak)):
        np.testing.assert_allclose(structure.cart_coords, hop.images[index].cart_coords, atol=1e-9)
    # the model's energies on the kept images give its reported barrier exactly (the saddle is kept)
    energies = [hop.image_energies_eV[i] for i in (0, peak)]
    assert max(energies) - energies[0] == pytest.approx(hop.barrier_forward_eV, abs=1e-9)
    # the hollow's adsorption check and the band start on the same relaxed endpoint: one frame, one label
    (ads,) = [c for c in plan.checks if c.quantity == "adsorption_energy" and c.item == hop.start]
    assert barrier.frames[0] == ads.frames[0]
    assert len(plan.requests) == len({name for c in plan.checks for name in c.frames} | {"bulk"})


@pytest.mark.parametrize(
    ("n_images", "most", "peak", "symmetric", "expected"),
    [
        (7, 3, 3, False, [0, 3, 6]),  # start, saddle, end
        (7, 3, 2, False, [0, 2, 6]),  # the model's saddle replaces the evenly spaced middle
        (7, 3, 3, True, [0, 3]),  # equivalent sites: the end is the start by symmetry
        (7, 9, 4, True, [0, 1, 2, 3, 4, 5]),  # short band, all but the symmetric end
        (7, 9, 4, False, [0, 1, 2, 3, 4, 5, 6]),
        (7, 3, 6, True, [0, 3, 6]),  # the highest image is the end (an uphill band): kept
    ],
)
def test_band_indices(n_images, most, peak, symmetric, expected):
    assert band_indices(n_images, most, peak, symmetric=symmetric) == expected


def test_relaxed_adsorption_checks_relax_both_cells_with_teacher_and_model(fanout):
    """relax_adsorption: the teacher's relaxed E_ads equals an independent ASE relaxation of the same two cells."""
    from ase.optimize import BFGS

    from li_campaign.simulation.relax import structure_to_atoms

    relax = {"fmax_eV_A": 0.002, "max_steps": 200, "optimizer": "BFGS"}
    spec = SPEC.model_copy(
        update={"validation": SPEC.validation.model_copy(update={"relax_adsorption": True, "relax": relax})}
    )
    spec = spec_from_dict(spec.model_dump(mode="json"))  # the nested RelaxSpec validated as from a file
    exact, store = _validate(fanout, 1.0, spec=spec)
    scaled, _ = _validate(fanout, SCALE, spec=spec)
    plan = exact.plan
    relaxed = [c for c in exact.checks if c.quantity == "relaxed_adsorption_energy"]
    single = {c.item: c for c in exact.checks if c.quantity == "adsorption_energy"}
    assert [c.item for c in relaxed] == list(single) and all(c.status == "pass" for c in relaxed)
    requests = {r.name: r for r in plan.requests}
    by_item = {c.item: c for c in plan.checks if c.quantity == "relaxed_adsorption_energy"}
    bulk_eps = exact.teacher_energies["bulk"].energy_eV / 2

    def ase_relaxed(structure) -> float:  # independent: ASE BFGS with the Morse teacher, fixed atoms held
        atoms = structure_to_atoms(structure)
        atoms.calc = morse()
        BFGS(atoms, logfile=None).run(fmax=0.002, steps=200)
        return float(atoms.get_potential_energy())

    for check in relaxed:
        adatom, slab = (requests[name] for name in by_item[check.item].frames)
        assert adatom.relax and slab.relax and adatom.name.endswith(":relaxed")
        expected = ase_relaxed(adatom.structure) - ase_relaxed(slab.structure) - bulk_eps
        assert check.dft == pytest.approx(expected, abs=1e-5)
        assert check.error == pytest.approx(0.0, abs=1e-5)  # model = teacher: the same relaxation
        # the start was the model's own minimum at fmax 0.02 (fan-out): the relaxation moves the energy a little
        assert check.dft == pytest.approx(single[check.item].dft, abs=0.02)
    # a relaxation is stored as the teacher's trajectory frames, the last one's id on the check
    batches = [d for d in store.query({"output.doc_type": "pack"}, load=True)]
    trajectories = [r for d in batches for r in d["output"]["results"] if r and r.get("doc_type") == "training_frames"]
    assert len(trajectories) == 2 * len(relaxed) - (len(relaxed) - 1)  # the clean slab is shared by the sites
    # the 1.3x model relaxes to the same minimum: its error is 0.3 x the teacher's relaxed E_ads
    for check in (c for c in scaled.checks if c.quantity == "relaxed_adsorption_energy"):
        truth = next(c for c in relaxed if c.item == check.item)
        assert check.error == pytest.approx((SCALE - 1.0) * truth.dft, abs=2e-4)
