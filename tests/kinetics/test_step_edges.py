"""Descent over a step edge (hop and exchange) and the Ehrlich–Schwoebel barrier, Morse bcc(100)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.morse import MorsePotential
from pymatgen.core import Structure

from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore

from li_campaign.core.errors import InputError
from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics import jobs as kinetics_jobs
from li_campaign.kinetics.step_edges import across_step_barriers
from li_campaign.schemas.kinetics import StepEdgeDiffusionDoc
from li_campaign.schemas.models import ModelDoc
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec
from li_campaign.simulation.relax import structure_to_atoms
from tests.morse_reference import Morse

A = 2.9188  # Morse bcc lattice constant of these parameters
RELAX = RelaxSpec(fmax_eV_A=0.01, max_steps=300, optimizer="LBFGS")
NEB = NebSpec(n_images=3, fmax_eV_A=0.05, max_steps=200)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


def check_path_against_independent_sums(path, fix_bottom_A: float = 1.0) -> None:
    """Barriers are the energy differences of the independent Morse sums of the images; the endpoints are
    minima and the highest image a saddle (forces on the atoms above the fixed bottom)."""
    images = [image if isinstance(image, Structure) else Structure.from_dict(image) for image in path.images]
    energies = np.array([Morse().structure_energy(image) for image in images])
    top = int(np.argmax(energies))
    assert 0 < top < len(images) - 1
    assert path.barrier_forward_eV == pytest.approx(energies[top] - energies[0], abs=1e-6)
    assert path.barrier_reverse_eV == pytest.approx(energies[top] - energies[-1], abs=1e-6)
    z = images[0].cart_coords[:, 2]
    free = z - z.min() >= fix_bottom_A
    # the climbing image is converged in ASE's NEB force (the raw force with its component along the tangent
    # reversed): the same total norm, but per-atom norms that can differ a little from the raw force's
    for k, limit in ((0, RELAX.fmax_eV_A), (len(images) - 1, RELAX.fmax_eV_A), (top, 1.25 * NEB.fmax_eV_A)):
        forces = Morse().forces(images[k].cart_coords, images[k].lattice.matrix)[free]
        assert np.linalg.norm(forces, axis=1).max() < limit, (path.mechanism, k)


@pytest.fixture(scope="module")
def stepped():
    """4-layer bcc(100) slab, 6 x 2 cells, with 3 of the 6 top-layer rows (along y) removed.

    The upper terrace has rows at x0, x0 + a, x0 + 2a; the step edge descending towards +x
    is the row at x0 + 2a, and the lower terrace's first hollow is at x0 + 3a.
    """
    slab = make_symmetric_slab(A, (1, 0, 0), 4.0, 8.0)
    slab.make_supercell([6, 2, 1])
    z = slab.cart_coords[:, 2]
    top = np.flatnonzero(z > z.max() - 0.1)
    x0, y0 = slab.cart_coords[top, 0].min(), slab.cart_coords[top, 1].min()
    slab.remove_sites([i for i in top if slab.cart_coords[i, 0] > x0 + 2.5 * A])
    sites = {
        "upper": (x0 + 1.5 * A, y0 + 0.5 * A),
        "lower": (x0 + 3.0 * A, y0),
        "terrace": ((x0 + 0.5 * A, y0 + 0.5 * A), (x0 + 0.5 * A, y0 + 1.5 * A)),
        "edge_x": x0 + 2 * A,
    }
    return slab, sites


def test_stepped_slab_shape(stepped):
    slab, _ = stepped
    assert len(slab) == 48 - 6


@pytest.mark.slow
def test_descending_hop_and_exchange_give_the_es_barrier(stepped):
    slab, sites = stepped
    result = across_step_barriers(
        morse(), slab, sites["upper"], sites["lower"], RELAX, NEB, None, fix_bottom_A=1.0,
        terrace_sites=sites["terrace"],
    )
    assert result.rejected == []
    assert [h.mechanism for h in result.hops] == ["across_step_hop", "across_step_exchange"]
    hop, exchange = result.hops
    assert (hop.start, hop.end) == ("upper-edge", "lower-edge") and hop.moving_atoms == [42]
    assert hop.distance_A == pytest.approx(A * np.hypot(1.5, 0.5), abs=0.02)
    edge = structure_to_atoms(slab).positions[exchange.replaced_atom]
    assert edge[0] == pytest.approx(sites["edge_x"]) and edge[2] == pytest.approx(slab.cart_coords[:, 2].max())
    assert exchange.moving_atoms == [42, exchange.replaced_atom]
    for path in result.hops:
        assert path.converged
        check_path_against_independent_sums(path)
        assert path.barrier_reverse_eV > path.barrier_forward_eV  # the step foot binds more strongly
    assert result.terrace_hop.mechanism == "hop"
    check_path_against_independent_sums(result.terrace_hop)
    assert result.terrace_barrier_eV == min(result.terrace_hop.barrier_forward_eV, result.terrace_hop.barrier_reverse_eV)
    best = min(result.hops, key=lambda h: h.barrier_forward_eV)
    assert result.step_edge_barrier_eV == best.barrier_forward_eV and result.step_edge_mechanism == best.mechanism
    assert result.es_barrier_eV == pytest.approx(result.step_edge_barrier_eV - result.terrace_barrier_eV)


@pytest.mark.filterwarnings("ignore:cd is deprecated")
def test_maker_with_a_given_terrace_barrier(stepped, monkeypatch):
    slab, sites = stepped
    monkeypatch.setattr(kinetics_jobs, "load_model", lambda model: morse())
    maker = kinetics_jobs.StepEdgeNebMaker(
        relax=RELAX, neb=NEB.model_copy(update={"n_images": 1}), neb_convergence=NebConvergenceSpec(enabled=False),
        exchange=False, fix_bottom_A=1.0, campaign="t", spec_hash="0" * 64,
    )
    job = maker.make(
        ModelDoc.model_construct(sha256="a" * 64), slab, list(sites["upper"]), list(sites["lower"]), "100",
        step="x+", terrace_barrier_eV=0.3,
    )
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(job, store=store, log=False, ensure_success=True)
    assert store.query_one({"uuid": job.uuid}, load=False)["output"]["hops"][0]["images"]["store"] == "data"
    doc = StepEdgeDiffusionDoc.model_validate(store.get_output(job.uuid, load=True))
    assert [h.mechanism for h in doc.hops] == ["across_step_hop"] and doc.terrace_hop is None
    assert (doc.terrace, doc.step, doc.terrace_barrier_source) == ("100", "x+", "given")
    assert doc.step_edge_mechanism == "across_step_hop" and doc.provenance.calc_key
    assert doc.es_barrier_eV == pytest.approx(doc.hops[0].barrier_forward_eV - 0.3)
    check_path_against_independent_sums(doc.hops[0])


def test_bad_inputs_are_named(stepped):
    slab, sites = stepped
    with pytest.raises(InputError, match="no atom is fixed"):
        across_step_barriers(morse(), slab, sites["upper"], sites["lower"], RELAX, NEB)
    with pytest.raises(InputError, match="edge_atom 99"):
        across_step_barriers(morse(), slab, sites["upper"], sites["lower"], RELAX, NEB, fix_bottom_A=1.0, edge_atom=99)
