"""Birch–Murnaghan fit of bcc Li with a Morse potential, against a direct lattice sum."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential, fcut
from ase.units import GPa
from scipy.optimize import minimize_scalar

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.core.errors import InputError
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import EosSpec

EPS, R0, RHO0, RC1, RC2 = 0.2, 3.0, 3.5, 1.6, 2.0


def morse() -> MorsePotential:
    return MorsePotential(epsilon=EPS, r0=R0, rho0=RHO0, rcut1=RC1, rcut2=RC2)


def lattice_sum(a: float, rc1: float = RC1, rc2: float = RC2) -> float:
    """Energy per atom of bcc with the smoothly cut Morse pair potential, summed directly."""
    m = int(np.ceil(rc2 * R0 / a)) + 1
    n = np.arange(-m, m + 1)
    grid = np.array(np.meshgrid(n, n, n, indexing="ij")).reshape(3, -1).T
    points = np.vstack([grid, grid + 0.5]) * a
    r = np.linalg.norm(points, axis=1)
    r = r[(r > 1e-9) & (r < rc2 * R0)]
    expf = np.exp(RHO0 * (1.0 - r / R0))
    return 0.5 * float(np.sum(EPS * expf * (expf - 2.0) * fcut(r, rc1 * R0, rc2 * R0)))


@pytest.fixture(scope="module")
def reference():
    best = minimize_scalar(lattice_sum, bounds=(2.6, 3.4), method="bounded", options={"xatol": 1e-7})
    a0 = float(best.x)
    h = 1e-3
    volume = lambda a: a**3 / 2  # noqa: E731
    # B = V d²E/dV²; with V(a): d²E/dV² = E''(a) / V'(a)² at the minimum (E'(a) = 0)
    d2e_da2 = (lattice_sum(a0 + h) - 2 * lattice_sum(a0) + lattice_sum(a0 - h)) / h**2
    bulk_modulus = volume(a0) * d2e_da2 / (1.5 * a0**2) ** 2
    return a0, float(best.fun), bulk_modulus / GPa


def test_fit_matches_lattice_sum(reference):
    a0, e0, b0 = reference
    result = fit_bulk_eos(morse(), 2.95, EosSpec())
    assert result["lattice_constant_A"] == pytest.approx(a0, abs=2e-3)
    assert result["energy_per_atom_eV"] == pytest.approx(e0, abs=1e-5)
    assert result["energy_per_atom_eV"] == pytest.approx(lattice_sum(result["lattice_constant_A"]), abs=1e-9)
    assert result["bulk_modulus_GPa"] == pytest.approx(b0, rel=0.03)
    assert len(result["volumes_A3_atom"]) == len(result["energies_eV_atom"]) == EosSpec().n_points
    assert min(result["volumes_A3_atom"]) < a0**3 / 2 < max(result["volumes_A3_atom"])


def test_scan_is_recentred_when_the_minimum_is_outside(reference):
    a0, _, _ = reference
    eos = EosSpec(max_strain=0.02, n_points=7)
    result = fit_bulk_eos(morse(), a0 * 0.95, eos)  # minimum 5 % above the first scan's centre
    assert result["lattice_constant_A"] == pytest.approx(a0, abs=2e-3)
    volumes = result["volumes_A3_atom"]
    assert volumes[0] > (a0 * 0.95 * 1.02) ** 3 / 2  # the returned scan is the re-centred one


def test_no_minimum_raises(reference):
    with pytest.raises(ValueError, match="no energy minimum"):
        fit_bulk_eos(morse(), 3.44, EosSpec(max_strain=0.02))


def test_bad_guess():
    with pytest.raises(InputError, match="a_guess = -1.0 Å: the lattice constant must be positive"):
        fit_bulk_eos(morse(), -1.0, EosSpec())


# B' is a third derivative: the taper of the short-range test potential (RC1–RC2) crosses the
# 4th and 5th neighbour shells inside the scan and makes it meaningless (about −0.7). With the
# taper at 4.8–6 r0 (14–18 Å) the potential is a plain Morse crystal over the scan.
LONG = (4.8, 6.0)


def test_bulk_modulus_derivative_matches_lattice_sum():
    """B' = −1 − V E'''/E'' at V0 of the direct lattice sum, against the Birch–Murnaghan fit."""
    a0 = minimize_scalar(lambda a: lattice_sum(a, *LONG), bounds=(2.6, 3.0), method="bounded", options={"xatol": 1e-8}).x
    v0, h = a0**3 / 2, 0.05
    e = [lattice_sum((2 * (v0 + k * h)) ** (1 / 3), *LONG) for k in (-2, -1, 0, 1, 2)]
    d2 = (e[3] - 2 * e[2] + e[1]) / h**2
    d3 = (e[4] - 2 * e[3] + 2 * e[1] - e[0]) / (2 * h**3)
    reference = -1.0 - v0 * d3 / d2

    calc = MorsePotential(epsilon=EPS, r0=R0, rho0=RHO0, rcut1=LONG[0], rcut2=LONG[1])
    result = fit_bulk_eos(calc, 2.8, EosSpec())
    assert 2.0 < result["bulk_modulus_derivative"] < 6.0
    assert result["bulk_modulus_derivative"] == pytest.approx(reference, rel=0.03)
    assert result["bulk_modulus_GPa"] == pytest.approx(v0 * d2 / GPa, rel=0.01)

    doc = BulkDoc(source="dft", **result, provenance=Provenance(campaign="t", spec_hash="0" * 64))
    again = BulkDoc.model_validate_json(doc.model_dump_json())
    assert again.bulk_modulus_derivative == result["bulk_modulus_derivative"]


def test_bulk_doc_stored_before_b_prime_still_loads():
    old = {
        "doc_type": "bulk",
        "source": "mlip",
        "lattice_constant_A": 3.43,
        "energy_per_atom_eV": -1.9,
        "bulk_modulus_GPa": 14.0,
        "volumes_A3_atom": [],
        "energies_eV_atom": [],
        "provenance": {"campaign": "t", "spec_hash": "0" * 64},
    }
    assert BulkDoc.model_validate(old).bulk_modulus_derivative is None
