"""Exchange paths of a Li adatom on bcc(100) with a Morse potential: enumeration, endpoints, CI-NEB."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from pymatgen.core import Structure

from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics import jobs as kinetics_jobs
from li_campaign.kinetics.diffusion import neb_path
from li_campaign.kinetics.exchange import enumerate_exchanges, exchange_endpoints
from li_campaign.schemas.kinetics import DiffusionDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.spec import FanOutSpec, NebConvergenceSpec, SurfaceMechanismSpec
from li_campaign.schemas.surfaces import AdsorptionDoc
from li_campaign.simulation.relax import structure_to_atoms
from li_campaign.surfaces.adsorption import adsorption_sites
from tests.morse_reference import Morse

A = 2.9188  # Morse bcc lattice constant of these parameters
SPEC = FanOutSpec.model_validate(
    {
        "slab": {"min_slab_size_A": 4.0, "min_vacuum_A": 8.0, "min_lateral_A": 7.0, "fix_bottom_A": 1.0},
        "relax": {"fmax_eV_A": 0.01, "max_steps": 300, "optimizer": "LBFGS"},
        "neb": {"n_images": 3, "fmax_eV_A": 0.05, "max_steps": 200},
    }
)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def ads100():
    slab = make_symmetric_slab(A, (1, 0, 0), 4.0, 8.0)
    return adsorption_sites(morse(), slab, -1.0, SPEC)


@pytest.fixture(scope="module")
def paths(ads100):
    return enumerate_exchanges(Structure.from_dict(ads100["slab_structure"]), ads100["site_copies"], ["hollow-0"])


def test_two_distinct_exchanges_out_of_the_100_hollow(ads100, paths):
    # the 4 surface atoms around the hollow are equivalent; the pushed-out atom lands in one of
    # the 3 other hollows around it: 2 sharing an edge with the start (a away), 1 diagonal (a sqrt 2)
    assert [(p.start, p.end) for p in paths] == [("hollow-0", "hollow-0")] * 2
    assert sorted(p.distance_A for p in paths) == pytest.approx([A, A * np.sqrt(2)], abs=0.02)
    slab = Structure.from_dict(ads100["slab_structure"])
    top = slab.cart_coords[:, 2].max()
    for path in paths:
        start, replaced = np.array(path.start_position_A), np.array(path.replaced_position_A)
        assert replaced[2] == pytest.approx(top)  # a top-layer atom
        assert np.linalg.norm((np.array(path.adatom_end_position_A) - start)[:2]) == pytest.approx(A / np.sqrt(2), abs=0.02)
        hop = np.array(path.ejected_end_position_A) - replaced
        assert np.linalg.norm(hop[:2]) == pytest.approx(A / np.sqrt(2), abs=0.02)  # to a hollow next to its site
        assert path.ejected_end_position_A[2] == pytest.approx(ads100["site_heights_A"]["hollow-0"])


def test_exchange_endpoints_move_exactly_two_atoms(ads100, paths):
    slab = structure_to_atoms(Structure.from_dict(ads100["slab_structure"]))
    for path in paths:
        start, end = exchange_endpoints(slab, path)
        assert len(start) == len(end) == len(slab) + 1 == 37
        moved = np.flatnonzero(np.linalg.norm(end.positions - start.positions, axis=1) > 1e-9)
        assert moved.tolist() == sorted([path.replaced_atom, len(slab)])
        assert np.allclose(end.positions[-1], path.adatom_end_position_A)
        assert [c.get_indices().tolist() for c in start.constraints] == [c.get_indices().tolist() for c in slab.constraints]


def test_exchange_of_a_fixed_atom_is_refused(ads100, paths):
    from ase.constraints import FixAtoms

    slab = structure_to_atoms(Structure.from_dict(ads100["slab_structure"]))
    slab.set_constraint(FixAtoms(indices=[paths[0].replaced_atom]))
    with pytest.raises(ValueError, match="is fixed"):
        exchange_endpoints(slab, paths[0])


def test_exchange_neb_between_minima(ads100, paths):
    slab = structure_to_atoms(Structure.from_dict(ads100["slab_structure"]))
    path = max(paths, key=lambda p: p.distance_A)  # the diagonal exchange
    start, end = exchange_endpoints(slab, path)
    targets = [
        (-1, path.start_position_A, path.adatom_end_position_A),
        (path.replaced_atom, path.replaced_position_A, path.ejected_end_position_A),
    ]
    hop = neb_path(
        morse(), start, end, targets, SPEC.relax, SPEC.neb, None, method="idpp",
        start=path.start, end=path.end, distance_A=path.distance_A, mechanism="exchange", replaced_atom=path.replaced_atom,
    )
    assert hop.mechanism == "exchange" and hop.moving_atoms == [36, path.replaced_atom]
    assert hop.images_tried == [3] and hop.images_converged is None and len(hop.images) == 5
    # the barriers are the energy differences of the independent Morse sums of the images, whose highest
    # inner image is a saddle (the climbing image converged: no free atom feels more than the NEB fmax)
    images = [image if isinstance(image, Structure) else Structure.from_dict(image) for image in hop.images]
    energies = np.array([Morse().structure_energy(image) for image in images])
    top = int(np.argmax(energies))
    assert 0 < top < len(images) - 1
    assert hop.barrier_forward_eV == pytest.approx(energies[top] - energies[0], abs=1e-6)
    assert hop.barrier_reverse_eV == pytest.approx(energies[top] - energies[-1], abs=1e-6)
    fixed = structure_to_atoms(images[top]).constraints[0].get_indices()
    saddle_forces = np.delete(Morse().forces(images[top].cart_coords, images[top].lattice.matrix), fixed, axis=0)
    assert np.linalg.norm(saddle_forces, axis=1).max() < SPEC.neb.fmax_eV_A
    assert 0.05 < hop.barrier_forward_eV < 3.0
    assert hop.barrier_forward_eV == pytest.approx(hop.barrier_reverse_eV, abs=0.01)  # both ends: adatom in a hollow
    for image in (hop.images[0], hop.images[-1]):  # endpoints are relaxed minima
        atoms = structure_to_atoms(image)
        atoms.calc = morse()
        free = np.setdiff1d(np.arange(len(atoms)), atoms.constraints[0].get_indices())
        assert np.abs(atoms.get_forces()[free]).max() < SPEC.relax.fmax_eV_A
    ends = structure_to_atoms(hop.images[-1])
    assert ends.positions[-1, 2] < ends.positions[path.replaced_atom, 2]  # the adatom is in the surface, the other out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_surface_neb_maker_converges_images_and_includes_exchange(ads100, monkeypatch):
    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: morse())
    provenance = Provenance(campaign="t", spec_hash="0" * 64, model_sha256="a" * 64, calc_key="b" * 64)
    adsorption = AdsorptionDoc(facet="100", miller_index=(1, 0, 0), **ads100, provenance=provenance)
    maker = kinetics_jobs.SurfaceNebMaker(
        fanout=SPEC, neb_convergence=NebConvergenceSpec(max_images=7), mechanisms=SurfaceMechanismSpec(),
        campaign="t", spec_hash="0" * 64,
    )
    job = maker.make(ModelDoc.model_construct(sha256="a" * 64), adsorption)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    raw = store.query_one({"uuid": job.uuid}, load=False)["output"]
    assert all(hop["images"]["store"] == "data" for hop in raw["hops"])
    doc = DiffusionDoc.model_validate(store.get_output(job.uuid, load=True))
    assert sorted(h.mechanism for h in doc.hops) == ["exchange", "exchange", "hop"] and doc.rejected_hops == []
    for hop in doc.hops:
        assert hop.images_converged and hop.images_tried == [3, 7] and len(hop.images) == 9
        assert abs(hop.barriers_by_images_eV[1] - hop.barriers_by_images_eV[0]) < 0.01
    best = min(doc.hops, key=lambda h: h.barrier_forward_eV)
    # two symmetry-equivalent exchanges can tie to round-off: compare the barrier to 1e-9 eV
    assert doc.min_barrier_eV == pytest.approx(best.barrier_forward_eV, abs=1e-9)
    assert (doc.min_hop, doc.min_mechanism) == ("hollow-0->hollow-0", best.mechanism)
