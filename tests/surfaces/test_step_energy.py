"""Step formation energy and step/kink self-adsorption with the Morse pair potential; the three Makers."""

from __future__ import annotations

import re

import pytest
from ase.calculators.morse import MorsePotential
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.hashing import structure_hash
from li_campaign.geometry.steps import stepped_slab
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec, FacetEnumerationSpec, RelaxSpec, StepSpec
from li_campaign.schemas.surfaces import ConvergedSurfaceEnergyDoc, StepAdsorptionDoc, StepEnergyDoc, SurfaceEnergyDoc
from li_campaign.surfaces import jobs as surface_jobs
from li_campaign.surfaces.step_energy import step_adsorption, step_formation_energy
from tests.morse_reference import Morse

RELAX = RelaxSpec(fmax_eV_A=0.01, max_steps=300, optimizer="LBFGS")


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def bulk():
    return fit_bulk_eos(morse(), 2.92, EosSpec())


def reference_step_energy(slab, a: float) -> float:
    """λ = (E_stepped − E_flat + n_removed ε_bulk) / (n_steps L) from independent relaxations of both slabs
    (bottom planes held as flagged) and the bcc lattice sum."""
    stepped, _ = Morse().relax_structure(slab.structure)
    flat, _ = Morse().relax_structure(slab.flat)
    return (stepped - flat + slab.n_removed * Morse().bcc_energy_per_atom(a)) / (slab.n_steps * slab.step_length_A)


@pytest.mark.parametrize("terrace", [(1, 0, 0), (1, 1, 0)])
def test_step_energy_matches_independent_relaxation_and_is_width_independent(bulk, terrace):
    a, eps = bulk["lattice_constant_A"], bulk["energy_per_atom_eV"]
    slabs = {w: stepped_slab(a, terrace, w, 5.0, 8.0) for w in (4, 5)}
    results = {w: step_formation_energy(morse(), slab, eps, RELAX) for w, slab in slabs.items()}
    for w, result in results.items():
        assert result["relax_converged"]
        # independent: 0.0590 / 0.0581 eV/Å on (100), 0.0929 / 0.0911 eV/Å on (110) for w = 4 / 5
        assert result["step_energy_eV_per_A"] == pytest.approx(reference_step_energy(slabs[w], a), abs=1e-4)
        excess = result["stepped_energy_eV"] - result["flat_energy_eV"] + w * eps  # w atoms removed per cell
        assert result["step_energy_eV_per_A"] == pytest.approx(excess / (2 * result["step_length_A"]))
    # step–step interaction across a 4- or 5-row terrace changes λ by a few per cent only
    assert results[4]["step_energy_eV_per_A"] == pytest.approx(results[5]["step_energy_eV_per_A"], rel=0.05)


def test_adsorption_prefers_the_step_foot_and_the_kink(bulk):
    a, eps = bulk["lattice_constant_A"], bulk["energy_per_atom_eV"]
    stepped = step_adsorption(morse(), stepped_slab(a, (1, 0, 0), 3, 4.0, 8.0, n_along=2), eps, RELAX)
    energy = {site["label"]: site["adsorption_energy_eV"] for site in stepped["sites"]}
    assert set(energy) == {"terrace-0", "step-edge-upper-0", "step-edge-lower-0"}  # 3 rows: no upper terrace site
    assert all(site["stable"] and site["relax_converged"] for site in stepped["sites"])
    # more neighbours, lower energy: step foot < terrace; the upper edge has the fewest
    assert energy["step-edge-lower-0"] < energy["terrace-0"] < energy["step-edge-upper-0"]
    assert stepped["min_site"] == "step-edge-lower-0"
    kinked = step_adsorption(morse(), stepped_slab(a, (1, 0, 0), 3, 4.0, 8.0, n_along=4, kinked=True), eps, RELAX, ("kink",))
    (kink,) = kinked["sites"]
    # the half-crystal position binds like an atom of the bulk: E_ads ≈ 0, below the step foot
    assert kink["label"] == "kink-0" and abs(kink["adsorption_energy_eV"]) < 0.15
    assert kink["adsorption_energy_eV"] < energy["step-edge-lower-0"]


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_makers_return_documents(bulk, monkeypatch):
    monkeypatch.setattr(surface_jobs, "load_model", lambda model: morse())
    provenance = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64)
    model = ModelDoc.model_construct(sha256="a" * 64)
    bulk_doc = BulkDoc(source="mlip", **bulk, provenance=provenance)
    step = StepSpec(terrace_width_rows=3, slab_thickness_A=4.0, vacuum_A=8.0, min_lateral_A=4.0)
    enumeration = FacetEnumerationSpec(
        start_thickness_A=4.0, thickness_step_A=2.0, max_thickness_A=8.0, vacuum_A=8.0, vacuum_step_A=2.0, max_vacuum_A=10.0
    )
    common = {"relax": RELAX, "campaign": "t", "spec_hash": "0" * 64}
    jobs = [
        surface_jobs.ConvergedSurfaceEnergyMaker(enumeration=enumeration, **common).make(model, bulk_doc, (1, 1, 0)),
        surface_jobs.StepEnergyMaker(step=step, **common).make(model, bulk_doc, (1, 1, 0)),
        surface_jobs.StepAdsorptionMaker(step=step, **common).make(model, bulk_doc, (1, 0, 0), kinked=True),
    ]
    store = JobStore(MemoryStore())
    run_locally(Flow(jobs), store=store, log=False, ensure_success=True)
    gamma, lam, ads = (store.get_output(job.uuid, load=True) for job in jobs)

    gamma = ConvergedSurfaceEnergyDoc.model_validate(gamma)
    assert gamma.doc_type == "surface_energy" and gamma.facet == "110" and not gamma.high_index
    assert SurfaceEnergyDoc.model_validate(gamma.model_dump()).surface_energy_J_m2 == gamma.surface_energy_J_m2
    assert gamma.thickness_series[-1].n_layers == gamma.n_layers and gamma.n_terminations == 1

    lam = StepEnergyDoc.model_validate(lam)
    assert lam.doc_type == "step_energy" and lam.terrace == "110" and lam.step_direction_family == "<111>"
    assert lam.geometry.n_steps == 2 and lam.geometry.terrace_width_rows == 3
    built = stepped_slab(bulk["lattice_constant_A"], (1, 1, 0), 3, 4.0, 8.0, step.fix_bottom_layers, 1, False)
    assert lam.step_energy_eV_per_A == pytest.approx(reference_step_energy(built, bulk["lattice_constant_A"]), abs=1e-4)
    assert lam.provenance.structure_hash == structure_hash(built.structure)

    ads = StepAdsorptionDoc.model_validate(ads)
    assert ads.doc_type == "step_adsorption" and ads.kind == "kinked" and [s.label for s in ads.sites] == ["kink-0"]
    assert ads.geometry.n_along == step.kink_spacing_atoms
    for doc in (gamma, lam, ads):
        assert doc.provenance.model_sha256 == "a" * 64 and len(doc.provenance.calc_key) == 64
        assert re.fullmatch("[0-9a-f]{64}", doc.provenance.structure_hash)  # sha256 hex digest
    assert len({gamma.provenance.calc_key, lam.provenance.calc_key, ads.provenance.calc_key}) == 3
