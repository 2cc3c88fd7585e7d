"""A cheap structure descriptor for diverse selection: the smoothed pair-distance histogram per atom.

Each structure becomes the histogram of its interatomic distances up to ``r_max``
(every pair within the cutoff, periodic images included, found with ASE's
:func:`~ase.neighborlist.neighbor_list`), smeared with Gaussians of one bin width and divided
by the number of atoms, so cells of different size and a bulk cell and its slab compare
by local environment (a surface atom has fewer neighbours, a compressed cell shifts the
peaks). It is the radial part of a fingerprint such as Oganov and Valle's (J. Chem. Phys.
130, 104504 (2009)); without SOAP's angular channels it is blind to rotations of a
neighbour shell that keep its distances, which is enough to spread picks over MD
snapshots, relaxations and hops. Written here because no installed package has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ase.neighborlist import neighbor_list

if TYPE_CHECKING:
    from ase import Atoms


def distance_histogram(atoms: Atoms, r_max: float = 6.0, n_bins: int = 40) -> np.ndarray:
    """Return the Gaussian-smeared pair-distance histogram per atom of ``atoms``.

    Parameters
    ----------
    atoms
        The structure (periodic or not).
    r_max
        Largest distance counted (Å).
    n_bins
        Bins on [0, r_max]; the Gaussian width is one bin.

    Returns
    -------
    np.ndarray
        Shape (n_bins,): counts of ordered pairs (i, j) per atom, so a perfect bcc crystal
        gives 8 at the first-neighbour distance.
    """
    if r_max <= 0 or n_bins < 1:
        raise ValueError(f"r_max = {r_max} Å and n_bins = {n_bins}: both must be positive")
    width = r_max / n_bins
    centres = (np.arange(n_bins) + 0.5) * width
    distances = neighbor_list("d", atoms, r_max)
    weights = np.exp(-0.5 * ((distances[:, None] - centres[None, :]) / width) ** 2) / np.sqrt(2 * np.pi)
    return weights.sum(axis=0) / len(atoms)
