"""Training-frame documents from labelled structures, shared by every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import check_lithium_structure
from li_campaign.dft.engines import LabelError
from li_campaign.execution.reuse import calculation_key
from li_campaign.schemas.frames import TrainingFrameBatchDoc, TrainingFrameDoc
from li_campaign.schemas.provenance import Provenance

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from li_campaign.dft.parse import IonicFrame


def frame_key(calculation: str, structure: Structure, settings: dict) -> str:
    """Reuse key of a label calculation (``static``, ``relax``, ``md``) of ``structure`` with ``settings``.

    Kind ``dft_frame`` for single points (as :class:`~li_campaign.dft.jobs.LabelFrameMaker`),
    ``dft_relax`` and ``dft_md`` for trajectories; no model (DFT).
    """
    kind = "dft_frame" if calculation == "static" else f"dft_{calculation}"
    return calculation_key(kind, structure_hash(structure), None, settings)


def frame_doc(
    structure: Structure,
    energy: float,
    forces: np.ndarray,
    stress: np.ndarray | None,
    *,
    frame_id: str,
    origin: str,
    label: str,
    engine: str,
    settings: dict,
    wall_time_s: float,
    campaign: str,
    spec_hash: str,
    calc_key: str | None = None,
) -> TrainingFrameDoc:
    """Return the :class:`TrainingFrameDoc` of one labelled structure.

    Raises
    ------
    InputError
        If the structure is not Li-only (a Li campaign stores no other frames).
    LabelError
        If the stress is missing or a value is not finite.
    """
    check_lithium_structure(structure, label)
    forces = np.asarray(forces, dtype=float)
    if stress is None:
        raise LabelError(f"{label}: the engine computed no stress (VASP: ISIF = 0); a frame needs one")
    stress = np.asarray(stress, dtype=float)
    if not (np.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()):
        raise LabelError(f"{label}: non-finite energy/forces/stress")
    if forces.shape != (len(structure), 3):
        raise LabelError(f"{label}: forces of shape {forces.shape} for {len(structure)} atoms")
    return TrainingFrameDoc(
        frame_id=frame_id,
        origin=origin,
        label=label,
        structure=structure,
        n_atoms=len(structure),
        energy_eV=float(energy),
        energy_per_atom_eV=float(energy) / len(structure),
        forces_eV_A=forces.tolist(),
        stress_eV_A3=stress.tolist(),
        engine=engine,
        wall_time_s=wall_time_s,
        provenance=Provenance(
            campaign=campaign,
            spec_hash=spec_hash,
            dft_settings=settings,
            structure_hash=structure_hash(structure),
            calc_key=calc_key,
        ),
    )


def batch_doc(
    frames: list[IonicFrame],
    n_steps: int,
    *,
    frame_id: str,
    origin: str,
    label: str,
    engine: str,
    settings: dict,
    wall_time_s: float,
    campaign: str,
    spec_hash: str,
    input_structure: Structure,
    calc_key: str | None = None,
) -> TrainingFrameBatchDoc:
    """Return the :class:`TrainingFrameBatchDoc` of the kept ionic steps of one calculation.

    Frame ids are ``<frame_id>:<step>``; each frame's wall time is the calculation's share.
    """
    if not frames:
        raise LabelError(f"{label}: no ionic step kept ({n_steps} steps run)")
    share = wall_time_s / max(n_steps, 1)
    docs = [
        frame_doc(
            f.structure,
            f.energy_eV,
            f.forces,
            f.stress,
            frame_id=f"{frame_id}:{f.step:04d}",
            origin=origin,
            label=f"{label} step {f.step}",
            engine=engine,
            settings=settings,
            wall_time_s=share,
            campaign=campaign,
            spec_hash=spec_hash,
        )
        for f in frames
    ]
    return TrainingFrameBatchDoc(
        frame_ids=[d.frame_id for d in docs],
        origin=origin,
        label=label,
        steps=[f.step for f in frames],
        n_steps=n_steps,
        frames=docs,
        engine=engine,
        wall_time_s=wall_time_s,
        provenance=Provenance(
            campaign=campaign,
            spec_hash=spec_hash,
            dft_settings=settings,
            structure_hash=structure_hash(input_structure),
            calc_key=calc_key,
        ),
    )
