"""Which of a model's fan-out results the teacher recomputes, and at which geometries.

Every check is evaluated at the model's own relaxed geometries, so the model and the teacher
see identical structures and the difference is the model's error alone (no relaxation
noise):

* adsorption energy, per facet at the lowest ``sites_per_facet`` stable sites: the relaxed
  NEB endpoint at that site (slab + adatom, every atom relaxed by the model) and the relaxed
  clean slab of the same cell; a stable site no NEB band starts or ends at is placed at its
  relaxed height on the clean slab;
* barrier, per facet: the hop of the effective (bottleneck) barrier, or the lowest hop when
  the network does not percolate, single points along the model's converged band;
* relaxed adsorption energy (``relax_adsorption``), the same two cells per site relaxed by the
  teacher and by the model from those geometries (``relax``): E_ads at each one's own minimum;
* surface energy, on the low-index facets: the model's relaxed slab;
* bulk: the 2-atom cube at the model's lattice constant gives ε_bulk of every energy above.

A cell larger than ``max_atoms`` keeps only its top layers (:func:`thin_cells`): the same
facet, lateral cell and coverage, in a cell the teacher can afford; the check's geometry says so.

Written by hand: atomate2 and autoplex validate a potential on DFT test sets (energies and
forces of frames), not on derived quantities at the potential's own geometries.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from li_campaign.core.hashing import structure_hash
from li_campaign.core.lithium import bcc_li_conventional
from li_campaign.schemas.bulk import BulkDoc
from li_campaign.schemas.kinetics import DiffusionDoc, Hop
from li_campaign.schemas.spec import ValidationSpec
from li_campaign.schemas.surfaces import AdsorptionDoc, SurfaceEnergyDoc
from li_campaign.schemas.validation import LabelRequest, PlannedCheck, SpotCheckPlan

BULK_FRAME = "bulk"
"""Name of the bulk frame in every plan."""


def _doc(cls, value):
    """``value`` as a ``cls`` document (jobflow may hand over the dict), or None."""
    if value is None or isinstance(value, cls):
        return value
    return cls.model_validate(value)


def _structure(value) -> Structure:
    return value if isinstance(value, Structure) else Structure.from_dict(value)


def _hop_images(hop: Hop) -> list[Structure]:
    return [_structure(image) for image in hop.images or []]


def band_indices(n_images: int, most: int, peak: int | None = None, symmetric: bool = False) -> list[int]:
    """Indices of at most ``most`` images of an ``n_images`` band: evenly spaced, both endpoints kept.

    With ``peak`` (the model's highest image, its saddle), that image replaces the evenly spaced
    one nearest to it, so the teacher always sees the geometry the model's barrier is taken at;
    ``most`` = 3 then gives start, saddle, end. ``symmetric``: the hop joins two symmetry-equivalent
    sites, so the end is the start by symmetry and is not labelled again (the barrier, the highest
    image's energy minus the start's, needs only the start and the inner images).
    """
    if n_images <= most:
        keep = list(range(n_images))
    else:
        keep = [int(round(x)) for x in np.linspace(0, n_images - 1, most)]
        if peak is not None and 0 < peak < n_images - 1 and peak not in keep:
            inner = min(range(1, most - 1), key=lambda k: abs(keep[k] - peak))
            keep[inner] = peak
        keep = sorted(set(keep))
    if symmetric and len(keep) > 2 and keep[-1] == n_images - 1 and peak != n_images - 1:
        keep.pop()
    return keep


MIN_LAYERS = 3
"""Fewest atomic layers a thinned validation slab keeps."""
LAYER_GAP_A = 0.1
"""Two atoms whose heights differ by more than this (Å) are in different layers."""


def thin_cells(
    cells: list[Structure], most: int, reference: Structure | None = None
) -> tuple[list[Structure], int] | None:
    """The same cells with their lowest layers removed, so that none has more than ``most`` atoms.

    One height cut, placed in the gap between two layers of ``reference`` (the clean slab the
    cells are built on; by default the smallest cell, e.g. the clean slab of an adatom cell), is applied to every
    cell, so cells that share a slab still share it. The lateral cell, and so the adatom
    coverage, is unchanged; the top layers and the adatom keep the model's relaxed positions,
    and the new bottom is a bulk-truncated one. The cell is shortened by the removed thickness,
    so the vacuum stays that of the fan-out's slab (a plane-wave teacher pays for the cell
    volume, vacuum included). Model and teacher both see the thinned cells.

    Returns
    -------
    tuple or None
        The thinned cells and the layers of the reference; None if fewer than
        :data:`MIN_LAYERS` layers would remain.
    """
    reference = reference or min(cells, key=len)
    extra = max(len(c) for c in cells) - len(reference)  # e.g. the adatom
    z = np.sort(reference.cart_coords[:, 2])
    gaps = np.flatnonzero(np.diff(z) > LAYER_GAP_A) + 1  # first index of each layer above the lowest
    for start in gaps:
        if len(z) - start + extra <= most:
            layers = int(np.sum(gaps >= start))  # the layers from the one starting at `start` up
            if layers < MIN_LAYERS:
                return None
            cut = 0.5 * (z[start - 1] + z[start])
            thinned = [_shortened([site for site in cell if site.coords[2] > cut], z[start] - z[0]) for cell in cells]
            return thinned, layers
    return None


def _shortened(sites: list, removed_A: float) -> Structure:
    """The kept ``sites`` moved down by ``removed_A`` in a cell that much lower (c scaled along its own direction).

    Site properties every site has (e.g. the fixed-atom flags ``selective_dynamics``) are kept.
    """
    lattice = sites[0].lattice.matrix.copy()
    lattice[2] *= (lattice[2, 2] - removed_A) / lattice[2, 2]
    coords = np.array([site.coords for site in sites]) - np.array([0.0, 0.0, removed_A])
    keys = set.intersection(*(set(site.properties) for site in sites))
    properties = {key: [site.properties[key] for site in sites] for key in keys} or None
    return Structure(
        lattice, [site.species for site in sites], coords, coords_are_cartesian=True, site_properties=properties
    )


def effective_hop(diffusion: DiffusionDoc) -> tuple[Hop | None, str]:
    """The hop whose saddle is the effective barrier's bottleneck, else the lowest hop; and which it is.

    The bottleneck is the highest saddle (start energy + forward barrier) among the valid
    hops that the effective path uses; without an effective path (no percolation), the valid
    hop of ``min_hop`` with the lowest forward barrier.
    """
    valid = [hop for hop in diffusion.hops if hop.valid and hop.images]
    steps = set()
    for step in diffusion.effective_path:
        pair, _, mechanism = step.partition(" (")
        start, _, end = pair.partition("->")
        steps.add((frozenset((start, end)), mechanism.rstrip(")")))
    on_path = [hop for hop in valid if (frozenset((hop.start, hop.end)), hop.mechanism) in steps]
    if on_path and all(hop.start_energy_eV is not None for hop in on_path):
        return max(on_path, key=lambda hop: hop.start_energy_eV + hop.barrier_forward_eV), "effective-barrier hop"
    lowest = [hop for hop in valid if f"{hop.start}->{hop.end}" == diffusion.min_hop]
    if lowest:
        return min(lowest, key=lambda hop: hop.barrier_forward_eV), "lowest hop (the network does not percolate)"
    return None, "no valid hop with images"


def _endpoint(diffusion: DiffusionDoc | None, site: str) -> Structure | None:
    """A relaxed hop endpoint at ``site`` (valid hops first), or None."""
    if diffusion is None:
        return None
    hops = sorted((h for h in diffusion.hops if h.mechanism == "hop" and h.images), key=lambda h: not h.valid)
    for hop in hops:
        if hop.start == site:
            return _hop_images(hop)[0]
        if hop.end == site:
            return _hop_images(hop)[-1]
    return None


class _Planner:
    """Collects the checks and the (deduplicated) frames of one plan."""

    def __init__(self, spec: ValidationSpec):
        self.spec = spec
        self.checks: list[PlannedCheck] = []
        self.requests: dict[str, LabelRequest] = {}
        self.names: dict[tuple[str, bool], str] = {}  # (structure hash, relax) -> frame name

    def frame(self, name: str, structure: Structure, slab: bool, label: str, relax: bool = False) -> str:
        """Request a frame and return its name; a structure already requested keeps its first name (one label).

        A relaxation request (``relax``) is another calculation than a single point of the same structure.
        """
        key = (structure_hash(structure), relax)
        if key in self.names:
            return self.names[key]
        self.names[key] = name
        self.requests.setdefault(name, LabelRequest(name=name, structure=structure, slab=slab, label=label, relax=relax))
        return name

    def add(
        self,
        check: PlannedCheck,
        cells: list[tuple[str, Structure, bool, str]],
        reference: Structure | None = None,
        relax: bool = False,
    ) -> None:
        """Add ``check`` with the frames of ``cells`` (name, structure, slab, label); relaxation requests with ``relax``.

        Cells above ``max_atoms`` are thinned (:func:`thin_cells`, layers counted on ``reference``) and the check's geometry says
        so; where that is impossible the check is listed as skipped with the reason.
        """
        largest = max((len(s) for _, s, _, _ in cells), default=None)
        if largest is not None and largest > self.spec.max_atoms:
            thinned = thin_cells([s for _, s, _, _ in cells], self.spec.max_atoms, reference)
            if thinned is None:
                reason = (
                    f"a cell of {largest} atoms is more than validation.max_atoms ({self.spec.max_atoms}) even with "
                    f"only the top {MIN_LAYERS} layers kept"
                )
                self.checks.append(check.model_copy(update={"skip_reason": reason, "n_atoms": largest}))
                return
            structures, layers = thinned
            cells = [
                (f"{name}:top{layers}", new, slab, f"{label} (top {layers} layers)")
                for (name, _, slab, label), new in zip(cells, structures)
            ]
            note = f"; thinned to the top {layers} layers (same lateral cell and coverage) from {largest} atoms"
            check = check.model_copy(update={"geometry": check.geometry + note})
            largest = max(len(s) for s in structures)
        frames = [self.frame(*cell, relax=relax) for cell in cells]
        self.checks.append(check.model_copy(update={"frames": frames, "n_atoms": largest}))

    def skip(self, quantity: str, facet: str, item: str, reason: str) -> None:
        self.checks.append(PlannedCheck(quantity=quantity, facet=facet, item=item, geometry="-", skip_reason=reason))


def plan_spot_checks(
    spec: ValidationSpec,
    bulk: BulkDoc | dict,
    surfaces: dict[str, SurfaceEnergyDoc | dict | None],
    adsorption: dict[str, AdsorptionDoc | dict | None],
    diffusion: dict[str, DiffusionDoc | dict | None],
) -> SpotCheckPlan:
    """Plan the teacher spot checks of one model's fan-out (see the module docstring).

    Parameters
    ----------
    spec
        The campaign's ``validation`` section.
    bulk
        The model's bulk EOS (its lattice constant sets the bulk frame).
    surfaces, adsorption, diffusion
        Facet label -> the fan-out's document (None where that calculation failed).

    Returns
    -------
    SpotCheckPlan
        The checks (a check that cannot run carries ``skip_reason``) and the frames to label.
    """
    bulk = _doc(BulkDoc, bulk)
    planner = _Planner(spec)
    planner.frame(BULK_FRAME, bcc_li_conventional(bulk.lattice_constant_A), False, "bcc cube at the model's a0")
    for facet in sorted(set(surfaces) | set(adsorption) | set(diffusion)):
        ads = _doc(AdsorptionDoc, adsorption.get(facet))
        diff = _doc(DiffusionDoc, diffusion.get(facet))
        surface = _doc(SurfaceEnergyDoc, surfaces.get(facet))
        _plan_adsorption(planner, facet, ads, diff)
        if spec.barrier:
            _plan_barrier(planner, facet, diff, None if ads is None else _structure(ads.slab_structure))
        if surface is not None and max(abs(i) for i in surface.miller_index) <= spec.surface_energy_max_index:
            slab = _structure(surface.relaxed_structure)
            check = PlannedCheck(
                quantity="surface_energy", facet=facet, item="slab", geometry="model-relaxed slab",
                model_reported=surface.surface_energy_J_m2, area_A2=surface.area_A2,
            )  # fmt: skip
            planner.add(check, [(f"{facet}:surface-slab", slab, True, f"validation {facet} relaxed slab")])
        elif surface is None and facet in surfaces:
            planner.skip("surface_energy", facet, "slab", "no surface-energy result (the fan-out calculation failed)")
    return SpotCheckPlan(
        checks=planner.checks, requests=list(planner.requests.values()), relax=spec.relax if spec.relax_adsorption else None
    )


def _plan_adsorption(planner: _Planner, facet: str, ads: AdsorptionDoc | None, diff: DiffusionDoc | None) -> None:
    if ads is None:
        planner.skip("adsorption_energy", facet, "-", "no adsorption result (the fan-out calculation failed)")
        return
    stable = sorted((s for s in ads.sites if s.stable), key=lambda s: s.free_adsorption_energy_eV)
    if not stable:
        planner.skip("adsorption_energy", facet, ads.min_site, "no stable site: no relaxed minimum to check")
        return
    clean = _structure(ads.slab_structure)
    slab_frame = (f"{facet}:clean-slab", clean, True, f"validation {facet} clean slab (adsorption cell)")
    for site in stable[: planner.spec.sites_per_facet]:
        structure, geometry = _endpoint(diff, site.label), "relaxed NEB endpoint"
        if structure is None:
            structure = clean.copy()
            structure.append("Li", ads.site_copies[site.label][0], coords_are_cartesian=True)
            geometry = "adatom at its relaxed height on the relaxed clean slab (no NEB endpoint)"
        check = PlannedCheck(
            quantity="adsorption_energy", facet=facet, item=site.label, geometry=geometry,
            model_reported=site.free_adsorption_energy_eV,
        )  # fmt: skip
        adatom = (f"{facet}:site:{site.label}", structure, True, f"validation {facet} adatom at {site.label}")
        planner.add(check, [adatom, slab_frame])
        if planner.spec.relax_adsorption:
            relaxed = check.model_copy(
                update={"quantity": "relaxed_adsorption_energy", "geometry": f"relaxed by each from the {geometry}"}
            )
            cells = [(f"{name}:relaxed", s, slab, f"{label} (relaxed)") for name, s, slab, label in (adatom, slab_frame)]
            planner.add(relaxed, cells, relax=True)


def _plan_barrier(planner: _Planner, facet: str, diff: DiffusionDoc | None, clean: Structure | None) -> None:
    if diff is None:
        planner.skip("barrier", facet, "-", "no diffusion result (the fan-out calculation failed)")
        return
    hop, which = effective_hop(diff)
    if hop is None:
        planner.skip("barrier", facet, diff.min_hop or "-", which)
        return
    images = _hop_images(hop)
    peak = None if not hop.image_energies_eV else int(np.argmax(hop.image_energies_eV))
    keep = band_indices(len(images), planner.spec.max_band_images, peak, symmetric=hop.start == hop.end)
    shown = "" if len(keep) == len(images) else f", {len(keep)} of {len(images)} images"
    if hop.start == hop.end and len(images) - 1 not in keep:
        shown += "; the end is the start by symmetry"
    check = PlannedCheck(
        quantity="barrier", facet=facet, item=hop.path_label, geometry=f"model's converged band ({which}{shown})",
        model_reported=hop.barrier_forward_eV,
    )  # fmt: skip
    tag = f"{hop.mechanism}:{hop.start}->{hop.end}:{hop.distance_A:.2f}"
    cells = [
        (f"{facet}:band:{tag}:{i:02d}", images[i], True, f"validation {facet} {hop.path_label} image {i}") for i in keep
    ]
    planner.add(check, cells, reference=clean)
