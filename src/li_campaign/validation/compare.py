"""Model against teacher on the planned spot checks: values, errors, refusals, pass or fail.

:func:`evaluate_checks` takes the model's and the teacher's total energy of every planned
frame and returns the :class:`SpotCheck` rows; :func:`recheck` runs another calculator (e.g. an
active-learning committee) on a stored plan against the stored teacher labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.spec import ValidationSpec
from li_campaign.schemas.validation import UNITS, PlannedCheck, SpotCheck, SpotCheckPlan, ValidationDoc
from li_campaign.simulation.relax import relax_atoms, structure_to_atoms
from li_campaign.surfaces.surface_energy import EV_PER_A2_TO_J_PER_M2
from li_campaign.validation.plan import BULK_FRAME


def thresholds(spec: ValidationSpec) -> dict[str, float]:
    """Quantity -> tolerance of the spec."""
    return {
        "adsorption_energy": spec.adsorption_tol_eV,
        "relaxed_adsorption_energy": spec.adsorption_tol_eV,
        "barrier": spec.barrier_tol_eV,
        "surface_energy": spec.surface_energy_tol_J_m2,
        "lattice_constant": spec.lattice_constant_tol_A,
        "bulk_modulus": spec.bulk_modulus_tol_GPa,
    }


@dataclass(frozen=True)
class Frame:
    """A labelled frame: total energy (eV), atoms and its id in the training store."""

    energy_eV: float
    n_atoms: int
    frame_id: str


def refuse_frames(
    frames: dict[str, Frame | None], reference_eV_atom: float, tolerance_eV_atom: float
) -> dict[str, str]:
    """Frames whose teacher energy per atom is absurd: further than the tolerance from the bulk reference.

    A silently broken SCF (or a wrong cell) gives an energy per atom far from the bulk's, while
    the slabs and adatom cells of a spot check stay within a few tenths of an eV of it.

    Returns
    -------
    dict
        Frame name -> reason, for every refused frame.
    """
    refused = {}
    for name, frame in frames.items():
        if frame is None:
            continue
        per_atom = frame.energy_eV / frame.n_atoms
        if not abs(per_atom - reference_eV_atom) <= tolerance_eV_atom:  # also catches NaN
            refused[name] = (
                f"teacher energy {per_atom:.4f} eV/atom of frame {frame.frame_id} is {per_atom - reference_eV_atom:+.3f} "
                f"eV/atom from the bulk reference {reference_eV_atom:.4f} (validation.max_energy_deviation_eV_atom = "
                f"{tolerance_eV_atom}): refused"
            )
    return refused


def _value(check: PlannedCheck, energies: list[float], counts: list[int], bulk_eV_atom: float) -> float:
    """The quantity of ``check`` from the total energies of its frames (one source: model or teacher)."""
    if check.quantity in ("adsorption_energy", "relaxed_adsorption_energy"):
        adatom, slab = energies
        return adatom - slab - bulk_eV_atom
    if check.quantity == "barrier":
        return max(energies) - energies[0]
    (slab,) = energies
    return (slab - counts[0] * bulk_eV_atom) / (2.0 * check.area_A2) * EV_PER_A2_TO_J_PER_M2


def _row(check: PlannedCheck, tolerance: float, **values) -> SpotCheck:
    return SpotCheck(
        quantity=check.quantity, facet=check.facet, item=check.item, unit=UNITS[check.quantity], geometry=check.geometry,
        model_reported=check.model_reported, threshold=tolerance, n_atoms=check.n_atoms, **values,
    )  # fmt: skip


def _judge(model: float, dft: float, tolerance: float) -> dict:
    error = model - dft
    passed = abs(error) <= tolerance
    reason = None if passed else f"|model − DFT| = {abs(error):.4g} > {tolerance:g}"
    return {"model": model, "dft": dft, "error": error, "status": "pass" if passed else "fail", "reason": reason}


def evaluate_checks(
    plan: SpotCheckPlan,
    spec: ValidationSpec,
    model_energies: dict[str, float],
    frames: dict[str, Frame | None],
    refused: dict[str, str],
) -> list[SpotCheck]:
    """Rows of the planned checks of a model.

    Parameters
    ----------
    plan
        The planned checks.
    spec
        The tolerances.
    model_energies
        Frame name -> the model's total energy of the same structure (eV).
    frames
        Frame name -> the teacher's label, None where its job failed.
    refused
        Frame name -> reason (:func:`refuse_frames`); a check using one is refused.
    """
    tol = thresholds(spec)
    rows = []
    for check in plan.checks:
        tolerance = tol[check.quantity]
        if check.skip_reason is not None:
            rows.append(_row(check, tolerance, status="skipped", reason=check.skip_reason))
            continue
        names = [BULK_FRAME, *check.frames]
        ids = [frames[n].frame_id for n in names if frames.get(n) is not None]
        missing = [n for n in names if frames.get(n) is None]
        bad = [refused[n] for n in names if n in refused]
        if missing or bad:
            reasons = [f"no teacher label for frame {n} (its job failed)" for n in missing] + bad
            rows.append(_row(check, tolerance, status="refused", reason="; ".join(reasons), frame_ids=ids))
            continue
        counts = [frames[n].n_atoms for n in check.frames]
        bulk = frames[BULK_FRAME]
        model = _value(
            check, [model_energies[n] for n in check.frames], counts, model_energies[BULK_FRAME] / bulk.n_atoms
        )
        dft = _value(check, [frames[n].energy_eV for n in check.frames], counts, bulk.energy_eV / bulk.n_atoms)
        rows.append(_row(check, tolerance, frame_ids=ids, **_judge(model, dft, tolerance)))
    return rows


def bulk_checks(spec: ValidationSpec, model: BulkDoc, teacher: BulkDoc | None) -> list[SpotCheck]:
    """a0 and B0 of the model's EOS against the teacher's own EOS (none without a teacher EOS)."""
    if teacher is None:
        return []
    tol = thresholds(spec)
    rows = []
    for quantity, field in (("lattice_constant", "lattice_constant_A"), ("bulk_modulus", "bulk_modulus_GPa")):
        value, reference = getattr(model, field), getattr(teacher, field)
        rows.append(
            SpotCheck(
                quantity=quantity,
                item="bcc",
                unit=UNITS[quantity],
                geometry="Birch–Murnaghan EOS of each",
                model_reported=value,
                threshold=tol[quantity],
                **_judge(value, reference, tol[quantity]),
            )  # fmt: skip
        )
    return rows


def model_energies(plan: SpotCheckPlan, calc) -> dict[str, float]:
    """Frame name -> the total energy ``calc`` (an ASE calculator) gives the planned structure (eV).

    A relaxation request is relaxed first with ``plan.relax`` (fixed cell, its fixed atoms
    held), as the teacher relaxed it, and its final energy counts.
    """
    energies = {}
    for request in plan.requests:
        atoms = structure_to_atoms(request.structure)
        if request.relax:
            if plan.relax is None:
                raise ValueError(f"plan frame {request.name} is a relaxation but the plan has no relax settings")
            energies[request.name] = relax_atoms(atoms, calc, plan.relax)[1]
            continue
        atoms.calc = calc
        energies[request.name] = float(atoms.get_potential_energy())
    return energies


def recheck(validation: ValidationDoc, spec: ValidationSpec, calc) -> list[SpotCheck]:
    """The planned checks of a stored spot-check run, redone with ``calc`` against the same teacher labels.

    No DFT runs: the frames and the teacher's energies are those of ``validation``; frames
    it refused stay refused. The bulk a0/B0 rows (EOS fits) are not redone.

    Raises
    ------
    ValueError
        If ``validation`` was stored without its plan.
    """
    if validation.plan is None:
        raise ValueError(f"spot checks of model {validation.model_sha256[:12]} were stored without their plan")
    frames = {
        request.name: (
            Frame(t.energy_eV, t.n_atoms, t.frame_id) if (t := validation.teacher_energies.get(request.name)) else None
        )
        for request in validation.plan.requests
    }
    refused = {
        name: validation.refused_frames[frame.frame_id]
        for name, frame in frames.items()
        if frame is not None and frame.frame_id in validation.refused_frames
    }
    return evaluate_checks(validation.plan, spec, model_energies(validation.plan, calc), frames, refused)
