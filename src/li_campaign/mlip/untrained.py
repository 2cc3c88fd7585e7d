"""An untrained model (NequIP or Allegro) of a given architecture, built in-process.

For throughput benchmarks and for tests that compare two execution paths of the same model:
speed does not depend on the weights, and two paths agree or not whatever the weights are, so
neither needs a training run. The settings are those of :func:`~li_campaign.mlip.nequip_config.nequip_config`
(:func:`~li_campaign.mlip.nequip_config.architecture_config`, ZBL pair term, Li only); the
data statistics that training would fill in are given as numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra.utils import get_method
from nequip.utils.global_state import set_global_state

from li_campaign.mlip.nequip_config import ZBL, architecture_config

if TYPE_CHECKING:
    from nequip.nn.graph_model import GraphModel

    from li_campaign.schemas.spec import MlipSpec


def untrained_nequip(
    mlip: MlipSpec,
    avg_num_neighbors: float = 25.6,
    energy_shift_eV: float = -1.9,
    energy_scale: float = 0.1,
    compile_mode: str = "eager",
) -> GraphModel:
    """Return a NequIPGNNModel or AllegroModel with random weights (seeded by ``mlip.seed``) and ``mlip``'s architecture.

    Parameters
    ----------
    mlip
        Architecture (``architecture`` and its hyperparameters, cutoff, seed, precision).
    avg_num_neighbors, energy_shift_eV, energy_scale
        Values that training takes from the data (bcc Li at 5 Å: 25.6 neighbours).
    compile_mode
        ``eager``, or ``compile`` for nequip's ``torch.compile`` wrapper.
    """
    set_global_state()
    config = {
        **architecture_config(mlip),
        "compile_mode": compile_mode,
        "r_max": mlip.r_max_A,
        "type_names": ["Li"],
        "avg_num_neighbors": avg_num_neighbors,
        "per_type_energy_scales": {"Li": energy_scale},
        "per_type_energy_shifts": {"Li": energy_shift_eV},
        "pair_potential": ZBL,
    }
    return get_method(config.pop("_target_"))(**config)  # as nequip's training module builds its model
