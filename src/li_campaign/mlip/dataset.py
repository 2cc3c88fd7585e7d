"""Training frames as ASE objects, the train/val/test split and extxyz files for nequip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor


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


def split_frames(frame_ids: list[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """Split frame ids into train/val/test deterministically (val and test get at least one frame).

    Parameters
    ----------
    frame_ids
        All frame ids (order does not matter: they are sorted first).
    fractions
        ``{"train": …, "val": …, "test": …}`` summing to one.
    seed
        RNG seed of the shuffle.
    """
    ids = sorted(frame_ids)
    if len(ids) < 3:
        raise ValueError(f"need at least 3 training frames for a train/val/test split, got {len(ids)}")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = max(1, round(fractions["test"] * len(ids)))
    n_val = max(1, round(fractions["val"] * len(ids)))
    test = [ids[i] for i in order[:n_test]]
    val = [ids[i] for i in order[n_test : n_test + n_val]]
    train = [ids[i] for i in order[n_test + n_val :]]
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def write_extxyz(atoms_list: list[Atoms], path: Path) -> Path:
    """Write labelled frames as extxyz (energy, forces, stress) for nequip's ASEDataModule."""
    write(path, atoms_list, format="extxyz")
    return path
