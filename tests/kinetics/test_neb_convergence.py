"""Image-count convergence of the CI-NEB, and the per-facet minimum over mechanisms."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.morse import MorsePotential
from ase.constraints import FixAtoms

from li_campaign.geometry.slabs import make_symmetric_slab
from li_campaign.kinetics.diffusion import lowest_hop
from li_campaign.kinetics.neb import converged_neb, refined_band
from li_campaign.schemas.kinetics import Hop
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec
from li_campaign.simulation.relax import relax_atoms

A = 2.9188  # Morse bcc lattice constant of these parameters
NEB = NebSpec(n_images=1, fmax_eV_A=0.02, max_steps=300)


def morse() -> MorsePotential:
    return MorsePotential(epsilon=0.2, r0=3.0, rho0=3.5, rcut1=1.6, rcut2=2.0)


@pytest.fixture(scope="module")
def endpoints() -> tuple[Atoms, Atoms]:
    """An adatom between two neighbouring 4-fold hollows of a frozen 2 x 2 bcc(100) bilayer."""
    slab = make_symmetric_slab(A, (1, 0, 0), 1.0, 8.0)
    slab.make_supercell([2, 2, 1])
    atoms = Atoms("Li" * len(slab), positions=slab.cart_coords, cell=slab.lattice.matrix, pbc=True)
    top = atoms.positions[:, 2].max()
    corner = atoms.positions[np.argmax(atoms.positions[:, 2])]
    hollow = corner + [A / 2, A / 2, 1.2 - (corner[2] - top)]
    atoms.set_constraint(FixAtoms(indices=range(len(atoms))))
    relax = RelaxSpec(fmax_eV_A=0.005, optimizer="LBFGS")
    ends = []
    for shift in (0.0, A):
        image = atoms + Atoms("Li", positions=[hollow + [shift, 0, 0]])
        image.set_constraint(FixAtoms(indices=range(len(atoms))))
        ends.append(relax_atoms(image, morse(), relax)[0])
    return ends[0], ends[1]


def test_refined_band_inserts_midpoints_across_the_boundary():
    cell = np.diag([4.0, 4.0, 10.0])
    images = [Atoms("Li", positions=[[x, 1.0, 2.0]], cell=cell, pbc=True) for x in (3.0, 3.6, 4.4)]
    finer = refined_band(images)
    assert len(finer) == 5  # n = 1 intermediate image -> 2n + 1 = 3
    assert [round(float(a.positions[0, 0]), 6) for a in finer] == [3.0, 3.3, 3.6, 4.0, 4.4]
    wrapped = [images[0], Atoms("Li", positions=[[0.4, 1.0, 2.0]], cell=cell, pbc=True)]  # 4.4 wrapped to 0.4
    assert refined_band(wrapped)[1].positions[0, 0] == pytest.approx(3.7)


def test_barrier_converges_with_image_count(endpoints):
    start, end = endpoints
    outcome = converged_neb(start, end, morse(), NEB, NebConvergenceSpec(tolerance_eV=0.01, max_images=15))
    assert outcome.images_tried[0] == 1 and outcome.images_converged is True
    assert all(b == 2 * a + 1 for a, b in zip(outcome.images_tried, outcome.images_tried[1:]))
    barriers = outcome.barriers_by_images_eV
    assert len(barriers) == len(outcome.images_tried) >= 2
    assert abs(barriers[-1] - barriers[-2]) < 0.01
    assert len(outcome.images) == outcome.n_images + 2 and outcome.n_images == outcome.images_tried[-1]
    assert outcome.barrier_forward_eV == pytest.approx(barriers[-1])
    assert outcome.barrier_forward_eV == pytest.approx(outcome.barrier_reverse_eV, abs=1e-3)  # symmetric hop
    assert 0.05 < outcome.barrier_forward_eV < 1.0 and outcome.converged
    assert np.allclose(outcome.images[0].positions, start.positions)  # endpoints are not moved


def test_unreachable_tolerance_stops_at_max_images(endpoints):
    start, end = endpoints
    outcome = converged_neb(start, end, morse(), NEB, NebConvergenceSpec(tolerance_eV=1e-9, max_images=7))
    assert outcome.images_tried == [1, 3, 7] and outcome.images_converged is False
    assert len(outcome.images) == 9 and len(outcome.barriers_by_images_eV) == 3


def test_without_convergence_one_band_is_run(endpoints):
    start, end = endpoints
    for convergence in (None, NebConvergenceSpec(enabled=False)):
        outcome = converged_neb(start, end, morse(), NEB, convergence)
        assert outcome.images_tried == [1] and outcome.images_converged is None and len(outcome.images) == 3


def _hop(start: str, end: str, forward: float, reverse: float, mechanism: str = "hop") -> Hop:
    return Hop(
        start=start, end=end, distance_A=1.0, barrier_forward_eV=forward, barrier_reverse_eV=reverse, n_images=3,
        converged=True, endpoint_drift_A=0.0, mechanism=mechanism,
    )


def test_lowest_hop_reports_the_winning_mechanism():
    hops = [_hop("h", "h", 0.30, 0.30), _hop("h", "b", 0.25, 0.05, "exchange"), _hop("h", "x", 0.01, 0.01, "across_step_hop")]
    assert lowest_hop(hops, "h") == (0.25, "h->b", "exchange")
    assert lowest_hop(hops[:1], "h") == (0.30, "h->h", "hop")
    assert lowest_hop([_hop("b", "h", 0.4, 0.2, "exchange"), hops[0]], "h") == (0.2, "h->b", "exchange")
    # an invalid band is never the barrier, however low
    bad = _hop("h", "b", 0.0, 0.0).model_copy(update={"valid": False, "invalid_reason": "no interior maximum"})
    assert lowest_hop([bad, hops[0]], "h") == (0.30, "h->h", "hop")
    with pytest.raises(ValueError, match="no valid hop or exchange on the terrace.*h->b: no interior maximum"):
        lowest_hop([bad], "h")


def test_spec_bounds():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="tolerance_eV"):
        NebConvergenceSpec(tolerance_eV=0)
    with pytest.raises(ValidationError, match="max_images"):
        NebConvergenceSpec(max_images=0)
    assert NebConvergenceSpec.from_dict(NebConvergenceSpec().as_dict()) == NebConvergenceSpec()


def test_a_facet_whose_bands_are_all_invalid_has_no_barrier_and_says_why():
    """No silent zero: every band invalid gives no lowest hop, no effective barrier, and the bands' reasons."""
    from li_campaign.kinetics.diffusion import DiffusionResult, surface_barriers

    bad = _hop("h", "b", 0.0, 0.0).model_copy(update={"valid": False, "invalid_reason": "no interior maximum"})
    summary = surface_barriers(DiffusionResult([bad], []), "h")
    assert (summary.min_barrier_eV, summary.min_hop, summary.effective_barrier_eV) == (None, None, None)
    assert summary.percolates == {"a": False, "b": False}
    assert any("no barrier" in note and "h->b: no interior maximum" in note for note in summary.notes), summary.notes
