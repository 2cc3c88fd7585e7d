"""Build the list of structures that get DFT labels, from the campaign spec.

Engine-independent: each item says what to compute (a single point, a relaxation or an
MD run) and the DFT engine of the spec turns it into a job
(:class:`li_campaign.structures.jobs.TrainingSetMaker`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import units
from ase.calculators.morse import MorsePotential
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from li_campaign.core.lithium import bcc_li_conventional, check_lithium_structure
from li_campaign.core.miller import distinct_facets
from li_campaign.dft.kpoints import commensurate_kmesh
from li_campaign.geometry.slabs import (
    adatom_start_position,
    add_adatom,
    image_repeats,
    make_symmetric_slab,
    nearest_neighbour_distance,
    top_surface_sites,
)
from li_campaign.geometry.steps import stepped_slab
from li_campaign.schemas.spec import AimdTrainingSpec, MlipSpec, MorseSpec, SlabTrainingSpec, TrainingSetSpec, facet_label

LI_MELTING_POINT_K = 453.7
"""Melting point of Li at ambient pressure (K, experiment); MD frames above it are tagged ``liquid``."""


def md_origin(temperature_K: float) -> str:
    """Origin tag of MD frames at ``temperature_K``: ``liquid`` above the melting point of Li, else ``aimd``."""
    return "liquid" if temperature_K > LI_MELTING_POINT_K else "aimd"


@dataclass(frozen=True)
class TrainingStructure:
    """A structure to label, with its origin tag, a readable label and what to compute.

    ``calculation`` is ``static`` (one frame), ``relax`` (frames along a fixed-cell
    relaxation) or ``md`` (frames of an MD run by the engine at ``temperature_K``).

    ``kpoint_repeats`` and ``kpoint_multiple`` make the k-meshes of a facet's slabs and adatom
    supercells commensurate (:meth:`kpoint_mesh`): the cell is ``kpoint_repeats`` times the
    facet's slab in-plane, and the slab's in-plane mesh is rounded up to a multiple of
    ``kpoint_multiple`` (the adatom supercell's repeats). ``(1, 1)`` and ``(1, 1)``: the plain
    k-spacing rule.
    """

    origin: str
    label: str
    structure: Structure
    calculation: Literal["static", "relax", "md"] = "static"
    temperature_K: float | None = None
    kpoint_repeats: tuple[int, int] = (1, 1)
    kpoint_multiple: tuple[int, int] = (1, 1)

    def kpoint_mesh(self, kspacing_inv_A: float | None) -> list[int] | None:
        """The explicit k-mesh of this cell for an engine with ``kspacing_inv_A``, or None for the engine's own rule.

        ``[1, 1, 1]`` for the isolated atom (no dispersion in a box). None where the engine has
        no k-points (``kspacing_inv_A`` None) or the cell needs no
        commensurate mesh (both repeats (1, 1)): its label settings, and so its reuse key, stay
        those of the plain k-spacing rule. Otherwise
        :func:`~li_campaign.dft.kpoints.commensurate_kmesh`, a function of the cell and the
        spec only (deterministic, so it can enter reuse keys).
        """
        if kspacing_inv_A is None:
            return None
        if self.origin == "isolated_atom":
            return [1, 1, 1]
        if not self.is_slab or (self.kpoint_repeats, self.kpoint_multiple) == ((1, 1), (1, 1)):
            return None
        return commensurate_kmesh(self.structure.lattice.matrix, kspacing_inv_A, self.kpoint_repeats, self.kpoint_multiple)

    @property
    def is_slab(self) -> bool:
        """True for cells with vacuum: slabs, adatom slabs, stepped slabs (along z) and the isolated atom.

        Their stress is not labelled, and (without an explicit mesh) they get one k-point along z.
        """
        return self.origin in ("slab", "adatom", "step", "isolated_atom")


def _random_strain(rng: np.random.Generator, max_strain: float) -> np.ndarray:
    """Symmetric strain tensor with components uniform in [-max_strain, max_strain]."""
    eps = rng.uniform(-max_strain, max_strain, size=(3, 3))
    return 0.5 * (eps + eps.T)


def _strained(structure: Structure, strain: np.ndarray) -> Structure:
    new = structure.copy()
    new.lattice = new.lattice.__class__(new.lattice.matrix @ (np.eye(3) + strain))
    return new


def _rattled(structure: Structure, rng: np.random.Generator, std: float) -> Structure:
    new = structure.copy()
    displacements = rng.normal(0.0, std, size=(len(new), 3))
    for i, disp in enumerate(displacements):
        new.translate_sites([i], disp, frac_coords=False, to_unit_cell=True)
    return new


def _perturbed_slab(slab: Structure, rng: np.random.Generator, max_z_strain: float, max_shift: float) -> Structure:
    """Scale the interlayer spacings by 1+ε_z and move both outermost layers along z.

    Surface relaxation changes exactly these coordinates; without such frames a model
    extrapolates when a slab relaxes.
    """
    new = slab.copy()
    z = new.cart_coords[:, 2]
    centre = 0.5 * (z.min() + z.max())
    eps = rng.uniform(-max_z_strain, max_z_strain)
    shift = rng.uniform(-0.5 * max_shift, max_shift)  # outward relaxation is the larger risk
    for i, zi in enumerate(z):
        dz = (zi - centre) * eps
        if abs(zi - z.max()) < 0.05:
            dz += shift
        elif abs(zi - z.min()) < 0.05:
            dz -= shift
        new.translate_sites([i], [0.0, 0.0, dz], frac_coords=False, to_unit_cell=False)
    return new


def adatom_image_distance(slabs: SlabTrainingSpec, r_max_A: float | None = None) -> float:
    """Smallest distance (Å) between an adatom and its periodic images in the training set's adatom cells.

    The larger of ``adatom_min_lateral_A`` and ``adatom_min_image_distance_A``; the latter
    unset, the campaign's ``r_max_A`` (``mlip.r_max_A``, passed by the caller), or the
    default of :class:`~li_campaign.schemas.spec.MlipSpec` if that is not given either.
    """
    distance = slabs.adatom_min_image_distance_A
    if distance is None:
        distance = r_max_A if r_max_A is not None else MlipSpec.model_fields["r_max_A"].default
    return max(float(slabs.adatom_min_lateral_A), float(distance))


def adatom_height_offsets(slabs: SlabTrainingSpec) -> list[float]:
    """Offsets (Å) of the adatom height scan from the start height: ``adatom_n_heights`` evenly spaced over
    ``adatom_height_range_A`` (0 alone when one height is asked for)."""
    if slabs.adatom_n_heights == 1:
        return [0.0]
    low, high = slabs.adatom_height_range_A
    return [float(x) for x in np.linspace(low, high, slabs.adatom_n_heights)]


def adatom_height_scan(
    slab: Structure, repeats: tuple[int, int], offsets: list[float]
) -> list[tuple[str, float, Structure]]:
    """Adatom cells at every symmetry-distinct top-surface site and each height: ``[(site, offset, cell), ...]``.

    The slab is repeated ``repeats`` in-plane; the sites are those of
    :func:`~li_campaign.geometry.slabs.top_surface_sites` (the fan-out's site finder, so every
    site type the fan-out computes, the bulk-continuation sites included), labelled
    ``<type>-<i>`` as the fan-out labels them. Per site, the adatom sits above the site at the
    start height of :func:`~li_campaign.geometry.slabs.adatom_start_position` (nearest slab atom
    one bulk nearest-neighbour distance away) plus each offset.
    """
    supercell = slab.copy()
    supercell.make_supercell([repeats[0], repeats[1], 1])
    bond = nearest_neighbour_distance(supercell)
    out: list[tuple[str, float, Structure]] = []
    for kind, positions in top_surface_sites(supercell).items():
        for i, site in enumerate(positions):
            start = adatom_start_position(supercell, site, bond)
            for offset in offsets:
                out.append((f"{kind}-{i}", offset, add_adatom(supercell, start + np.array([0.0, 0.0, offset]))))
    return out


def generate_training_structures(
    spec: TrainingSetSpec, seed: int, r_max_A: float | None = None, fanout_slab_size_A: float | None = None
) -> list[TrainingStructure]:
    """Return every structure of the training set, deterministically for a given seed.

    The set holds: conventional cells under random strain (``bulk_strain``); strained
    and rattled supercells (``bulk_rattle``); vacancy supercells (``vacancy``); symmetric
    slabs of each facet and perturbed copies (``slab``), and the slabs with one Li adatom at
    every symmetry-distinct site, each at ``adatom_n_heights`` heights, slightly rattled
    (``adatom``; :func:`adatom_height_scan`). The adatom cells repeat the slab in-plane
    until the adatom's images are :func:`adatom_image_distance` apart (``r_max_A``: the
    campaign's ``mlip.r_max_A``); the slabs of a facet and its adatom cells carry
    commensurate k-meshes (:meth:`TrainingStructure.kpoint_mesh`).
    The optional sections add equation-of-state cells (``bulk_eos``), rattled supercells
    at several amplitudes (``bulk_rattle``), divacancies (``divacancy``), stepped and
    kinked slabs (``step``) and MD snapshots (``aimd``, ``liquid`` above the melting
    point); with ``relax`` the
    unperturbed cells of its origins are relaxed instead of labelled once (for ``adatom``:
    the cell at the start height of each site). They draw
    from the random stream after the default sections, so enabling them leaves the
    default structures unchanged; so do the clean slabs at the fan-out's thickness
    (``fanout_slab_size_A``, the campaign's ``fanout.slab.min_slab_size_A``;
    :func:`fanout_thickness_slabs`), which come after them. Last comes one isolated atom in a box
    (``isolated_atom``, :func:`isolated_atom`; Γ only): the teacher's zero-neighbour energy,
    which the fit uses as the model's energy shift (``mlip.energy_shift``).
    """
    rng = np.random.default_rng(seed)

    def relax(origin: str) -> Literal["static", "relax"]:
        return "relax" if spec.relax is not None and origin in spec.relax.origins else "static"

    a = spec.lattice_constant_A
    unit = bcc_li_conventional(a)
    out: list[TrainingStructure] = []
    b = spec.bulk
    for i in range(b.n_strained):
        strain = np.zeros((3, 3)) if i == 0 else _random_strain(rng, b.max_strain)
        out.append(TrainingStructure("bulk_strain", f"bulk strain {i}", _strained(unit, strain)))
    for i in range(b.n_rattled):
        cell = unit * b.rattled_supercell
        cell = _strained(cell, _random_strain(rng, 0.5 * b.max_strain))
        out.append(TrainingStructure("bulk_rattle", f"bulk rattle {i}", _rattled(cell, rng, b.rattle_std_A)))
    if spec.vacancy is not None:
        big = unit * spec.vacancy.supercell
        for i in range(b.n_large_rattled):
            cell = _strained(big, _random_strain(rng, 0.5 * b.max_strain))
            out.append(TrainingStructure("bulk_rattle", f"bulk rattle large {i}", _rattled(cell, rng, b.rattle_std_A)))
        for i in range(spec.vacancy.n_rattled):
            vac = big.copy()
            vac.remove_sites([0])
            if i > 0:
                vac = _rattled(vac, rng, 0.5 * b.rattle_std_A)
            out.append(TrainingStructure("vacancy", f"vacancy {i}", vac, relax("vacancy") if i == 0 else "static"))
    if spec.slabs is not None:
        s = spec.slabs
        offsets = adatom_height_offsets(s)
        start_height = int(np.argmin(np.abs(offsets)))  # the scan point relaxed where relax.origins has adatom
        for hkl in _training_facets(s):
            slab = make_symmetric_slab(a, hkl, s.min_slab_size_A, s.min_vacuum_A)
            name = facet_label(hkl)
            repeats = image_repeats(slab, adatom_image_distance(s, r_max_A)) if s.adatom else (1, 1)
            out.append(TrainingStructure("slab", f"slab {name}", slab, relax("slab"), kpoint_multiple=repeats))
            for i in range(s.n_perturbed):
                perturbed = _perturbed_slab(slab, rng, s.max_z_strain, s.surface_shift_A)
                out.append(
                    TrainingStructure(
                        "slab", f"slab {name} perturbed {i}", _rattled(perturbed, rng, s.rattle_std_A),
                        kpoint_multiple=repeats,
                    )
                )  # fmt: skip
            if s.adatom:
                for site, offset, cell in adatom_height_scan(slab, repeats, offsets):
                    cell = _rattled(cell, rng, 0.5 * s.rattle_std_A)
                    if s.adatom_height_jitter_A > 0:
                        jitter = rng.uniform(-1, 1) * s.adatom_height_jitter_A
                        cell.translate_sites([len(cell) - 1], [0, 0, jitter], frac_coords=False)
                    calculation = relax("adatom") if offsets[start_height] == offset else "static"
                    label = f"slab {name} + adatom {site}" + (f" dz {offset:+.2f} Å" if len(offsets) > 1 else "")
                    out.append(
                        TrainingStructure("adatom", label, cell, calculation, kpoint_repeats=repeats, kpoint_multiple=repeats)
                    )
    out += _extra_structures(spec, unit, rng, relax)
    if spec.slabs is not None and spec.slabs.fanout_thickness and fanout_slab_size_A is not None:
        out += fanout_thickness_slabs(spec, fanout_slab_size_A, rng, r_max_A)
    if spec.isolated_atom_box_A is not None:  # last: the other frames keep their indices with or without it
        out.append(TrainingStructure("isolated_atom", "isolated atom", isolated_atom(spec.isolated_atom_box_A)))
    for item in out:
        check_lithium_structure(item.structure, item.label)
    return out


def fanout_thickness_slabs(
    spec: TrainingSetSpec, fanout_slab_size_A: float, rng: np.random.Generator, r_max_A: float | None = None
) -> list[TrainingStructure]:
    """Each training facet's clean slab at the fan-out's thickness, with ``n_perturbed`` perturbed copies.

    Only for the facets where that slab has a different number of layers from the training
    slab (``slabs.min_slab_size_A``); none where they agree. Vacuum as the training slabs
    (``slabs.min_vacuum_A``: beyond ``r_max`` it does not change what the model sees); k-meshes
    commensurate with the facet's adatom cells, as its other slabs. Labels
    ``slab <hkl> fan-out thickness`` and ``… perturbed <i>``.
    """
    s = spec.slabs
    a = spec.lattice_constant_A
    out: list[TrainingStructure] = []
    for hkl in _training_facets(s):
        thin = make_symmetric_slab(a, hkl, s.min_slab_size_A, s.min_vacuum_A)
        slab = make_symmetric_slab(a, hkl, fanout_slab_size_A, s.min_vacuum_A)
        if len(slab) == len(thin):
            continue
        name = f"slab {facet_label(hkl)} fan-out thickness"
        repeats = image_repeats(thin, adatom_image_distance(s, r_max_A)) if s.adatom else (1, 1)
        out.append(TrainingStructure("slab", name, slab, kpoint_multiple=repeats))
        for i in range(s.n_perturbed):
            perturbed = _rattled(_perturbed_slab(slab, rng, s.max_z_strain, s.surface_shift_A), rng, s.rattle_std_A)
            out.append(TrainingStructure("slab", f"{name} perturbed {i}", perturbed, kpoint_multiple=repeats))
    return out


def isolated_atom(box_A: float) -> Structure:
    """One Li atom at the centre of a cubic box of edge ``box_A`` (Å): the zero-neighbour limit."""
    return Structure(Lattice.cubic(box_A), ["Li"], [[0.5, 0.5, 0.5]])


def _training_facets(slabs) -> list[tuple[int, int, int]]:
    """The facets of the slab section: every distinct facet up to ``max_miller_index`` if set, else ``facets``."""
    if slabs.max_miller_index is None:
        return list(slabs.facets)
    return distinct_facets(slabs.max_miller_index)


def _divacancy(cell: Structure, shell: int) -> Structure:
    """Remove site 0 and the first site in its ``shell``-th neighbour shell (distances rounded to 0.01 Å)."""
    distances = np.round(cell.distance_matrix[0], 2)
    shells = np.unique(distances[distances > 0])
    if shell > len(shells):
        raise ValueError(f"neighbour shell {shell} does not fit in a cell of {len(cell)} atoms")
    partner = int(np.flatnonzero(distances == shells[shell - 1])[0])
    out = cell.copy()
    out.remove_sites([0, partner])
    return out


def morse_md_snapshots(
    cell: Structure, aimd: AimdTrainingSpec, morse: MorseSpec, temperature_K: float, seed: int
) -> list[tuple[int, Structure]]:
    """Snapshots of an ASE Langevin run driven by a Morse potential: ``[(step, structure), ...]``.

    The cheap route to MD configurations (``aimd.driver: morse``): the steps kept are those a
    DFT-driven run would keep (every ``stride``-th after ``equilibration_steps``); the DFT
    engine labels them afterwards as single points.
    """
    atoms = AseAtomsAdaptor.get_atoms(cell)
    atoms.calc = MorsePotential(
        epsilon=morse.epsilon_eV, r0=morse.r0_A, rho0=morse.rho0, rcut1=0.8 * morse.cutoff_A / morse.r0_A,
        rcut2=morse.cutoff_A / morse.r0_A,
    )  # fmt: skip
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=np.random.default_rng(seed))
    dynamics = Langevin(
        atoms, aimd.time_step_fs * units.fs, temperature_K=temperature_K, friction=aimd.friction_per_fs / units.fs,
        rng=np.random.default_rng(seed + 1), fixcm=False,
    )  # fmt: skip
    snapshots: list[tuple[int, Structure]] = []
    for step in range(aimd.n_steps):
        if step >= aimd.equilibration_steps and (step - aimd.equilibration_steps) % aimd.stride == 0:
            snapshots.append((step, AseAtomsAdaptor.get_structure(atoms)))
        dynamics.run(1)
    return snapshots


def _extra_structures(spec: TrainingSetSpec, unit: Structure, rng: np.random.Generator, relax) -> list[TrainingStructure]:
    """The optional sections: EOS, multi-amplitude rattles, divacancies, stepped slabs and MD.

    Stepped slabs (:func:`li_campaign.geometry.steps.stepped_slab`) are labelled clean, or
    relaxed when ``relax.origins`` has ``step`` (their bottom planes carry
    ``selective_dynamics`` and stay fixed in VASP relaxations).
    """
    out: list[TrainingStructure] = []
    a = spec.lattice_constant_A
    if spec.eos is not None:
        for i, eps in enumerate(np.linspace(-spec.eos.max_linear_strain, spec.eos.max_linear_strain, spec.eos.n_points)):
            cell = Structure(Lattice.cubic(a * (1 + eps)), unit.species, unit.frac_coords)
            out.append(TrainingStructure("bulk_eos", f"bulk eos {i} (a = {a * (1 + eps):.3f} Å)", cell))
    if spec.rattle is not None:
        r = spec.rattle
        big = unit * r.supercell
        for amplitude in r.amplitudes_A:
            for j in range(r.n_per_amplitude):
                cell = _strained(big, _random_strain(rng, r.max_strain)) if r.max_strain > 0 else big.copy()
                out.append(TrainingStructure("bulk_rattle", f"bulk rattle {amplitude:g} Å {j}", _rattled(cell, rng, amplitude)))
    if spec.divacancy is not None:
        d = spec.divacancy
        big = unit * d.supercell
        for shell in d.shells:
            cell = _divacancy(big, shell)
            out.append(TrainingStructure("divacancy", f"divacancy {shell}NN", cell, relax("divacancy")))
            for j in range(d.n_rattled):
                out.append(TrainingStructure("divacancy", f"divacancy {shell}NN rattled {j}", _rattled(cell, rng, d.rattle_std_A)))
    if spec.steps is not None:
        st = spec.steps
        for terrace in st.terraces:
            for kinked in (False, True) if st.kinks else (False,):
                stepped = stepped_slab(
                    a, terrace, st.terrace_width_rows, st.slab_thickness_A, st.vacuum_A, st.fix_bottom_layers,
                    n_along=st.kink_spacing_atoms if kinked else 1, kinked=kinked,
                )  # fmt: skip
                name = f"{'kinked ' if kinked else ''}step on {facet_label(terrace)}"
                out.append(TrainingStructure("step", name, stepped.structure, relax("step")))
    if spec.aimd is not None:
        md = spec.aimd
        start = unit * md.supercell
        for temperature in md.temperatures_K:
            origin = md_origin(temperature)
            if md.driver == "engine":
                out.append(TrainingStructure(origin, f"md {temperature:g} K", start, "md", temperature))
                continue
            seed = int(rng.integers(2**31))
            for step, snapshot in morse_md_snapshots(start, md, md.driver_morse, temperature, seed):
                out.append(TrainingStructure(origin, f"md {temperature:g} K (morse-driven) step {step}", snapshot))
    return out
