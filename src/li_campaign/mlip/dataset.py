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

from li_campaign.core.hashing import structure_hash
from li_campaign.simulation.relax import structure_to_atoms

if TYPE_CHECKING:
    from collections.abc import Callable, Collection


def frame_to_atoms(frame: dict) -> Atoms:
    """Turn a stored :class:`~li_campaign.schemas.frames.TrainingFrameDoc` (dict) into labelled Atoms."""
    atoms = structure_to_atoms(Structure.from_dict(frame["structure"]))  # a site without flags is free
    stress = frame.get("stress_eV_A3")
    results = {"energy": frame["energy_eV"], "forces": np.asarray(frame["forces_eV_A"], dtype=float)}
    if stress is not None:
        results["stress"] = np.asarray(stress, dtype=float)
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info["frame_id"] = frame["frame_id"]
    atoms.info["origin"] = frame["origin"]
    if stress is None and not has_vacuum(atoms, frame["origin"]):
        raise ValueError(f"frame {frame['frame_id']}: no stress, but its cell has no vacuum (only slabs are labelled without one)")
    atoms.info["stress_masked"] = stress is None or has_vacuum(atoms, frame["origin"])
    return atoms


VACUUM_ORIGINS = frozenset({"slab", "adatom", "step", "isolated_atom"})
"""Origins whose cells have vacuum (slabs, adatom slabs, stepped slabs along z; the isolated atom)."""

TRAIN_ONLY_ORIGINS = frozenset({"isolated_atom"})
"""Origins always trained on, never held out: the isolated atom is one frame that pins the model's
zero-neighbour energy (its energy shift), not a sample of a distribution to test on."""

MIN_VACUUM_GAP_A = 4.0
"""A gap between atomic planes along z wider than this (Å) is vacuum: bcc Li's widest interplanar
spacing is 2.48 Å ((110)) and even a vacancy leaves at most one missing plane (< 4 Å) between
neighbours, while the campaign's slabs have 6 Å or more of vacuum."""


def vacuum_gap_A(atoms: Atoms) -> float:
    """Widest empty gap (Å) between atoms along the cell's third axis, across the periodic boundary.

    Measured along the normal of the a-b plane (the cell height), so tilted cells count right.
    """
    if len(atoms) == 0:
        return float("inf")
    cell = np.asarray(atoms.cell)
    height = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[0], cell[1]))
    z = np.sort(atoms.get_scaled_positions(wrap=True)[:, 2])
    gaps = np.diff(np.concatenate([z, [z[0] + 1.0]]))
    return float(gaps.max() * height)


def has_vacuum(atoms: Atoms, origin: str | None = None, min_gap_A: float = MIN_VACUUM_GAP_A) -> bool:
    """True if the cell has vacuum: its origin is a slab kind, or a gap along z is wider than ``min_gap_A``.

    The stress of such a cell is not a bulk stress (the vacuum averages it into the cell volume,
    which depends on the arbitrary vacuum width), so it is not trained on.
    """
    return origin in VACUUM_ORIGINS or vacuum_gap_A(atoms) > min_gap_A


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


POOLED = "(pooled)"
"""Stratum of the frames of origins too small to be split on their own."""


def split_frames(
    frame_ids: list[str],
    fractions: dict[str, float],
    seed: int,
    sort_key: Callable[[str], str] | None = None,
    stratum: Callable[[str], str] | None = None,
    min_stratum_frames: int = 5,
    train_strata: Collection[str] = (),
) -> dict[str, list[str]]:
    """Split frame ids into train/val/test deterministically, stratified by ``stratum`` (e.g. origin).

    Each stratum of at least ``min_stratum_frames`` frames is split on its own, in the
    proportions of ``fractions`` (val and test at least one frame each, train at least one), so
    every such origin is in train, val and test. The frames of smaller strata are pooled and the
    pool is split the same way when it has at least 3 frames, else it all goes to train. The
    shuffle of a stratum depends only on ``seed``, the stratum's name and its frames (ordered by
    ``sort_key``), not on the other strata.

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
    stratum
        Stratum of each frame id, e.g. its origin. Default: one stratum (a plain random split).
    min_stratum_frames
        Smallest stratum split on its own (at least 3).
    train_strata
        Strata that go to train whole, never held out (e.g. :data:`TRAIN_ONLY_ORIGINS`).

    Raises
    ------
    ValueError
        With fewer than 3 frames, or ``min_stratum_frames`` below 3.
    """
    order_key = (lambda i: (sort_key(i), i)) if sort_key else (lambda i: (i, i))
    ids = sorted(set(frame_ids), key=order_key)
    if len(ids) < 3:
        raise ValueError(f"need at least 3 training frames for a train/val/test split, got {len(ids)}")
    if min_stratum_frames < 3:
        raise ValueError(f"min_stratum_frames must be at least 3 (one frame each for train, val, test), got {min_stratum_frames}")
    strata: dict[str, list[str]] = {}
    for i in ids:
        strata.setdefault(stratum(i) if stratum else "", []).append(i)
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for name in set(train_strata) & set(strata):
        parts["train"] += strata.pop(name)
    pooled = [i for name in sorted(strata) if len(strata[name]) < min_stratum_frames for i in strata[name]]
    groups = {name: members for name, members in strata.items() if len(members) >= min_stratum_frames}
    if pooled:
        groups[POOLED] = sorted(pooled, key=order_key)
    for name in sorted(groups):
        members = groups[name]
        if len(members) < 3:  # a pool of 1-2 frames: too few to hold out, all trained on
            parts["train"] += members
            continue
        rng = np.random.default_rng([seed, int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)])
        order = rng.permutation(len(members))
        n = len(members)
        n_test = min(max(1, round(fractions["test"] * n)), n - 2)
        n_val = min(max(1, round(fractions["val"] * n)), n - 1 - n_test)
        parts["test"] += [members[k] for k in order[:n_test]]
        parts["val"] += [members[k] for k in order[n_test : n_test + n_val]]
        parts["train"] += [members[k] for k in order[n_test + n_val :]]
    return {name: sorted(parts[name], key=order_key) for name in ("train", "val", "test")}


def write_extxyz(atoms_list: list[Atoms], path: Path) -> Path:
    """Write labelled frames as extxyz (energy, forces, stress) for nequip's ASEDataModule.

    A frame with ``atoms.info["stress_masked"]`` (a cell with vacuum, :func:`has_vacuum`) is
    written with a NaN stress: nequip's loss and metrics skip NaN targets (``ignore_nan``), so
    its energy and forces are trained on and its stress is not. (A frame without any stress key
    cannot be batched with frames that have one.)
    """
    out = []
    for atoms in atoms_list:
        if atoms.info.get("stress_masked") and atoms.calc is not None:
            masked = atoms.copy()
            masked.calc = SinglePointCalculator(
                masked,
                energy=atoms.get_potential_energy(),
                forces=atoms.get_forces(apply_constraint=False),  # the label, also on fixed atoms
                stress=np.full(6, np.nan),
            )
            atoms = masked
        out.append(atoms)
    write(path, out, format="extxyz")
    return path


def label_scales(atoms_list: list[Atoms]) -> dict[str, float | None]:
    """Spread of the labels a fit learns: the initial error scale of each loss term.

    ``total_energy``: standard deviation of the energy per atom (eV/atom) of the frames other than
    :data:`TRAIN_ONLY_ORIGINS` (the isolated atom, 1.8 eV/atom above bulk Li, is not a spread the
    fit has to resolve); ``forces``: RMS force component (eV/Å); ``stress``: RMS
    stress component of the frames whose stress is trained on (eV/Å^3), None if there is none.
    Each has a floor (1 meV/atom, 10 meV/Å, 0.1 meV/Å^3: about the noise of the DFT labels) so that a
    set of nearly identical labels does not get an unbounded weight.
    """
    bound = [a for a in atoms_list if a.info.get("origin") not in TRAIN_ONLY_ORIGINS] or atoms_list
    e = np.array([a.get_potential_energy() / len(a) for a in bound])
    f = np.concatenate([a.get_forces().ravel() for a in atoms_list])
    s = [a.get_stress(voigt=True) for a in atoms_list if not a.info.get("stress_masked")]
    return {
        "total_energy": max(float(np.std(e)), 1e-3),
        "forces": max(float(np.sqrt(np.mean(f**2))), 1e-2),
        "stress": max(float(np.sqrt(np.mean(np.square(s)))), 1e-4) if s else None,
    }
