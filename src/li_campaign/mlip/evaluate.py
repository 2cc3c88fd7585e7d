"""Holdout errors and parity data of a deployed model."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from li_campaign.schemas.models import HoldoutErrors, OriginErrors, ParityData


def evaluate_holdout(calc, frames: list[Atoms], max_force_points: int = 3000, seed: int = 0) -> tuple[HoldoutErrors, ParityData]:
    """Compare the calculator with the DFT labels of ``frames`` (labelled Atoms).

    Energies are compared per atom (meV/atom), forces per Cartesian component (meV/Å),
    stresses per Voigt component (meV/Å^3). ``by_origin`` repeats the energy and force
    errors for each frame origin (``atoms.info["origin"]``).
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
        stress_mae_meV_A3=float(np.mean(np.concatenate(s_err)) * 1000.0),
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
