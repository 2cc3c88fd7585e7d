"""The torch-native batched drivers of the benchmarks (benchmarks/batched_extras.py) agree with ASE one by one.

``benchmarks/fanout_relax_neb.py`` compares their speed with the one-by-one path; these checks make
that an equal-work comparison (tiny untrained NequIP, CPU; fixtures of tests/batched/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.batched_extras import batched_relax, converged_nebs
from li_campaign.kinetics.neb import converged_neb
from li_campaign.schemas.spec import NebConvergenceSpec, NebSpec, RelaxSpec
from li_campaign.simulation.relax import relax_atoms
from tests.batched.conftest import (  # noqa: F401  (ase_calc, graph_model, ts_model: fixtures)
    ase_calc,
    fixed_slab,
    graph_model,
    rattled,
    ts_model,
    vacancy_hop,
)


def test_batched_fire_matches_ase_fire_and_holds_fixed_atoms(ts_model, ase_calc):
    structures = [fixed_slab(4), fixed_slab(5), rattled((2, 2, 2), 6)]
    batched = batched_relax(structures, ts_model, fmax_eV_A=0.05, max_steps=60)
    spec = RelaxSpec(optimizer="FIRE", fmax_eV_A=0.05, max_steps=60)
    for start, (atoms, energy, converged, steps) in zip(structures, batched):
        ref, ref_energy, ref_converged, ref_steps = relax_atoms(start, ase_calc, spec)
        assert (converged, steps) == (ref_converged, ref_steps)
        # float32 model noise (~1e-6 eV/Å) grows over tens of FIRE steps: ~1e-4 eV on 24 atoms
        assert energy == pytest.approx(ref_energy, abs=5e-4)
        np.testing.assert_allclose(atoms.positions, ref.positions, atol=2e-3)
        fixed = atoms.constraints[0].index if atoms.constraints else []
        np.testing.assert_array_equal(atoms.positions[fixed], start.positions[fixed])
    assert len(structures[0].constraints[0].index) == 4  # the 2x2 corner atoms of the bottom plane (z = 0)
    assert not np.allclose(batched[0][0].positions, structures[0].positions)  # the free atoms did move


def test_batched_nebs_match_one_by_one(ts_model, ase_calc):
    pairs = [vacancy_hop(9), vacancy_hop(10)]
    neb = NebSpec(n_images=3, fmax_eV_A=0.1, max_steps=25)
    convergence = NebConvergenceSpec(max_images=7, tolerance_eV=1e-6)
    batched = converged_nebs(pairs, ts_model, neb, convergence)
    for (start, end), out in zip(pairs, batched):
        ref = converged_neb(start, end, ase_calc, neb, convergence)
        assert out.images_tried == ref.images_tried == [3, 7]
        assert (out.converged, out.steps) == (ref.converged, ref.steps)
        assert out.barrier_forward_eV == pytest.approx(ref.barrier_forward_eV, abs=1e-4)
        np.testing.assert_allclose(out.barriers_by_images_eV, ref.barriers_by_images_eV, atol=1e-4)
