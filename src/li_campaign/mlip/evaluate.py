"""Holdout errors, adsorption-energy errors on the training cells and parity data of a deployed model."""

from __future__ import annotations

import re

import numpy as np
from ase import Atoms

from li_campaign.core.errors import LiCampaignError
from li_campaign.schemas.models import AdsorptionLabelError, HoldoutErrors, OriginErrors, ParityData

ADATOM_LABEL = re.compile(r"^slab (?P<facet>\S+) \+ adatom (?P<site>\S+)(?: dz (?P<dz>[-+0-9.]+) Å)?$")
"""Label of an adatom training cell (``slab 110 + adatom ontop-0 dz -0.30 Å``), whose clean slab is ``slab 110``
(:func:`li_campaign.structures.training_set.generate_training_structures` writes both)."""
BULK_REFERENCE_LABEL = "bulk strain 0"
"""Label of the unstrained conventional bulk cell: the per-atom reference of the adsorption energies."""


class FitQualityError(LiCampaignError):
    """A trained model does not reproduce its own training frames within the spec's thresholds."""


def evaluate_holdout(calc, frames: list[Atoms], max_force_points: int = 3000, seed: int = 0) -> tuple[HoldoutErrors, ParityData]:
    """Compare the calculator with the DFT labels of ``frames`` (labelled Atoms).

    Energies are compared per atom (meV/atom), forces per Cartesian component (meV/Å),
    stresses per Voigt component (meV/Å^3) over the frames whose stress is trained on (not
    ``atoms.info["stress_masked"]``: cells with vacuum). ``by_origin`` repeats the energy and
    force errors for each frame origin (``atoms.info["origin"]``).
    """
    e_dft, e_ml, f_dft, f_ml, s_err, origins = [], [], [], [], [], []
    for ref in frames:
        origins.append(str(ref.info.get("origin", "unknown")))
        atoms = ref.copy()
        atoms.calc = calc
        n = len(atoms)
        e_dft.append(ref.get_potential_energy() / n)
        e_ml.append(atoms.get_potential_energy() / n)
        f_dft.append(ref.get_forces().ravel())
        f_ml.append(atoms.get_forces().ravel())
        if not ref.info.get("stress_masked"):
            s_err.append(np.abs(atoms.get_stress(voigt=True) - ref.get_stress(voigt=True)))
    by_origin = errors_by_origin(origins, e_dft, e_ml, f_dft, f_ml)
    e_dft, e_ml = np.array(e_dft), np.array(e_ml)
    f_dft, f_ml = np.concatenate(f_dft), np.concatenate(f_ml)
    de, df = (e_ml - e_dft) * 1000.0, (f_ml - f_dft) * 1000.0
    errors = HoldoutErrors(
        n_frames=len(frames),
        energy_mae_meV_atom=float(np.mean(np.abs(de))),
        energy_rmse_meV_atom=float(np.sqrt(np.mean(de**2))),
        force_mae_meV_A=float(np.mean(np.abs(df))),
        force_rmse_meV_A=float(np.sqrt(np.mean(df**2))),
        stress_mae_meV_A3=float(np.mean(np.concatenate(s_err)) * 1000.0) if s_err else None,
        by_origin=by_origin,
    )
    keep = np.sort(np.random.default_rng(seed).permutation(len(f_dft))[:max_force_points])
    parity = ParityData(
        dft_energy_per_atom_eV=e_dft.tolist(),
        mlip_energy_per_atom_eV=e_ml.tolist(),
        dft_force_components_eV_A=f_dft[keep].tolist(),
        mlip_force_components_eV_A=f_ml[keep].tolist(),
    )
    return errors, parity


def adsorption_label_errors(
    calc, frames: dict[str, Atoms], labels: dict[str, str], parts: dict[str, str]
) -> list[AdsorptionLabelError]:
    """The model's error on the adsorption energy of every adatom training cell, against its clean slab.

    Each adatom cell (label :data:`ADATOM_LABEL`) is paired with the frame labelled ``slab <facet>``
    (the unperturbed clean slab it was built from: the cell is n copies of it in-plane plus one
    atom); the bulk reference is the frame labelled :data:`BULK_REFERENCE_LABEL`. For each pair the
    teacher's E(cell) − n E(slab) − E_bulk and the model's are compared. A per-atom energy error of
    2 meV/atom is 0.05 eV on a 25-atom cell: these errors show whether the fit reproduces what an
    adsorption energy sees, which the per-origin MAEs do not. Written by hand: no library pairs a
    training set's adatom cells with their slabs.

    Parameters
    ----------
    calc
        The model (an ASE calculator).
    frames
        frame_id -> labelled Atoms (the teacher's energy as its calculator's result).
    labels
        frame_id -> the training-set label of the frame.
    parts
        frame_id -> the fit's split part (train, val, test).

    Returns
    -------
    list of AdsorptionLabelError
        One per adatom cell whose slab and bulk reference are among ``frames``, sorted by facet,
        site and height; empty without adatom cells or without the bulk reference.

    Raises
    ------
    ValueError
        If an adatom cell's atom count is not one more than a multiple of its slab's.
    """
    by_label = {label: fid for fid, label in labels.items() if fid in frames}
    bulk_id = by_label.get(BULK_REFERENCE_LABEL)
    if bulk_id is None:
        return []
    cache: dict[str, tuple[float, float]] = {}

    def energies(fid: str) -> tuple[float, float]:
        """(teacher, model) total energy of a frame (eV)."""
        if fid not in cache:
            atoms = frames[fid].copy()
            atoms.calc = calc
            cache[fid] = (frames[fid].get_potential_energy(), atoms.get_potential_energy())
        return cache[fid]

    bulk_dft, bulk_model = (e / len(frames[bulk_id]) for e in energies(bulk_id))
    out = []
    for label, fid in by_label.items():
        match = ADATOM_LABEL.match(label)
        slab_id = by_label.get(f"slab {match['facet']}") if match else None
        if slab_id is None:
            continue
        n, rest = divmod(len(frames[fid]) - 1, len(frames[slab_id]))
        if rest or n < 1:
            raise ValueError(
                f"frame {fid} ({label!r}): {len(frames[fid])} atoms is not one more than a multiple of its clean "
                f"slab {slab_id}'s {len(frames[slab_id])}"
            )
        (cell_dft, cell_model), (slab_dft, slab_model) = energies(fid), energies(slab_id)
        dft = cell_dft - n * slab_dft - bulk_dft
        out.append(
            AdsorptionLabelError(
                frame_id=fid, slab_frame_id=slab_id, facet=match["facet"], site=match["site"],
                height_offset_A=float(match["dz"]) if match["dz"] else None, repeats=n, part=parts.get(fid, "-"),
                dft_eV=dft, error_eV=(cell_model - n * slab_model - bulk_model) - dft,
            )
        )  # fmt: skip
    return sorted(out, key=lambda e: (e.facet, e.site, e.height_offset_A or 0.0))


def errors_by_origin(
    origins: list[str], e_dft: list[float], e_ml: list[float], f_dft: list[np.ndarray], f_ml: list[np.ndarray]
) -> dict[str, OriginErrors]:
    """Energy (meV/atom) and force (meV/Å) errors grouped by frame origin.

    Parameters
    ----------
    origins
        Origin of each frame.
    e_dft, e_ml
        Energies per atom (eV/atom) of each frame.
    f_dft, f_ml
        Flattened force components (eV/Å) of each frame.
    """
    table = {}
    for origin in sorted(set(origins)):
        idx = [i for i, o in enumerate(origins) if o == origin]
        de = (np.array([e_ml[i] for i in idx]) - np.array([e_dft[i] for i in idx])) * 1000.0
        df = (np.concatenate([f_ml[i] for i in idx]) - np.concatenate([f_dft[i] for i in idx])) * 1000.0
        table[origin] = OriginErrors(
            n_frames=len(idx),
            energy_mae_meV_atom=float(np.mean(np.abs(de))),
            energy_rmse_meV_atom=float(np.sqrt(np.mean(de**2))),
            force_mae_meV_A=float(np.mean(np.abs(df))),
            force_rmse_meV_A=float(np.sqrt(np.mean(df**2))),
        )
    return table


def check_training_errors(
    errors: HoldoutErrors, max_energy_mae_meV_atom: float | None, max_force_mae_meV_A: float | None
) -> None:
    """Raise :class:`FitQualityError` if the training-set errors of any origin exceed the thresholds.

    Parameters
    ----------
    errors
        Errors of the trained model on its own training frames (with ``by_origin``).
    max_energy_mae_meV_atom, max_force_mae_meV_A
        ``mlip.max_train_energy_mae_meV_atom`` and ``mlip.max_train_force_mae_meV_A`` (None: not checked).

    Raises
    ------
    FitQualityError
        Naming every failing origin with its frame count and energy and force MAE, and the thresholds.
    """
    failing = []
    for origin, e in sorted(errors.by_origin.items()):
        too_high = []
        if max_energy_mae_meV_atom is not None and e.energy_mae_meV_atom > max_energy_mae_meV_atom:
            too_high.append(f"energy MAE {e.energy_mae_meV_atom:.1f} meV/atom > {max_energy_mae_meV_atom:g}")
        if max_force_mae_meV_A is not None and e.force_mae_meV_A > max_force_mae_meV_A:
            too_high.append(f"force MAE {e.force_mae_meV_A:.1f} meV/Å > {max_force_mae_meV_A:g}")
        if too_high:
            failing.append(
                f"{origin} ({e.n_frames} frames: {', '.join(too_high)}; energy MAE {e.energy_mae_meV_atom:.1f} "
                f"meV/atom, force MAE {e.force_mae_meV_A:.1f} meV/Å)"
            )
    if failing:
        raise FitQualityError(
            "the fit does not reproduce its own training frames: "
            + "; ".join(failing)
            + " (thresholds mlip.max_train_energy_mae_meV_atom, mlip.max_train_force_mae_meV_A; train longer "
            "(max_epochs, early_stopping_patience), a larger model or more frames of that origin); nothing was deployed"
        )
