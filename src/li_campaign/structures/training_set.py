"""Build the list of structures that get DFT labels, from the campaign spec."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from li_campaign.core.lithium import bcc_li_conventional, check_lithium_structure
from li_campaign.schemas.spec import TrainingSetSpec, facet_label
from li_campaign.structures.slabs import adatom_slabs, make_symmetric_slab


@dataclass(frozen=True)
class TrainingStructure:
    """A structure to label, with its origin tag and a readable label."""

    origin: str
    label: str
    structure: Structure

    @property
    def is_slab(self) -> bool:
        """True for slabs and adatom slabs (vacuum along z)."""
        return self.origin in ("slab", "adatom")


def _random_strain(rng: np.random.Generator, max_strain: float) -> np.ndarray:
    """Symmetric strain tensor with components uniform in [-max_strain, max_strain]."""
    eps = rng.uniform(-max_strain, max_strain, size=(3, 3))
    return 0.5 * (eps + eps.T)


def _strained(structure: Structure, strain: np.ndarray) -> Structure:
    new = structure.copy()
    new.lattice = new.lattice.__class__(new.lattice.matrix @ (np.eye(3) + strain))
    return new


def _rattled(structure: Structure, rng: np.random.Generator, std: float) -> Structure:
    new = structure.copy()
    displacements = rng.normal(0.0, std, size=(len(new), 3))
    for i, disp in enumerate(displacements):
        new.translate_sites([i], disp, frac_coords=False, to_unit_cell=True)
    return new


def _perturbed_slab(slab: Structure, rng: np.random.Generator, max_z_strain: float, max_shift: float) -> Structure:
    """Scale the interlayer spacings by 1+ε_z and move both outermost layers along z.

    Surface relaxation changes exactly these coordinates; without such frames a model
    extrapolates when a slab relaxes.
    """
    new = slab.copy()
    z = new.cart_coords[:, 2]
    centre = 0.5 * (z.min() + z.max())
    eps = rng.uniform(-max_z_strain, max_z_strain)
    shift = rng.uniform(-0.5 * max_shift, max_shift)  # outward relaxation is the larger risk
    for i, zi in enumerate(z):
        dz = (zi - centre) * eps
        if abs(zi - z.max()) < 0.05:
            dz += shift
        elif abs(zi - z.min()) < 0.05:
            dz -= shift
        new.translate_sites([i], [0.0, 0.0, dz], frac_coords=False, to_unit_cell=False)
    return new


def generate_training_structures(spec: TrainingSetSpec, seed: int) -> list[TrainingStructure]:
    """Return every structure of the training set, deterministically for a given seed.

    The set holds: conventional cells under random strain (``bulk_strain``); strained
    and rattled supercells (``bulk_rattle``); vacancy supercells (``vacancy``); symmetric
    slabs of each facet and perturbed copies (``slab``), and the slabs with one Li adatom at
    each distinct site, slightly rattled and with a random height offset (``adatom``).
    """
    rng = np.random.default_rng(seed)
    a = spec.lattice_constant_A
    unit = bcc_li_conventional(a)
    out: list[TrainingStructure] = []
    b = spec.bulk
    for i in range(b.n_strained):
        strain = np.zeros((3, 3)) if i == 0 else _random_strain(rng, b.max_strain)
        out.append(TrainingStructure("bulk_strain", f"bulk strain {i}", _strained(unit, strain)))
    for i in range(b.n_rattled):
        cell = unit * b.rattled_supercell
        cell = _strained(cell, _random_strain(rng, 0.5 * b.max_strain))
        out.append(TrainingStructure("bulk_rattle", f"bulk rattle {i}", _rattled(cell, rng, b.rattle_std_A)))
    if spec.vacancy is not None:
        big = unit * spec.vacancy.supercell
        for i in range(b.n_large_rattled):
            cell = _strained(big, _random_strain(rng, 0.5 * b.max_strain))
            out.append(TrainingStructure("bulk_rattle", f"bulk rattle large {i}", _rattled(cell, rng, b.rattle_std_A)))
        for i in range(spec.vacancy.n_rattled):
            vac = big.copy()
            vac.remove_sites([0])
            if i > 0:
                vac = _rattled(vac, rng, 0.5 * b.rattle_std_A)
            out.append(TrainingStructure("vacancy", f"vacancy {i}", vac))
    if spec.slabs is not None:
        s = spec.slabs
        for hkl in s.facets:
            slab = make_symmetric_slab(a, hkl, s.min_slab_size_A, s.min_vacuum_A)
            name = facet_label(hkl)
            out.append(TrainingStructure("slab", f"slab {name}", slab))
            for i in range(s.n_perturbed):
                perturbed = _perturbed_slab(slab, rng, s.max_z_strain, s.surface_shift_A)
                out.append(TrainingStructure("slab", f"slab {name} perturbed {i}", _rattled(perturbed, rng, s.rattle_std_A)))
            if s.adatom:
                for site, cell in adatom_slabs(slab, s.adatom_min_lateral_A)[: s.max_adatom_sites]:
                    cell = _rattled(cell, rng, 0.5 * s.rattle_std_A)
                    cell.translate_sites([len(cell) - 1], [0, 0, rng.uniform(-1, 1) * s.adatom_height_jitter_A], frac_coords=False)
                    out.append(TrainingStructure("adatom", f"slab {name} + adatom {site}", cell))
    for item in out:
        check_lithium_structure(item.structure, item.label)
    return out
