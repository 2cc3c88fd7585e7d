"""Harmonic phonons of bcc Li with a Morse potential, against a lattice-sum dynamical matrix."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential, fcut
from ase.units import kB, kJ, mol
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError

from li_campaign.bulk import jobs as bulk_jobs
from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.bulk.phonons import harmonic_phonons
from li_campaign.schemas.bulk import BulkDoc, PhononDoc
from li_campaign.schemas.models import HoldoutErrors, ModelDoc, ParityData
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec, PhononSpec

EPS, R0, RHO0, RC1, RC2 = 0.2, 3.0, 3.5, 1.6, 2.0  # cutoff 4.8–6.0 Å
MASS_LI = 6.941  # amu, phonopy's Li mass
R_GAS = kB * mol / kJ * 1e3  # J/(K mol)
H_EV_THZ = 4.135667696e-3  # Planck constant, eV/THz
THZ_PER_SQRT_EV_A2_AMU = np.sqrt(1.602176634e-19 / 1.66053906660e-27 / 1e-20) / (2 * np.pi) / 1e12
SPEC = PhononSpec(
    supercell=(2, 2, 2),
    mesh=(12, 12, 12),
    band_points_per_segment=21,
    temperatures_K=[2.0, 299.0, 300.0, 301.0, 3000.0],
)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=EPS, r0=R0, rho0=RHO0, rcut1=RC1, rcut2=RC2)


def pair(r: np.ndarray) -> np.ndarray:
    expf = np.exp(RHO0 * (1.0 - r / R0))
    return EPS * expf * (expf - 2.0) * fcut(r, RC1 * R0, RC2 * R0)


def lattice_sum_frequencies(a: float, q_conv: tuple[float, float, float]) -> np.ndarray:
    """Frequencies (THz, imaginary < 0) of the pair-potential dynamical matrix, summed over bcc neighbours.

    D(q) = (1/M) Σ_R (1 − cos q·R) [φ'' R̂R̂ + (φ'/r)(1 − R̂R̂)], with q in units of 2π/a
    (conventional cubic basis); φ' and φ'' by central differences.
    """
    n = np.arange(-4, 5)
    grid = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
    vectors = np.vstack([grid, grid + 0.5]) * a
    r = np.linalg.norm(vectors, axis=1)
    keep = (r > 1e-9) & (r < RC2 * R0)
    vectors, r = vectors[keep], r[keep]
    h = 1e-4
    d1 = (pair(r + h) - pair(r - h)) / (2 * h)
    d2 = (pair(r + h) - 2 * pair(r) + pair(r - h)) / h**2
    unit = vectors / r[:, None]
    weight = 1.0 - np.cos(vectors @ (2 * np.pi / a * np.asarray(q_conv)))
    dyn = np.einsum("n,n,ni,nj->ij", weight, d2 - d1 / r, unit, unit) + np.eye(3) * np.sum(weight * d1 / r)
    eig = np.linalg.eigvalsh(dyn / MASS_LI)
    return np.sign(eig) * np.sqrt(np.abs(eig)) * THZ_PER_SQRT_EV_A2_AMU


@pytest.fixture(scope="module")
def a0() -> float:
    return fit_bulk_eos(morse(), 2.95, EosSpec())["lattice_constant_A"]


@pytest.fixture(scope="module")
def result(a0) -> dict:
    return harmonic_phonons(morse(), a0, SPEC)


def test_band_starts_at_gamma_with_acoustic_modes_at_zero(result, a0):
    band = result["band"]
    assert band["labels"] == ["Γ", "H", "P", "Γ", "N"]
    assert band["qpoints_primitive"][0] == [0.0, 0.0, 0.0]
    assert np.max(np.abs(band["frequencies_THz"][0])) < 0.05
    assert band["distances_inv_A"][0] == 0.0
    assert np.all(np.diff(band["distances_inv_A"]) >= 0)
    # Γ–H–P–Γ–N in units of 1/a (no 2π): segment lengths 1, √3/2, √3/2, 1/√2 of the conventional cube
    expected = np.cumsum([0.0, 1.0, np.sqrt(0.75), np.sqrt(0.75), np.sqrt(0.5)]) / a0
    assert band["label_distances_inv_A"] == pytest.approx(expected, rel=1e-9)
    assert band["label_distances_inv_A"][-1] == pytest.approx(band["distances_inv_A"][-1])
    assert len(band["frequencies_THz"]) == 4 * SPEC.band_points_per_segment


def test_special_points_match_the_lattice_sum(result, a0):
    # H, N, P are commensurate with the 2x2x2 supercell, so its force constants are exact there
    points = {"H": (0.0, 1.0, 0.0), "N": (0.5, 0.5, 0.0), "P": (0.5, 0.5, 0.5)}
    for label, q in points.items():
        assert result["frequencies_THz"][label] == pytest.approx(lattice_sum_frequencies(a0, q), rel=1e-3)
    for label in ("H", "P"):  # full cubic point group: the three branches are degenerate
        freqs = result["frequencies_THz"][label]
        assert max(freqs) - min(freqs) < 1e-6 * max(freqs)
    n_freqs = result["frequencies_THz"]["N"]
    assert n_freqs[0] > 0 and n_freqs[1] - n_freqs[0] > 1.0 and n_freqs[2] - n_freqs[1] > 1.0
    assert 5.0 < result["frequencies_THz"]["H"][0] < 40.0
    assert result["min_frequency_THz"] > -SPEC.imaginary_tolerance_THz
    assert not result["imaginary_modes"]


def test_dos_holds_three_modes_per_atom(result):
    dos = result["dos"]
    assert np.trapezoid(dos["dos_states_THz"], dos["frequencies_THz"]) == pytest.approx(3.0, rel=0.01)


def test_thermal_limits_and_consistency(result):
    thermal = result["thermal"]
    assert thermal["temperatures_K"] == SPEC.temperatures_K
    cv = np.array(thermal["heat_capacity_J_K_mol"])
    free = np.array(thermal["free_energy_kJ_mol"])
    entropy = np.array(thermal["entropy_J_K_mol"])
    assert cv[-1] == pytest.approx(3 * R_GAS, rel=0.01)  # Dulong–Petit at 3000 K
    assert cv[0] < 1e-6 * 3 * R_GAS
    # harmonic C_V = R ∫ g(ν) x² eˣ / (eˣ − 1)² dν, x = hν / k_B T, summed over the returned DOS (3 modes per atom)
    freqs, states = np.array(result["dos"]["frequencies_THz"]), np.array(result["dos"]["dos_states_THz"])
    for temperature, value in zip(thermal["temperatures_K"][1:], cv[1:]):
        x = H_EV_THZ * freqs[freqs > 0] / (kB * temperature)
        einstein = x**2 * np.exp(x) / np.expm1(x) ** 2
        assert value == pytest.approx(R_GAS * np.trapezoid(states[freqs > 0] * einstein, freqs[freqs > 0]), rel=2e-3)
    assert entropy[2] == pytest.approx(-(free[3] - free[1]) * 1e3 / 2.0, rel=1e-3)  # S = −∂F/∂T
    # zero-point energy from the DOS: F(T → 0) = N_A Σ h f / 2
    dos = result["dos"]
    freqs = np.array(dos["frequencies_THz"])
    zpe_ev = 0.5 * H_EV_THZ * np.trapezoid(np.array(dos["dos_states_THz"]) * freqs, freqs)
    assert free[0] == pytest.approx(zpe_ev * mol / kJ, rel=0.01)


def test_expanded_lattice_is_unstable_at_n_and_recorded(a0):
    spec = PhononSpec(supercell=(2, 2, 2), mesh=(8, 8, 8), band_points_per_segment=11, temperatures_K=[300.0])
    unstable = harmonic_phonons(morse(), 1.1 * a0, spec)
    expected = lattice_sum_frequencies(1.1 * a0, (0.5, 0.5, 0.0))
    assert expected[0] < 0
    assert unstable["frequencies_THz"]["N"] == pytest.approx(expected, rel=1e-3)
    assert unstable["imaginary_modes"] is True
    assert unstable["min_frequency_THz"] <= expected[0] + 1e-6


def test_spec_rejects_bad_values():
    with pytest.raises(ValidationError, match="at least 1"):
        PhononSpec(supercell=(0, 2, 2))
    with pytest.raises(ValidationError, match=">= 0 K"):
        PhononSpec(temperatures_K=[-5.0, 100.0])
    assert PhononSpec.from_dict(PhononSpec().as_dict()) == PhononSpec()


def _provenance() -> Provenance:
    return Provenance(campaign="phonon-test", spec_hash="0" * 64, model_sha256="a" * 64)


@job
def model_job() -> ModelDoc:
    return ModelDoc(
        campaign="phonon-test",
        architecture="morse",
        sha256="a" * 64,
        deployed_path="/models/morse",
        deploy_mode="eager",
        package_path="/models/morse",
        package_sha256="a" * 64,
        split={"train": [], "val": [], "test": []},
        hyperparameters={},
        holdout=HoldoutErrors(
            n_frames=0, energy_mae_meV_atom=0, energy_rmse_meV_atom=0, force_mae_meV_A=0, force_rmse_meV_A=0
        ),
        parity=ParityData(
            dft_energy_per_atom_eV=[],
            mlip_energy_per_atom_eV=[],
            dft_force_components_eV_A=[],
            mlip_force_components_eV_A=[],
        ),
        training_wall_time_s=0.0,
        deploy_wall_time_s=0.0,
        provenance=_provenance(),
    )


@job
def bulk_job(a: float) -> BulkDoc:
    return BulkDoc(
        lattice_constant_A=a,
        energy_per_atom_eV=-1.0,
        bulk_modulus_GPa=10.0,
        volumes_A3_atom=[],
        energies_eV_atom=[],
        provenance=_provenance(),
    )


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_maker_round_trips_through_a_job_store_with_band_and_dos_in_the_data_store(a0, monkeypatch):
    monkeypatch.setattr(bulk_jobs, "load_model", lambda model: morse())
    spec = PhononSpec(supercell=(2, 2, 2), mesh=(6, 6, 6), band_points_per_segment=5, temperatures_K=[300.0])
    model, bulk = model_job(), bulk_job(a0)
    phonons = bulk_jobs.PhononMaker(phonons=spec, campaign="phonon-test", spec_hash="0" * 64).make(
        model.output, bulk.output
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(Flow([model, bulk, phonons]), store=store, log=False, ensure_success=True)

    raw = store.query_one({"uuid": phonons.uuid}, load=False)["output"]
    assert raw["band"]["store"] == raw["dos"]["store"] == "data"  # references to blobs, not the arrays
    assert store.additional_stores["data"].count() == 2
    assert raw["frequencies_THz"]["H"] == pytest.approx(lattice_sum_frequencies(a0, (0, 1, 0)), rel=1e-3)
    doc = PhononDoc.model_validate(store.get_output(phonons.uuid, load=True))
    assert doc.band.labels == ["Γ", "H", "P", "Γ", "N"]
    assert len(doc.band.frequencies_THz) == 4 * spec.band_points_per_segment
    assert doc.provenance.model_sha256 == "a" * 64
    assert doc.supercell == (2, 2, 2) and doc.n_supercell_atoms == 16 and doc.n_displacements == 1
