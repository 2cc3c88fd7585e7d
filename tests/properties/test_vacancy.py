"""Bulk vacancy of a Morse bcc crystal: formation energy vs supercell size, ⟨111⟩ CI-NEB, the Maker."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError

import li_campaign.properties.jobs as property_jobs
from li_campaign.properties.bulk import fit_bulk_eos
from li_campaign.properties.vacancy import vacancy_formation_energies, vacancy_migration
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.properties import BulkDoc, VacancyDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec, VacancySpec

SPEC = VacancySpec(
    supercell_sizes=[2, 3, 4],
    tolerance_eV=0.03,  # E_f: 1.89, 1.78, 1.76 eV for n = 2, 3, 4 (and 1.756 for n = 5)
    relax={"fmax_eV_A": 0.01, "optimizer": "LBFGS"},
    neb={"n_images": 3, "fmax_eV_A": 0.05, "max_steps": 200},
)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def bulk() -> dict:
    return fit_bulk_eos(morse(), 2.92, EosSpec())


@pytest.fixture(scope="module")
def formation(bulk) -> dict:
    return vacancy_formation_energies(morse(), bulk["lattice_constant_A"], SPEC)


def test_formation_energy_is_positive_and_converges_with_size(formation, bulk):
    sizes = formation["sizes"]
    assert [s["n_atoms"] for s in sizes] == [16, 54, 128]
    assert all(s["relax_converged"] for s in sizes)
    values = [s["formation_energy_eV"] for s in sizes]
    assert all(v > 0 for v in values)
    # relaxation lowers E_f below the unrelaxed broken-bond value; the N−1 reference uses ε_bulk
    for s in sizes:
        assert s["perfect_energy_eV"] == pytest.approx(s["n_atoms"] * bulk["energy_per_atom_eV"], abs=1e-3)
    steps = np.abs(np.diff(values))
    assert steps[1] < steps[0]  # the finite-size error shrinks with n
    assert formation["formation_energy_eV"] == values[-1]
    assert formation["convergence_eV"] == pytest.approx(steps[-1])
    assert formation["converged"] == (steps[-1] < SPEC.tolerance_eV)
    assert formation["converged"]


def test_migration_path_is_symmetric_with_a_positive_barrier(bulk):
    a0 = bulk["lattice_constant_A"]
    result = vacancy_migration(morse(), a0, 2, SPEC)
    assert result["converged"]
    assert result["barrier_eV"] > 0.05
    assert result["barrier_eV"] == pytest.approx(result["barrier_reverse_eV"], abs=SPEC.symmetry_tolerance_eV)
    assert result["symmetric"] and result["asymmetry_eV"] < SPEC.symmetry_tolerance_eV
    energies = result["image_energies_eV"]
    assert len(energies) == SPEC.neb.n_images + 2 and energies[0] == 0.0
    assert max(energies) == energies[len(energies) // 2]  # saddle at the midpoint of the hop
    assert result["hop_distance_A"] == pytest.approx(np.sqrt(3) * a0 / 2)
    assert len(result["images"]) == SPEC.neb.n_images + 2


def test_spec_validation():
    with pytest.raises(ValidationError, match="increasing"):
        VacancySpec(supercell_sizes=[3, 2])
    with pytest.raises(ValidationError, match="increasing"):
        VacancySpec(supercell_sizes=[1, 2])
    with pytest.raises(ValidationError, match="not one of"):
        VacancySpec(supercell_sizes=[2, 3], neb_supercell=4)
    assert VacancySpec.from_dict(SPEC.as_dict()) == SPEC


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_maker_routes_neb_images_to_the_data_store(bulk, monkeypatch):
    monkeypatch.setattr(property_jobs, "load_model", lambda model: morse())
    provenance = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64)
    model = ModelDoc.model_construct(sha256="a" * 64)
    bulk_doc = BulkDoc(source="mlip", **bulk, provenance=provenance)
    neb = SPEC.neb.model_copy(update={"n_images": 1})
    spec = SPEC.model_copy(update={"supercell_sizes": [2, 3], "neb_supercell": 2, "neb": neb})
    job = property_jobs.VacancyMaker(vacancy=spec, campaign="t", spec_hash="0" * 64).make(model, bulk_doc)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    raw = store.query_one({"uuid": job.uuid}, load=False)["output"]
    assert raw["neb_images"]["store"] == "data"
    doc = VacancyDoc.model_validate(store.get_output(job.uuid, load=True))
    assert doc.migration_supercell == 2 and len(doc.neb_images) == spec.neb.n_images + 2
    assert [s.n for s in doc.sizes] == [2, 3] and doc.formation_energy_eV > 0
    assert doc.migration_barrier_eV > 0 and doc.path_symmetric
    assert doc.provenance.model_sha256 == "a" * 64
