"""Exploration with a committee: MD, relaxations and adatom hops driven by one member, judged by all.

:func:`fanout_frames` adds the fan-out's own configurations (NEB images, relaxed slabs).

The start structures are those the fan-out visits, small: a bulk supercell, a symmetric slab
of each facet and the slab with one Li adatom in its first (hollow) site
(:mod:`li_campaign.geometry.slabs`). Each is explored by ASE Langevin MD at the
temperatures of its kind and by a FIRE relaxation of a rattled copy; every
``sample_every`` steps the frame is evaluated by every member and its σ recorded. The adatom
also hops: it is moved in straight steps along the shortest in-plane lattice vector of the
slab to the next equivalent site, at each step set where its nearest slab atom is one bulk
bond away (:func:`~li_campaign.geometry.slabs.adatom_start_position`), as the images of an
unrelaxed NEB would sit. Written here: the sampling loop and the hop path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.optimize import FIRE
from ase.units import fs
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.geometry.slabs import (
    adatom_slabs,
    adatom_start_position,
    inplane_minimum_image,
    lateral_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
)
from li_campaign.schemas.spec import facet_label

if TYPE_CHECKING:
    from ase import Atoms

    from li_campaign.active.committee import CommitteeEvaluator
    from li_campaign.schemas.spec import ExplorationSpec


@dataclass(frozen=True)
class StartStructure:
    """A structure to explore: kind (bulk, slab, adatom), readable name, pymatgen structure."""

    kind: str
    name: str
    structure: Structure

    @property
    def is_slab(self) -> bool:
        """True for slabs and adatom cells (vacuum along z)."""
        return self.kind != "bulk"


@dataclass(frozen=True)
class ExploredFrame:
    """A frame every member evaluated."""

    origin: str
    label: str
    is_slab: bool
    atoms: Atoms
    max_force_std_eV_A: float


def start_structures(spec: ExplorationSpec, a: float) -> list[StartStructure]:
    """Return the bulk supercell, the slabs and the adatom cells of ``spec`` at lattice constant ``a`` (Å)."""
    n = spec.bulk_supercell
    out = [StartStructure("bulk", f"bulk {n}x{n}x{n}", bcc_li_conventional(a) * (n, n, n))]
    for hkl in spec.facets:
        slab = make_symmetric_slab(a, hkl, spec.min_slab_size_A, spec.min_vacuum_A)
        nx, ny = lateral_repeats(slab, spec.min_lateral_A)
        big = slab.copy()
        big.make_supercell([nx, ny, 1])
        out.append(StartStructure("slab", f"slab {facet_label(hkl)}", big))
        if spec.adatom:
            site, cell = adatom_slabs(slab, spec.min_lateral_A)[0]
            out.append(StartStructure("adatom", f"adatom {facet_label(hkl)} {site}", cell))
    return out


def _md(start: StartStructure, temperature_K: float, committee: CommitteeEvaluator, spec: ExplorationSpec, rng) -> list[ExploredFrame]:
    atoms = AseAtomsAdaptor.get_atoms(start.structure)
    atoms.calc = committee.driver
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    dyn = Langevin(
        atoms, spec.timestep_fs * fs, temperature_K=temperature_K, friction=spec.friction_per_fs / fs, fixcm=False, rng=rng
    )
    frames: list[ExploredFrame] = []
    for step in range(spec.sample_every, spec.md_steps + 1, spec.sample_every):
        dyn.run(spec.sample_every)
        frames.append(_frame(start, f"md {temperature_K:g} K step {step}", "md", atoms, committee))
    return frames


def _relax(start: StartStructure, committee: CommitteeEvaluator, spec: ExplorationSpec, rng) -> list[ExploredFrame]:
    atoms = AseAtomsAdaptor.get_atoms(start.structure)
    atoms.positions += rng.normal(0.0, spec.rattle_std_A, atoms.positions.shape)
    atoms.calc = committee.driver
    frames = [_frame(start, "relax step 0", "relax", atoms, committee)]
    opt = FIRE(atoms, logfile=None)
    for step in range(spec.sample_every, spec.relax_steps + 1, spec.sample_every):
        opt.run(fmax=1e-3, steps=spec.sample_every)
        frames.append(_frame(start, f"relax step {step}", "relax", atoms, committee))
    return frames


def hop_path(start: StartStructure, n_images: int) -> list[Atoms]:
    """Return the adatom hop images of an adatom cell (the adatom is its last site).

    The adatom moves along the shortest in-plane translation of the top layer (the shortest
    minimum-image difference of two top-layer atoms, or an in-plane cell vector), to the next
    equivalent site; images at fractions 1/(n+1) … n/(n+1), each at bonding height.
    """
    slab = start.structure.copy()
    slab.remove_sites([len(slab) - 1])
    coords, cell = slab.cart_coords, slab.lattice.matrix
    top = coords[coords[:, 2] > coords[:, 2].max() - 0.05]
    steps = [*inplane_minimum_image(cell, top[1:] - top[0]), cell[0, :2], cell[1, :2]]
    step = min(steps, key=lambda v: (round(float(np.linalg.norm(v)), 6), tuple(-np.round(v, 6))))
    begin = start.structure.cart_coords[-1]
    bond = nearest_neighbour_distance(slab)
    images = []
    for i in range(1, n_images + 1):
        xy = begin[:2] + step * i / (n_images + 1)
        position = adatom_start_position(slab, np.array([xy[0], xy[1], begin[2]]), bond)
        atoms = AseAtomsAdaptor.get_atoms(start.structure)
        atoms.positions[-1] = position
        images.append(atoms)
    return images


def _frame(start: StartStructure, what: str, method: str, atoms: Atoms, committee: CommitteeEvaluator) -> ExploredFrame:
    frame = atoms.copy()
    frame.calc = None
    return ExploredFrame(
        origin=f"{start.kind}_{method}",
        label=f"{start.name} {what}",
        is_slab=start.is_slab,
        atoms=frame,
        max_force_std_eV_A=committee.max_force_std(frame),
    )


def explore(starts: list[StartStructure], committee: CommitteeEvaluator, spec: ExplorationSpec, seed: int) -> list[ExploredFrame]:
    """Explore every start structure with the committee; return every evaluated frame, in a fixed order.

    Per start structure: MD at each temperature of its kind, then the relaxation of a
    rattled copy (if ``relax_steps``), then the hop (adatom cells, if ``hop_images``). All
    random numbers come from one ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    frames: list[ExploredFrame] = []
    for start in starts:
        temperatures = spec.bulk_temperatures_K if start.kind == "bulk" else spec.slab_temperatures_K
        for temperature in temperatures:
            frames += _md(start, temperature, committee, spec, rng)
        if spec.relax_steps:
            frames += _relax(start, committee, spec, rng)
        if start.kind == "adatom" and spec.hop_images:
            for i, image in enumerate(hop_path(start, spec.hop_images), start=1):
                frames.append(_frame(start, f"hop image {i}", "hop", image, committee))
    return frames


def _get(doc, field: str):
    """``doc[field]`` of a document or its dict (as jobflow hands them over)."""
    return doc.get(field) if isinstance(doc, dict) else getattr(doc, field)


def _structures(doc, field: str) -> list[Structure]:
    value = _get(doc, field)
    items = value if isinstance(value, list) else [value]
    return [item if not isinstance(item, dict) else Structure.from_dict(item) for item in items if item is not None]


def fanout_frames(fanout: dict, committee: CommitteeEvaluator) -> list[ExploredFrame]:
    """The fan-out's own configurations, each evaluated by every member.

    Every image of every NEB band (origin ``fanout_neb``: relaxed minima, saddles and the
    images between, the configurations the barriers come from) and the relaxed clean slabs
    of the adsorption and surface-energy calculations (``fanout_slab``), in facet order.

    Parameters
    ----------
    fanout
        ``surface``, ``adsorption`` and ``diffusion``: facet label -> the fan-out document
        (or its dict; None where that calculation failed), as the fan-out flow outputs them.
    committee
        The committee that evaluates every frame.
    """
    frames: list[ExploredFrame] = []
    for kind, field in (("surface", "relaxed_structure"), ("adsorption", "slab_structure")):
        for facet, doc in sorted((fanout.get(kind) or {}).items()):
            for structure in [] if doc is None else _structures(doc, field):
                start = StartStructure("fanout", f"({facet}) {kind} slab", structure)
                frames.append(_frame(start, "relaxed", "slab", AseAtomsAdaptor.get_atoms(structure), committee))
    for facet, doc in sorted((fanout.get("diffusion") or {}).items()):
        for hop in [] if doc is None else _get(doc, "hops"):
            path = f"({facet}) {_get(hop, 'mechanism')} {_get(hop, 'start')}->{_get(hop, 'end')}"
            for i, image in enumerate(_structures(hop, "images")):
                start = StartStructure("fanout", path, image)
                frames.append(_frame(start, f"image {i}", "neb", AseAtomsAdaptor.get_atoms(image), committee))
    return frames
