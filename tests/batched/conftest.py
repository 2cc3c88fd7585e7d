"""A tiny untrained NequIP (random weights: both paths see the same model) as an ASE and a torch-sim calculator."""

from __future__ import annotations

import pytest
from ase.build import bulk
from ase.constraints import FixAtoms

from li_campaign.batched.loader import torchsim_calc
from li_campaign.mlip.untrained import untrained_nequip
from li_campaign.schemas.spec import MlipSpec


@pytest.fixture(scope="module")
def graph_model():
    """1 layer, 8 features: builds in about a second, no training."""
    return untrained_nequip(MlipSpec(num_layers=1, num_features=8, radial_mlp_width=16), energy_scale=0.05).eval()


@pytest.fixture(scope="module")
def ts_model(graph_model):
    """The model for torch-sim on the CPU, with the batched neighbour list."""
    return torchsim_calc(graph_model, "cpu")


@pytest.fixture(scope="module")
def ase_calc(graph_model):
    """The same model as nequip's ASE calculator (stock matscipy neighbour list)."""
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    meta = graph_model.metadata
    return NequIPCalculator(
        model=graph_model, device="cpu", transforms=basic_transforms(meta, float(meta["r_max"]), ["Li"], {"Li": "Li"})
    )


def rattled(reps: tuple[int, int, int], seed: int, a: float = 3.44):
    """A rattled cubic bcc Li supercell."""
    atoms = bulk("Li", "bcc", a=a, cubic=True).repeat(reps)
    atoms.rattle(0.05, seed=seed)
    return atoms


def fixed_slab(seed: int):
    """A 2x2x3 bcc cell with vacuum above, the bottom layer (z < 1 Å) held by FixAtoms."""
    atoms = rattled((2, 2, 3), seed)
    atoms.center(vacuum=4.0, axis=2)
    atoms.set_constraint(FixAtoms(indices=[a.index for a in atoms if a.position[2] < atoms.positions[:, 2].min() + 1.0]))
    return atoms


def vacancy_hop(seed: int):
    """Start and end of a vacancy hop in a 2x2x2 bcc cell (15 atoms): the neighbour moves into the empty site."""
    atoms = rattled((2, 2, 2), seed, a=3.44)
    atoms.positions[0] = [0.0, 0.0, 0.0]
    atoms.positions[1] = [1.72, 1.72, 1.72]
    start = atoms.copy()
    del start[0]
    end = start.copy()
    end.positions[0] = [0.0, 0.0, 0.0]
    return start, end
