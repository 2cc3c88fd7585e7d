"""Content hashes for structures and files.

pymatgen has structure *equivalence* (StructureMatcher) but no stable content hash, so a
small canonical hash is written here: it identifies exactly this cell and these
coordinates (to 1e-5 fractional / 1e-4 Å), which is what provenance needs. A deployed model
file is checked against its registry sha256 here too (:func:`verify_model_file`), by the
ASE loader, the batched loader and ``li-campaign verify`` alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from li_campaign.core.errors import ModelIntegrityError

if TYPE_CHECKING:
    from pymatgen.core import Structure


def structure_hash(structure: Structure) -> str:
    """Return a sha256 hex digest identifying a periodic structure.

    Sites are sorted by species and wrapped fractional coordinates so that the order of
    sites does not change the hash.

    Parameters
    ----------
    structure
        A pymatgen Structure.

    Returns
    -------
    str
        64-character hex digest.
    """
    lattice = np.round(structure.lattice.matrix, 4) + 0.0
    frac = np.mod(np.round(structure.frac_coords, 5), 1.0)
    frac = np.where(np.isclose(frac, 1.0, atol=1e-5), 0.0, frac) + 0.0
    species = [str(s) for s in structure.species]
    rows = sorted(zip(species, map(tuple, np.round(frac, 5))))
    payload = repr((lattice.tolist(), rows)).encode()
    return hashlib.sha256(payload).hexdigest()


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_file(path: str | Path, sha256: str) -> Path:
    """Return ``path`` if it exists and its sha256 matches; raise :class:`ModelIntegrityError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"{path}: model file missing (registry sha256 {sha256[:12]}…)")
    actual = file_sha256(path)
    if actual != sha256:
        raise ModelIntegrityError(
            f"{path}: sha256 mismatch (file {actual[:12]}…, registry {sha256[:12]}…); the file was changed or corrupted"
        )
    return path
