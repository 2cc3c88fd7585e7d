"""Adsorption sites and CI-NEB hop barriers of a Li adatom, with a Morse potential."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from pymatgen.core import Structure

from li_campaign.bulk.eos import fit_bulk_eos
from li_campaign.geometry.slabs import inplane_minimum_image, make_symmetric_slab
from li_campaign.kinetics.diffusion import diffusion_barriers, enumerate_hops
from li_campaign.kinetics.site_graph import build_site_graph
from li_campaign.schemas.spec import EosSpec, FanOutSpec
from li_campaign.schemas.surfaces import AdsorptionSite
from li_campaign.simulation.relax import structure_to_atoms
from li_campaign.surfaces.adsorption import adsorption_sites
from tests.morse_reference import Morse

SPEC = FanOutSpec.model_validate(
    {
        "slab": {"min_slab_size_A": 4.0, "min_vacuum_A": 8.0, "min_lateral_A": 7.0, "fix_bottom_A": 1.0},
        "relax": {"fmax_eV_A": 0.01, "max_steps": 300, "optimizer": "LBFGS"},  # no eigh: fast on a busy machine
        "neb": {"n_images": 3, "fmax_eV_A": 0.05, "max_steps": 200},
    }
)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


def energy(structure: Structure | dict) -> float:
    atoms = structure_to_atoms(structure if isinstance(structure, Structure) else Structure.from_dict(structure))
    atoms.calc = morse()
    return float(atoms.get_potential_energy())


@pytest.fixture(scope="module")
def bulk():
    return fit_bulk_eos(morse(), 2.92, EosSpec())


@pytest.fixture(scope="module")
def ads100(bulk):
    slab = make_symmetric_slab(bulk["lattice_constant_A"], (1, 0, 0), 4.0, 8.0)
    return adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)


@pytest.fixture(scope="module")
def ads111(bulk):
    slab = make_symmetric_slab(bulk["lattice_constant_A"], (1, 1, 1), 4.0, 8.0)
    return adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)


def by_label(result: dict) -> dict[str, AdsorptionSite]:
    return {site.label: site for site in result["sites"]}


def as_structure(structure: Structure | dict) -> Structure:
    return structure if isinstance(structure, Structure) else Structure.from_dict(structure)


def free_indices(ads: dict) -> list[int]:
    """Slab atoms the runs let move (the bottom ones are flagged fixed), then the adatom."""
    flags = as_structure(ads["slab_structure"]).site_properties["selective_dynamics"]
    return [i for i, f in enumerate(flags) if any(f)] + [len(flags)]


def max_force(structure: Structure | dict, free: list[int]) -> float:
    """Largest force component on the free atoms, from the independent Morse sum."""
    structure = as_structure(structure)
    return float(np.abs(Morse().forces(structure.cart_coords, structure.lattice.matrix)[free]).max())


def check_hop_against_independent_sums(hop, ads: dict, fmax_path: float) -> list[float]:
    """Endpoints are minima, the highest image a saddle, and the barriers their energy differences,
    all by the independent Morse sums; returns the image energies (eV)."""
    energies = [Morse().structure_energy(as_structure(image)) for image in hop.images]
    free = free_indices(ads)
    top = int(np.argmax(energies))
    assert 0 < top < len(energies) - 1  # the barrier lies inside the band
    assert max_force(hop.images[0], free) < SPEC.relax.fmax_eV_A and max_force(hop.images[-1], free) < SPEC.relax.fmax_eV_A
    assert max_force(hop.images[top], free) < fmax_path  # the climbing image converged onto the saddle
    assert hop.barrier_forward_eV == pytest.approx(energies[top] - energies[0], abs=1e-6)
    assert hop.barrier_reverse_eV == pytest.approx(energies[top] - energies[-1], abs=1e-6)
    return energies


def test_100_has_ontop_bridge_hollow(ads100, bulk):
    sites = by_label(ads100)
    assert set(sites) == {"ontop-0", "bridge-0", "hollow-0"}
    assert {s.site_type for s in sites.values()} == {"ontop", "bridge", "hollow"}
    assert ads100["supercell"] == (3, 3) and ads100["n_slab_atoms"] == 36
    # copies in the 3 × 3 cell: one ontop and one hollow per surface atom, two bridges
    assert {k: len(v) for k, v in ads100["site_copies"].items()} == {"ontop-0": 9, "bridge-0": 18, "hollow-0": 9}
    a = bulk["lattice_constant_A"]
    hollows = np.array(ads100["site_copies"]["hollow-0"])
    ontops = np.array(ads100["site_copies"]["ontop-0"])
    assert np.allclose(np.sort(np.linalg.norm(ontops[:, :2] - ontops[0, :2], axis=1))[1], a)
    assert {round(h, 6) for h in hollows[:, 2]} == {round(ads100["site_heights_A"]["hollow-0"], 6)}


def test_100_energies_order_and_stability(ads100):
    sites = by_label(ads100)
    for site in sites.values():
        assert np.isfinite(site.adsorption_energy_eV) and np.isfinite(site.free_adsorption_energy_eV)
    # E_ads = E(slab+Li) − E(slab) − ε_bulk: the clean slab's energy is its independent Morse sum, at a minimum
    clean = as_structure(ads100["slab_structure"])
    assert ads100["slab_energy_eV"] == pytest.approx(Morse().structure_energy(clean), abs=1e-8)
    assert max_force(clean, free_indices(ads100)[:-1]) < SPEC.relax.fmax_eV_A
    # fewer neighbours, weaker binding: ontop > bridge > 4-fold hollow
    assert sites["ontop-0"].adsorption_energy_eV > sites["bridge-0"].adsorption_energy_eV
    assert sites["bridge-0"].adsorption_energy_eV > sites["hollow-0"].adsorption_energy_eV
    assert sites["hollow-0"].stable and sites["hollow-0"].relaxed_to == "hollow-0"
    for label in ("ontop-0", "bridge-0"):
        assert not sites[label].stable and sites[label].relaxed_to == "hollow-0"
        assert sites[label].free_adsorption_energy_eV == pytest.approx(sites["hollow-0"].adsorption_energy_eV, abs=2e-3)
    assert ads100["min_site"] == "hollow-0" and ads100["min_adsorption_basis"] == "free_relaxed_stable_minimum"
    # the facet minimum is the freely relaxed hollow (the NEBs' start); the pinned one is kept beside it
    assert ads100["min_adsorption_energy_eV"] == sites["hollow-0"].free_adsorption_energy_eV
    assert ads100["min_pinned_adsorption_energy_eV"] == sites["hollow-0"].adsorption_energy_eV
    assert ads100["min_adsorption_energy_eV"] == pytest.approx(ads100["min_pinned_adsorption_energy_eV"], abs=2e-3)


def test_100_geometry(ads100):
    slab = Structure.from_dict(ads100["slab_structure"])
    flags = slab.site_properties["selective_dynamics"]
    z = slab.cart_coords[:, 2]
    fixed = [i for i, f in enumerate(flags) if not any(f)]
    assert len(fixed) == 9 and np.allclose(z[fixed], z.min())
    top = z.max()
    heights = ads100["site_heights_A"]
    assert top < heights["hollow-0"] < heights["bridge-0"] < heights["ontop-0"]
    hollow = np.array(by_label(ads100)["hollow-0"].position_A)
    assert hollow[2] == pytest.approx(heights["hollow-0"])
    offset = inplane_minimum_image(slab.lattice.matrix, hollow - ads100["site_copies"]["hollow-0"][0])
    assert np.allclose(offset, 0.0, atol=1e-8)


def test_adsorption_is_deterministic(ads100, bulk):
    slab = make_symmetric_slab(bulk["lattice_constant_A"], (1, 0, 0), 4.0, 8.0)
    again = adsorption_sites(morse(), slab, bulk["energy_per_atom_eV"], SPEC)
    assert [s.model_dump() for s in again["sites"]] == [s.model_dump() for s in ads100["sites"]]


def test_enumerate_hops_square_lattice():
    """One hop per symmetry class of the site graph; without operations every edge is its own class."""
    from pymatgen.core.operations import SymmOp

    cell = np.diag([3.0, 3.0, 20.0])
    grid = [[i + 0.5, j + 0.5, 10.0] for i in range(3) for j in range(3)]
    bridges = [[i + di, j + dj, 10.5] for di, dj in [(0, 0.5), (0.5, 0)] for i in range(3) for j in range(3)]
    copies = {"hollow-0": grid, "bridge-0": bridges}
    # the square net's operations in fractional coordinates: the 4-fold rotation and the unit translations
    rotation = SymmOp.from_rotation_and_translation([[0, -1, 0], [1, 0, 0], [0, 0, 1]], [0, 0, 0])
    shifts = [SymmOp.from_rotation_and_translation(np.eye(3), [i / 3, j / 3, 0]) for i in range(3) for j in range(3)]
    operations = [s * r for s in shifts for r in [SymmOp(np.eye(4)), rotation, rotation * rotation, rotation * rotation * rotation]]
    graph = build_site_graph(copies, ["hollow-0"], cell, 1.05, operations)
    hops = enumerate_hops(graph)
    assert [(h.start, h.end, h.distance_A, h.n_edges) for h in hops] == [("hollow-0", "hollow-0", 1.0, 18)]
    # with the bridges: hollow-bridge (0.5 Å, 36 edges), bridge-bridge (0.71 Å, 36), hollow-hollow (1 Å, 18)
    # and bridge-bridge across a hollow or an atom (1 Å, 36): every shell up to the cutoff, nothing dropped
    graph = build_site_graph(copies, ["hollow-0", "bridge-0"], cell, 1.05, operations)
    found = sorted((h.start, h.end, h.distance_A, h.n_edges) for h in enumerate_hops(graph))
    assert found == [
        ("bridge-0", "bridge-0", 0.71, 36),
        ("bridge-0", "bridge-0", 1.0, 18),
        ("bridge-0", "bridge-0", 1.0, 18),
        ("hollow-0", "bridge-0", 0.5, 36),
        ("hollow-0", "hollow-0", 1.0, 18),
    ]
    hop = next(h for h in enumerate_hops(graph) if h.distance_A == 0.5)
    assert np.linalg.norm(np.subtract(hop.end_position_A, hop.start_position_A)[:2]) == pytest.approx(0.5)
    assert hop.end_position_A[2] == 10.5


def test_enumerate_hops_across_the_boundary():
    cell = np.diag([2.0, 2.0, 20.0])
    graph = build_site_graph({"a-0": [[0.1, 0.1, 5.0], [1.1, 0.1, 5.0], [0.1, 1.1, 5.0], [1.1, 1.1, 5.0]]}, ["a-0"], cell, 1.05)
    hops = enumerate_hops(graph)
    assert len(hops) == 8 and {h.distance_A for h in hops} == {1.0}  # no operations: each edge its own class
    crossing = [h for h in hops if h.offset != (0, 0)]
    assert len(crossing) == 4
    for hop in crossing:  # the end copy lies in the neighbouring cell, 1 Å away in a straight line
        assert np.linalg.norm(np.subtract(hop.end_position_A, hop.start_position_A)[:2]) == pytest.approx(1.0)


def test_100_hop_barrier(ads100, bulk):
    hops = diffusion_barriers(morse(), ads100, SPEC).hops
    assert len(hops) == 1
    hop = hops[0]
    assert (hop.start, hop.end) == ("hollow-0", "hollow-0")
    assert hop.distance_A == pytest.approx(bulk["lattice_constant_A"], abs=0.02)  # neighbouring 4-fold hollows
    assert hop.converged and hop.n_images == 3 and len(hop.images) == 5
    energies = check_hop_against_independent_sums(hop, ads100, SPEC.neb.fmax_eV_A)
    assert hop.barrier_forward_eV == pytest.approx(hop.barrier_reverse_eV, abs=2e-3)
    assert np.argmax(energies) == 2  # the symmetric hop has its saddle in the middle image
    sites = by_label(ads100)
    # the climbing image sits at the bridge between the two hollows
    expected = sites["bridge-0"].adsorption_energy_eV - sites["hollow-0"].adsorption_energy_eV
    assert hop.barrier_forward_eV == pytest.approx(expected, abs=0.02)
    # and both site energies are the independent sums of those relaxed configurations:
    # E_ads = E(slab+Li) − E(clean slab) − ε_bulk, ε_bulk by the bcc lattice sum
    reference = Morse().structure_energy(as_structure(ads100["slab_structure"])) + Morse().bcc_energy_per_atom(
        bulk["lattice_constant_A"]
    )
    assert sites["hollow-0"].adsorption_energy_eV == pytest.approx(energies[0] - reference, abs=1e-3)
    assert sites["bridge-0"].adsorption_energy_eV == pytest.approx(energies[2] - reference, abs=0.01)


def test_111_hop_between_different_hollows(ads111):
    hops = diffusion_barriers(morse(), ads111, SPEC).hops
    # one hop from the shallow hollow-0 (3-fold) to the deep hollow-1 next to it
    assert [(hop.start, hop.end) for hop in hops] == [("hollow-0", "hollow-1")]
    (hop,) = hops
    check_hop_against_independent_sums(hop, ads111, SPEC.neb.fmax_eV_A)
    e_start, e_end = energy(hop.images[0]), energy(hop.images[-1])
    assert hop.barrier_forward_eV - hop.barrier_reverse_eV == pytest.approx(e_end - e_start, abs=1e-8)
    # the endpoints are the two hollows' adsorption minima: forward − reverse = E_ads(end) − E_ads(start) (−0.47 eV)
    sites = by_label(ads111)
    difference = sites["hollow-1"].adsorption_energy_eV - sites["hollow-0"].adsorption_energy_eV
    assert hop.barrier_forward_eV - hop.barrier_reverse_eV == pytest.approx(difference, abs=2e-3)
    assert difference < -0.05


def test_no_stable_site_raises(ads100):
    broken = dict(ads100, sites=[s.model_copy(update={"stable": False}) for s in ads100["sites"]])
    with pytest.raises(ValueError, match="no stable adsorption site"):
        diffusion_barriers(morse(), broken, SPEC)


def test_a_cutoff_below_the_hollow_spacing_leaves_no_hop_network(ads100, bulk):
    """(100): the hollows are a apart; a cutoff of 0.8 nearest-neighbour distances (0.69 a), not allowed to
    grow (max_extended_hop_nn 0.8), joins none of them."""
    from li_campaign.kinetics.diffusion import NoHopNetworkError, diffusion_barriers

    spec = SPEC.model_copy(update={"hops": SPEC.hops.model_copy(update={"max_hop_nn": 0.8, "max_extended_hop_nn": 0.8})})
    with pytest.raises(NoHopNetworkError, match=r"no hop found between the stable sites \['hollow-0'\].*does not percolate") as info:
        diffusion_barriers(morse(), ads100, spec)
    from li_campaign.kinetics.diffusion import bulk_neighbour_distance
    from li_campaign.simulation.relax import structure_to_atoms

    slab = structure_to_atoms(as_structure(ads100["slab_structure"]))
    assert info.value.cutoff_A == pytest.approx(0.8 * bulk_neighbour_distance(slab), rel=1e-12)
    assert info.value.cutoff_A < bulk["lattice_constant_A"]  # below the hollow-hollow distance


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_a_facet_whose_every_path_is_rejected_gets_a_document_without_a_barrier(ads100, bulk, monkeypatch):
    """Every band's endpoints rejected: the NEB job stores the reasons and no barrier instead of failing; the
    graph grew shell by shell (hollow copies a, then a√2 apart) to hops.max_extended_hop_nn looking for valid hops."""
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore

    from li_campaign.kinetics import diffusion as diffusion_module
    from li_campaign.kinetics import jobs as kinetics_jobs
    from li_campaign.kinetics.diffusion import (
        EndpointMovedError,
        NoBarrierError,
        bulk_neighbour_distance,
    )
    from li_campaign.schemas.kinetics import DiffusionDoc
    from li_campaign.schemas.models import ModelDoc
    from li_campaign.schemas.provenance import Provenance
    from li_campaign.schemas.surfaces import AdsorptionDoc

    def degenerate(*args, **kwargs):
        raise EndpointMovedError(f"{kwargs['start']}->{kwargs['end']} ({kwargs['distance_A']:.2f} Å): degenerate")

    monkeypatch.setattr(diffusion_module, "neb_path", degenerate)
    with pytest.raises(NoBarrierError, match=r"kept both endpoints in place: hollow-0->hollow-0 \(\d\.\d\d Å\): degenerate; hollow-0->hollow-0 \(4\.\d\d Å\): degenerate$"):
        diffusion_barriers(morse(), ads100, SPEC)

    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: morse())
    provenance = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64, calc_key="b" * 64)
    adsorption = AdsorptionDoc(facet="100", miller_index=(1, 0, 0), **ads100, provenance=provenance)
    maker = kinetics_jobs.SurfaceNebMaker(fanout=SPEC, campaign="t", spec_hash="0" * 64)
    job = maker.make(ModelDoc.model_construct(sha256="a" * 64), adsorption)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    doc = DiffusionDoc.model_validate(store.get_output(job.uuid, load=True))
    assert doc.hops == [] and doc.min_barrier_eV is None and doc.effective_barrier_eV is None
    assert doc.percolates == {"a": False, "b": False}
    (reason,) = doc.rejected_hops
    assert reason.startswith("no hop between stable sites kept both endpoints in place") and "degenerate" in reason
    slab = structure_to_atoms(as_structure(ads100["slab_structure"]))
    assert doc.hop_cutoff_A == pytest.approx(np.sqrt(2) * bulk["lattice_constant_A"], abs=0.01)
    assert doc.hop_cutoff_A <= SPEC.hops.max_extended_hop_nn * bulk_neighbour_distance(slab)
