"""New teacher frames near the cells of failing spot checks, for the next committee.

A committee can agree with itself everywhere and still miss its teacher by the same amount in
every member (the fidelity campaign's first loop stopped as converged while 5 of 17 spot
checks failed: ``benchmarks/results/fidelity_2026-12-04_first_pass``). Force disagreement cannot
see such an error; the failing checks can. So while checks fail, the loop labels *perturbed
copies* of the cells those checks use: the adatom moved along the surface normal and every free
atom rattled. The checks' own frames are never trained on, so a check that passes afterwards
was still measured on a configuration the model did not see.

Written here: no library builds perturbations of a spot check's cells (``Atoms.rattle`` is the
rattle).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.active.committee import CommitteeEvaluator
from li_campaign.schemas.active import SelectedFrame
from li_campaign.schemas.spec import ActiveLearningSpec
from li_campaign.schemas.validation import PlannedCheck, SpotCheck, ValidationDoc
from li_campaign.simulation.relax import fixed_indices, structure_to_atoms

ORIGIN = "spot_check_neighbourhood"
"""Exploration origin of a perturbed copy of a failing spot check's cell."""

ADSORPTION_QUANTITIES = ("adsorption_energy", "relaxed_adsorption_energy")


def failing_checks(validation: ValidationDoc, checks: list[SpotCheck]) -> list[tuple[PlannedCheck, SpotCheck]]:
    """The planned checks whose row failed, worst first (largest |error| / threshold).

    ``checks`` are :func:`li_campaign.validation.compare.recheck`'s rows of ``validation``'s
    plan, one per planned check in the plan's order (the bulk a0/B0 rows are not redone).
    """
    planned = validation.plan.checks if validation.plan is not None else []
    if len(planned) != len(checks):
        raise ValueError(f"{len(checks)} spot-check rows for the {len(planned)} planned checks of the validation document")
    pairs = [(p, c) for p, c in zip(planned, checks) if c.status == "fail"]
    return sorted(pairs, key=lambda pc: -abs(pc[1].error or 0.0) / pc[1].threshold)


def cells_of(check: PlannedCheck, validation: ValidationDoc) -> list[str]:
    """Request names of a check's cells in the order their copies are labelled.

    Adsorption: the slab + adatom, then the clean slab; barrier: the teacher's highest image,
    then the band's first end, then the other images; surface energy: the slab.
    """
    names = list(check.frames)
    if check.quantity == "barrier" and len(names) > 2:
        energies = validation.teacher_energies
        inner = [n for n in names[1:] if n in energies]
        if inner:
            top = max(inner, key=lambda n: energies[n].energy_eV)
            names = [top, names[0], *[n for n in names[1:] if n != top]]
    return names


def perturb(atoms: Atoms, rattle_A: float, dz_A: float, adatom: bool, seed: int) -> Atoms:
    """A copy of ``atoms`` with its free atoms rattled and, with ``adatom``, its highest atom moved by ``dz_A``.

    Fixed atoms (``FixAtoms``) stay where they are.
    """
    copy = atoms.copy()
    fixed = set(fixed_indices(copy))
    displacement = np.random.default_rng(seed).normal(0.0, rattle_A, size=(len(copy), 3))
    displacement[list(fixed)] = 0.0
    positions = copy.get_positions() + displacement
    if adatom:
        positions[int(np.argmax(atoms.positions[:, 2])), 2] += dz_A
    copy.set_positions(positions, apply_constraint=False)
    return copy


def near_check_frames(
    validation: ValidationDoc,
    checks: list[SpotCheck],
    al: ActiveLearningSpec,
    iteration: int,
    committee: CommitteeEvaluator,
) -> list[SelectedFrame]:
    """Perturbed copies of the failing checks' cells, at most ``al.near_check_budget`` of them.

    Every failing check gets its first cell's first copy before any check gets a second frame
    (round robin, worst check first), so one bad check cannot take the whole budget. Copy ``c``
    of a cell is rattled by ``al.near_check_rattle_A``; in a slab + adatom cell its adatom (the
    highest atom) also moves along z by ``+h, −h, +2h, −2h, …`` with ``h =
    al.near_check_height_step_A``. Seeds: ``al.seed``, the iteration, the check and the copy.
    """
    if al.near_check_copies == 0 or al.near_check_budget == 0:
        return []
    requests = {r.name: r for r in validation.plan.requests} if validation.plan is not None else {}
    queues = []
    for k, (planned, row) in enumerate(failing_checks(validation, checks)):
        names = [n for n in cells_of(planned, validation) if n in requests]
        queues.append([(k, planned, row, name, copy) for copy in range(al.near_check_copies) for name in names])
    frames: list[SelectedFrame] = []
    while len(frames) < al.near_check_budget and any(queues):
        for queue in queues:
            if not queue or len(frames) >= al.near_check_budget:
                continue
            k, planned, row, name, copy = queue.pop(0)
            request = requests[name]
            adatom = planned.quantity in ADSORPTION_QUANTITIES and name == planned.frames[0]
            dz = al.near_check_height_step_A * (copy // 2 + 1) * (1 if copy % 2 == 0 else -1) if adatom else 0.0
            seed = int(np.random.SeedSequence([al.seed, iteration, k, copy]).generate_state(1)[0])
            atoms = perturb(structure_to_atoms(request.structure), al.near_check_rattle_A, dz, adatom, seed)
            check = f"{planned.quantity} ({planned.facet}) {planned.item}" if planned.facet else f"{planned.quantity} {planned.item}"
            shift = f", adatom dz {dz:+.2f} Å" if adatom else ""
            frames.append(
                SelectedFrame(
                    origin=ORIGIN,
                    label=f"{check} (error {row.error:+.3f} {row.unit}): {request.label}, copy {copy}{shift}, "
                    f"rattle {al.near_check_rattle_A} Å",
                    is_slab=request.slab,
                    max_force_std_eV_A=committee.max_force_std(atoms),
                    structure=AseAtomsAdaptor.get_structure(atoms).as_dict(),
                )
            )
    return frames
