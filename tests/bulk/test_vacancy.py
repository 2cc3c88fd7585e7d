"""Bulk vacancy of a Morse bcc crystal: formation energy vs supercell size, ⟨111⟩ CI-NEB, the Maker."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from pymatgen.core import Structure
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError

from li_campaign.bulk import jobs as bulk_jobs
from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.bulk.vacancy import vacancy_formation_energies, vacancy_migration
from li_campaign.schemas.bulk import BulkDoc, VacancyDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec, VacancySpec
from tests.morse_reference import Morse

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


def bcc_supercell(a: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and cell of the n×n×n conventional bcc supercell, the atom at the origin first."""
    grid = np.array(np.meshgrid(*[np.arange(n)] * 3, indexing="ij")).reshape(3, -1).T
    return np.vstack([grid, grid + 0.5]) * a, np.eye(3) * n * a


def unrelaxed_formation_energy(a: float, n: int) -> float:
    """Broken-bond E_f of a pair potential: removing an atom (and its periodic copies) from the crystal
    costs −ε_bulk + ½ Σ_{T≠0} φ(|T|), T the translations of the n×n×n cell (only n = 2 reaches a copy)."""
    m = Morse()
    k = np.arange(-3, 4)
    translations = np.array(np.meshgrid(k, k, k, indexing="ij")).reshape(3, -1).T * n * a
    t = np.linalg.norm(translations, axis=1)
    return -m.bcc_energy_per_atom(a) + 0.5 * float(np.sum(m.pair(t[t > 0])))


def relaxed_formation_energy(a: float, n: int) -> float:
    """E(N−1, relaxed at fixed cell) − (N−1) ε_bulk by the independent Morse sums and minimiser."""
    positions, cell = bcc_supercell(a, n)
    energy, _ = Morse().relax(positions[1:], cell)
    return energy - (len(positions) - 1) * Morse().bcc_energy_per_atom(a)


def check_path(images: list, energies_eV: list[float], neb_fmax: float) -> None:
    """Endpoints are minima and the highest image a saddle of the independent Morse sum, whose
    energies (relative to the first image) are the reported ones."""
    structures = [s if isinstance(s, Structure) else Structure.from_dict(s) for s in images]
    reference = np.array([Morse().structure_energy(s) for s in structures])
    assert energies_eV == pytest.approx(reference - reference[0], abs=1e-6)
    forces = [np.linalg.norm(Morse().forces(s.cart_coords, s.lattice.matrix), axis=1).max() for s in structures]
    assert forces[0] < SPEC.relax.fmax_eV_A and forces[-1] < SPEC.relax.fmax_eV_A
    assert forces[int(np.argmax(reference))] < neb_fmax


def test_formation_energy_is_positive_and_converges_with_size(formation, bulk):
    sizes = formation["sizes"]
    assert [s["n_atoms"] for s in sizes] == [16, 54, 128]
    assert all(s["relax_converged"] for s in sizes)
    values = [s["formation_energy_eV"] for s in sizes]
    a = bulk["lattice_constant_A"]
    # the independent relaxation gives E_f = 1.892 eV (n = 2) and 1.783 eV (n = 3)
    assert values[:2] == pytest.approx([relaxed_formation_energy(a, 2), relaxed_formation_energy(a, 3)], abs=2e-3)
    # relaxation lowers E_f below the unrelaxed broken-bond value (2.18 eV), by 0.3–0.4 eV;
    # the N−1 reference uses ε_bulk
    for s, value in zip(sizes, values):
        assert 0.2 < unrelaxed_formation_energy(a, s["n"]) - value < 0.5
        assert s["perfect_energy_eV"] == pytest.approx(s["n_atoms"] * Morse().bcc_energy_per_atom(a), abs=1e-8)
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
    check_path(result["images"], result["image_energies_eV"], SPEC.neb.fmax_eV_A)
    assert result["barrier_eV"] == pytest.approx(max(result["image_energies_eV"]), abs=1e-12)
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
def test_maker_routes_neb_images_to_the_data_store(bulk, formation, monkeypatch):
    monkeypatch.setattr(bulk_jobs, "load_model", lambda model: morse())
    provenance = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64)
    model = ModelDoc.model_construct(sha256="a" * 64)
    bulk_doc = BulkDoc(source="mlip", **bulk, provenance=provenance)
    neb = SPEC.neb.model_copy(update={"n_images": 1})
    spec = SPEC.model_copy(update={"supercell_sizes": [2, 3], "neb_supercell": 2, "neb": neb})
    job = bulk_jobs.VacancyMaker(vacancy=spec, campaign="t", spec_hash="0" * 64).make(model, bulk_doc)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    raw = store.query_one({"uuid": job.uuid}, load=False)["output"]
    assert raw["neb_images"]["store"] == "data"
    doc = VacancyDoc.model_validate(store.get_output(job.uuid, load=True))
    assert doc.migration_supercell == 2 and len(doc.neb_images) == spec.neb.n_images + 2
    # the same relaxations as the direct call with the same settings: the same numbers
    assert [s.n for s in doc.sizes] == [2, 3]
    direct = [s["formation_energy_eV"] for s in formation["sizes"][:2]]
    assert [s.formation_energy_eV for s in doc.sizes] == pytest.approx(direct, abs=1e-9)
    assert doc.formation_energy_eV == doc.sizes[-1].formation_energy_eV
    energies = [Morse().structure_energy(image) for image in doc.neb_images]
    assert doc.migration_barrier_eV == pytest.approx(max(energies) - energies[0], abs=1e-6)
    assert doc.migration_barrier_eV > 0.05 and doc.path_symmetric
    assert doc.provenance.model_sha256 == "a" * 64
