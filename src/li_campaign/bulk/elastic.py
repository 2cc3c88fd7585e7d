"""0 K elastic constants of bcc Li by finite strains of the 2-atom cube (stress–strain, pymatgen)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.units import GPa
from pymatgen.analysis.elasticity import ElasticTensor, Strain

from li_campaign.core.errors import InputError
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.simulation.relax import structure_to_atoms

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

    from li_campaign.schemas.bulk import BulkDoc
    from li_campaign.schemas.spec import ElasticSpec


def check_own_lattice(
    bulk: BulkDoc, source: str, model_sha256: str | None = None, dft_settings: dict | None = None
) -> None:
    """Check that ``bulk`` is the equation of state of the calculator whose Cij are wanted.

    Elastic constants are the stress–strain slopes only at zero stress, i.e. at the
    calculator's own a0 (see :func:`elastic_constants_0K`). DFT settings are compared
    without the k-mesh (``kpts``, ``kspacing_inv_A``): the shear constants of a metal
    need a denser k-mesh than its lattice constant, so the Cij run may use one.

    Raises
    ------
    ValueError
        If ``bulk`` is missing (its job failed), comes from the other source, or was
        computed with a different model or different DFT settings.
    """
    if bulk is None:
        raise ValueError(
            "no equation-of-state result to take a0 from: that calculation failed (its reason is listed by "
            "`li-campaign status`)"
        )
    if bulk.source != source:
        raise ValueError(f"elastic constants of the {source} need its own a0, got a BulkDoc of source {bulk.source!r}")
    if model_sha256 is not None and bulk.provenance.model_sha256 not in (None, model_sha256):
        raise ValueError(
            f"the BulkDoc was computed with model {bulk.provenance.model_sha256[:12]}…, not {model_sha256[:12]}…"
        )
    if dft_settings is not None and bulk.provenance.dft_settings is not None:
        kmesh = {"kpts", "kspacing_inv_A"}
        theirs = {k: v for k, v in bulk.provenance.dft_settings.items() if k not in kmesh}
        ours = {k: v for k, v in dft_settings.items() if k not in kmesh}
        if theirs != ours:
            changed = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
            raise ValueError(f"the BulkDoc was computed with other DFT settings (differing: {', '.join(changed)})")


def _stress_and_force(calc: Calculator, structure: Structure) -> tuple[np.ndarray, float]:
    """Cauchy stress (3x3, GPa, positive in tension: ASE's sign) and the largest force (eV/Å)."""
    atoms = structure_to_atoms(structure)
    atoms.calc = calc
    stress = np.asarray(atoms.get_stress(voigt=False), dtype=float) / GPa
    return stress, float(np.abs(atoms.get_forces()).max())


def elastic_constants_0K(calc: Calculator, a0: float, spec: ElasticSpec) -> dict:  # noqa: N802 (0K is the unit)
    """Return C11, C12, C44 of bcc Li at lattice constant ``a0`` from stress–strain central differences.

    Each of the six independent Voigt strains (e1 … e6, shears as engineering strains) is
    applied at +ε and −ε for every ε in ``spec.strains`` to the 2-atom cube, as the
    symmetric deformation whose Green–Lagrange strain is exactly that Voigt strain
    (pymatgen ``Strain.get_deformation_matrix``). The stresses go to pymatgen's
    ``ElasticTensor.from_independent_strains``, which fits stress vs strain linearly per
    strain state together with the unstrained stress; with ±ε pairs the fitted slope is the
    central difference, so the quadratic (third-order-constant) term cancels. All 36
    entries are computed, so cubic symmetry is a check (``cubic_deviation_GPa``), not an
    assumption; C11, C12, C44 are the averages over the cubically equivalent entries.

    No internal relaxation is done, and none is needed: in bcc every atom is a centre of
    inversion, which a homogeneous strain keeps, so the force on each atom vanishes by
    symmetry and the clamped-ion constants are the relaxed ones. ``max_force_eV_A``
    records the largest force met, as the numerical check of this.

    The slopes are elastic constants only at zero stress. At another lattice constant they
    are the stress–strain coefficients under the pressure ``−trace(reference_stress)/3``,
    which differ from the elastic constants by terms of order that pressure; evaluate a
    calculator at its own ``a0``.

    Born stability of a cubic crystal (Mouhat & Coudert, PRB 90, 224104, 2014):
    C11 − C12 > 0, C11 + 2 C12 > 0, C44 > 0.

    Parameters
    ----------
    calc
        ASE calculator that gives stress (a model, or a DFT engine with stress).
    a0
        Cubic lattice constant (Å).
    spec
        Strain magnitudes.

    Returns
    -------
    dict
        ``lattice_constant_A``, ``strains``, ``elastic_tensor_GPa`` (6x6 Voigt),
        ``c11_GPa``, ``c12_GPa``, ``c44_GPa``, ``bulk_modulus_GPa`` ((C11 + 2 C12)/3),
        ``tetragonal_shear_GPa`` (C' = (C11 − C12)/2), ``zener_anisotropy`` (2 C44 / (C11 −
        C12), None if C11 = C12), ``cubic_deviation_GPa`` (largest difference of an entry from its cubic
        value), ``reference_stress_GPa`` (Voigt stress of the unstrained cell),
        ``max_force_eV_A``, ``born_criteria`` (name -> bool), ``born_stable`` and
        ``n_calculations``.

    Raises
    ------
    InputError
        If ``a0`` is not positive.
    """
    if not a0 > 0:
        raise InputError(f"a0 = {a0} Å: the lattice constant must be positive")
    cell = bcc_li_conventional(a0)
    reference_stress, max_force = _stress_and_force(calc, cell)
    strains, stresses = [], []
    for component in range(6):
        for magnitude in spec.strains:
            for sign in (-1.0, 1.0):
                voigt = np.zeros(6)
                voigt[component] = sign * magnitude
                strain = Strain.from_voigt(voigt)
                stress, force = _stress_and_force(calc, strain.get_deformation_matrix().apply_to_structure(cell))
                strains.append(strain)
                stresses.append(stress)
                max_force = max(max_force, force)
    tensor = ElasticTensor.from_independent_strains(strains, stresses, eq_stress=reference_stress)
    c = np.asarray(tensor.voigt)
    c11 = float(np.mean(np.diag(c)[:3]))
    c12 = float(np.mean([c[0, 1], c[0, 2], c[1, 2], c[1, 0], c[2, 0], c[2, 1]]))
    c44 = float(np.mean(np.diag(c)[3:]))
    cubic = np.zeros((6, 6))
    cubic[:3, :3] = c12
    cubic[np.diag_indices(3)] = c11
    cubic[3:, 3:][np.diag_indices(3)] = c44
    criteria = {"C11 - C12 > 0": c11 - c12 > 0, "C11 + 2 C12 > 0": c11 + 2 * c12 > 0, "C44 > 0": c44 > 0}
    voigt_reference = reference_stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return {
        "lattice_constant_A": float(a0),
        "strains": list(spec.strains),
        "elastic_tensor_GPa": c.tolist(),
        "c11_GPa": c11,
        "c12_GPa": c12,
        "c44_GPa": c44,
        "bulk_modulus_GPa": (c11 + 2 * c12) / 3,
        "tetragonal_shear_GPa": (c11 - c12) / 2,
        "zener_anisotropy": 2 * c44 / (c11 - c12) if c11 != c12 else None,
        "cubic_deviation_GPa": float(np.abs(c - cubic).max()),
        "reference_stress_GPa": voigt_reference.tolist(),
        "max_force_eV_A": max_force,
        "born_criteria": criteria,
        "born_stable": all(criteria.values()),
        "n_calculations": 1 + len(strains),
    }
