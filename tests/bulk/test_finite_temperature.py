"""Finite-temperature MD of bcc Li (Morse, 16 atoms): Cij(T→0) against static strains, C_V, restarts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.morse import MorsePotential
from ase.units import GPa
from scipy.optimize import brentq

from li_campaign.bulk.finite_temperature import (
    block_average,
    finite_temperature_properties,
    strain_deformation,
)
from li_campaign.bulk.jobs import FiniteTemperatureMaker
from li_campaign.schemas.bulk import FiniteTemperatureDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import FiniteTemperatureSpec
from tests.morse_reference import Morse


def morse() -> MorsePotential:
    """Morse pair potential with a short cutoff (3.6–4.5 Å: two neighbour shells), 6 ms per 16-atom step.

    The engine's Morse (``DftSpec(engine="morse")``) reaches 18 Å and is 20x slower per step.
    """
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.2, rcut2=1.5)


def pressure_GPa(a: float) -> float:
    atoms = bulk("Li", "bcc", a=a, cubic=True)
    atoms.calc = morse()
    return float(-atoms.get_stress()[:3].mean() / GPa)


A0 = brentq(pressure_GPa, 3.2, 3.4, xtol=1e-10)  # static zero-pressure lattice constant, 3.3175 Å


def static_cij(a: float, delta: float = 1e-4) -> tuple[float, float, float]:
    """0 K C11, C12, C44 (GPa) by central differences of the stress under tensor strains ε_xx and ε_yz = ε_zy."""
    atoms = bulk("Li", "bcc", a=a, cubic=True)

    def stress(eps: np.ndarray) -> np.ndarray:
        strained = atoms.copy()
        strained.set_cell(atoms.cell @ (np.eye(3) + eps), scale_atoms=True)
        strained.calc = morse()
        return strained.get_stress(voigt=False)

    normal, shear = np.zeros((3, 3)), np.zeros((3, 3))
    normal[0, 0] = delta
    shear[1, 2] = shear[2, 1] = delta
    dn = (stress(normal) - stress(-normal)) / (2 * delta) / GPa
    ds = (stress(shear) - stress(-shear)) / (2 * delta) / GPa
    return float(dn[0, 0]), float(dn[1, 1]), float(ds[1, 2] / 2)  # C44 = σ_yz / γ_yz, γ_yz = 2 ε_yz


LOW_T = FiniteTemperatureSpec(
    temperatures_K=[20.0],
    supercell=2,
    strain=0.01,
    strain_axes=1,
    npt_equilibration_steps=200,
    npt_production_steps=300,
    nvt_equilibration_steps=20,
    nvt_production_steps=400,
    n_blocks=8,
    thermostat_tau_fs=10.0,
    barostat_tau_fs=200.0,
    trajectory_every=50,
)


@pytest.fixture(scope="module")
def low_t(tmp_path_factory):
    return finite_temperature_properties(morse(), A0, 20.0, LOW_T, tmp_path_factory.mktemp("ft"))


def test_static_reference_obeys_cauchy():
    # the zero-pressure lattice constant is the minimum of the independent bcc lattice sum
    assert A0 == pytest.approx(Morse(rcut1=1.2, rcut2=1.5).bcc_lattice_constant((3.0, 3.6)), abs=1e-6)
    c11, c12, c44 = static_cij(A0)
    assert c12 == pytest.approx(c44, rel=1e-3)  # central pair potential at zero pressure
    # and the stress differences give the Born lattice sums: C11 = 38.71, C12 = C44 = 27.78 GPa
    born = Morse(rcut1=1.2, rcut2=1.5).bcc_cubic_constants_GPa(A0)
    assert (c11, c12, c44) == pytest.approx(born, rel=1e-5)


def test_low_temperature_elastic_constants_match_static(low_t):
    c11, c12, c44 = static_cij(A0)
    for key, ref in (("C11", c11), ("C12", c12), ("C44", c44)):
        assert low_t[f"{key}_GPa"] == pytest.approx(ref, rel=0.03), key
        assert 0 < low_t[f"{key}_err_GPa"] < 0.5
    assert low_t["C11_GPa"] > low_t["C12_GPa"] > 0 and low_t["C44_GPa"] > 0
    assert low_t["born_stable"]
    assert low_t["bulk_modulus_GPa"] == pytest.approx((c11 + 2 * c12) / 3, rel=0.03)
    assert low_t["lattice_constant_A"] == pytest.approx(A0, abs=0.01)
    assert abs(low_t["residual_pressure_GPa"]) < 0.1


def test_heat_capacity_is_near_the_classical_harmonic_value(low_t):
    assert low_t["heat_capacity_harmonic_kB_per_atom"] == pytest.approx(3 - 1.5 / 16)
    cv, err = low_t["heat_capacity_kB_per_atom"], low_t["heat_capacity_err_kB_per_atom"]
    assert 0 < err < 1.0
    assert abs(cv - low_t["heat_capacity_harmonic_kB_per_atom"]) < 3 * err + 0.3
    assert low_t["kinetic_temperature_K"] == pytest.approx(20.0, rel=0.15)


def test_document_convergence_record_and_trajectory(low_t):
    doc = FiniteTemperatureDoc(**low_t, provenance=Provenance(campaign="t", spec_hash="h"))
    conv = doc.convergence
    assert set(conv.observables) == {"lattice_constant_A", "C11_GPa", "C12_GPa", "C44_GPa", "heat_capacity_kB_per_atom"}
    assert conv.n_blocks == 8 and conv.block_length_fs == 50.0
    assert conv.converged == (not conv.reasons)
    assert conv.observables["C11_GPa"].value == doc.C11_GPa
    runs = doc.trajectory["runs"]
    assert set(runs) == {"npt", "nvt", "nvt_x+", "nvt_x-"}
    assert runs["npt"]["step"] == list(range(50, 501, 50))
    assert np.shape(runs["nvt_x+"]["positions_A"]) == (8, 16, 3)
    assert doc.md_steps == 500 + 3 * 420
    # without the trajectory (data store) the document is small
    assert len(json.dumps(doc.model_dump(mode="json", exclude={"trajectory"}))) < 20_000
    assert FiniteTemperatureMaker().make(None, None, 20.0)._kwargs == {"data": "trajectory"}


class Walltime(Exception):
    """Stands for the batch system killing the job."""


class KilledMorse(MorsePotential):
    """Morse that dies at its ``kill_at``-th evaluation."""

    def __init__(self, kill_at: int | None):
        super().__init__(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.2, rcut2=1.5)
        self.kill_at, self.calls = kill_at, 0

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.kill_at:
            raise Walltime
        super().calculate(*args, **kwargs)


TINY = FiniteTemperatureSpec(
    supercell=2,
    strain_axes=1,
    npt_equilibration_steps=30,
    npt_production_steps=40,
    nvt_equilibration_steps=4,
    nvt_production_steps=16,
    n_blocks=4,
    barostat_tau_fs=100.0,
    checkpoint_every=8,
    trajectory_every=5,
)


def test_killed_run_resumes_from_its_checkpoint_and_matches(tmp_path):
    reference = finite_temperature_properties(KilledMorse(None), A0, 150.0, TINY, tmp_path / "ref")
    # kill 1: NPT step 50 (checkpoint at 48); kill 2: step 13 of nvt_x+ (checkpoint at 8)
    with pytest.raises(Walltime):
        finite_temperature_properties(KilledMorse(51), A0, 150.0, TINY, tmp_path / "job")
    with pytest.raises(Walltime):
        finite_temperature_properties(KilledMorse(23 + 21 + 14), A0, 150.0, TINY, tmp_path / "job")
    calc = KilledMorse(None)
    resumed = finite_temperature_properties(calc, A0, 150.0, TINY, tmp_path / "job")
    assert resumed["restarts"] == ["npt: read back finished", "nvt: read back finished", "nvt_x+: resumed at step 8"]
    assert resumed["md_steps"] == (20 - 8) + 20
    keys = ("lattice_constant_A", "C11_GPa", "C12_GPa", "C44_GPa", "heat_capacity_kB_per_atom", "residual_pressure_GPa")
    for key in keys:
        assert resumed[key] == reference[key], key
    assert resumed["trajectory"] == reference["trajectory"]
    # a finished calculation is read back without MD
    again = finite_temperature_properties(KilledMorse(1), A0, 150.0, TINY, tmp_path / "job")
    assert again["md_steps"] == 0 and again["C44_GPa"] == reference["C44_GPa"]


def test_checkpoint_of_another_calculation_is_refused(tmp_path):
    finite_temperature_properties(KilledMorse(None), A0, 150.0, TINY, tmp_path)
    other = TINY.model_copy(update={"strain": 0.02})
    with pytest.raises(ValueError, match="belongs to another calculation"):
        finite_temperature_properties(KilledMorse(None), A0, 150.0, other, tmp_path)


def test_block_average_of_independent_samples():
    rng = np.random.default_rng(1)
    series = rng.normal(5.0, 2.0, size=40_000)
    mean, err = block_average(series, 20)
    assert mean == pytest.approx(series.mean())
    assert err == pytest.approx(2.0 / np.sqrt(len(series)), rel=0.4)
    with pytest.raises(ValueError, match=r"n_blocks = 4 must lie in \[2, 3\]"):
        block_average(series[:3], 4)


def test_strain_deformation_uses_engineering_shear():
    f = strain_deformation(1, 0.02)  # axis y: ε_yy = 0.02, γ_xz = 2 ε_xz = 0.02
    assert f[1, 1] == pytest.approx(1.02)
    assert f[0, 2] == f[2, 0] == pytest.approx(0.01)
    assert f[0, 0] == f[2, 2] == 1.0


def test_spec_validates_lengths():
    with pytest.raises(ValueError, match="2 steps per block"):
        FiniteTemperatureSpec(n_blocks=10, nvt_production_steps=15)
    with pytest.raises(ValueError, match="> 0 K"):
        FiniteTemperatureSpec(temperatures_K=[0.0])
