"""Training frames as ASE objects, the train/val/test split and extxyz files for nequip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.core.hashing import structure_hash

if TYPE_CHECKING:
    from collections.abc import Callable


def frame_to_atoms(frame: dict) -> Atoms:
    """Turn a stored :class:`~li_campaign.schemas.frames.TrainingFrameDoc` (dict) into labelled Atoms."""
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(frame["structure"]))
    atoms.calc = SinglePointCalculator(
        atoms,
        energy=frame["energy_eV"],
        forces=np.asarray(frame["forces_eV_A"], dtype=float),
        stress=np.asarray(frame["stress_eV_A3"], dtype=float),
    )
    atoms.info["frame_id"] = frame["frame_id"]
    atoms.info["origin"] = frame["origin"]
    return atoms


def frame_content_key(frame: dict) -> str:
    """Return the identity of a labelled frame's *content*: its structure hash and DFT settings.

    Two frames with the same key are the same calculation whatever the campaign or spec that
    named them, so a fit keyed on these (and split in their order) is the same fit.

    Parameters
    ----------
    frame
        A stored :class:`~li_campaign.schemas.frames.TrainingFrameDoc` (dict).

    Returns
    -------
    str
        64-character hex digest.
    """
    provenance = frame.get("provenance") or {}
    shash = provenance.get("structure_hash") or structure_hash(Structure.from_dict(frame["structure"]))
    payload = json.dumps([shash, provenance.get("dft_settings")], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def split_frames(
    frame_ids: list[str], fractions: dict[str, float], seed: int, sort_key: Callable[[str], str] | None = None
) -> dict[str, list[str]]:
    """Split frame ids into train/val/test deterministically (val and test get at least one frame).

    Parameters
    ----------
    frame_ids
        All frame ids (order does not matter: they are sorted first).
    fractions
        ``{"train": …, "val": …, "test": …}`` summing to one.
    seed
        RNG seed of the shuffle.
    sort_key
        Order of the frames before the shuffle (and within each part), e.g. their
        :func:`frame_content_key`, so that the split does not depend on the frames' names;
        ties are broken by the id. Default: the ids themselves.
    """
    ids = sorted(frame_ids, key=(lambda i: (sort_key(i), i)) if sort_key else None)
    if len(ids) < 3:
        raise ValueError(f"need at least 3 training frames for a train/val/test split, got {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = max(1, round(fractions["test"] * len(ids)))
    n_val = max(1, round(fractions["val"] * len(ids)))
    parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
    return {name: [ids[i] for i in sorted(parts[name])] for name in ("train", "val", "test")}


def write_extxyz(atoms_list: list[Atoms], path: Path) -> Path:
    """Write labelled frames as extxyz (energy, forces, stress) for nequip's ASEDataModule."""
    write(path, atoms_list, format="extxyz")
    return path
