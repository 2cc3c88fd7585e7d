"""The ``active_learning`` section: committee, trust levels, exploration, copies near failing spot checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from li_campaign.core.miller import MillerIndex
from li_campaign.schemas.spec.base import SpecSection, facet_list


class ExplorationSpec(SpecSection):
    """What the committee explores in each active-learning iteration (cheap defaults).

    Start structures are built at ``training_set.lattice_constant_A``: a bulk supercell, a
    symmetric slab of each facet and that slab with one Li adatom in a hollow site. Each is
    explored by Langevin MD at each temperature of its kind, by a relaxation of a rattled
    copy, and (adatom cells) by a straight hop of the adatom to the next equivalent site.
    """

    bulk_supercell: int = Field(2, ge=1, le=6, description="n of the n×n×n repeat of the 2-atom cube (2n³ atoms).")
    bulk_temperatures_K: list[float] = Field(
        default_factory=lambda: [300.0, 600.0], description="MD temperatures of the bulk cell (K); empty: no bulk MD."
    )
    facets: list[MillerIndex] = Field(
        default_factory=lambda: [(1, 0, 0), (1, 1, 0)], description="Slab (and adatom) facets; empty: bulk only."
    )
    slab_temperatures_K: list[float] = Field(
        default_factory=lambda: [300.0], description="MD temperatures of the slabs and adatom cells (K)."
    )
    adatom: bool = Field(True, description="Also explore each slab with one Li adatom (MD, relaxation and hop).")
    min_slab_size_A: float = Field(5.0, gt=2.0, description="Minimum slab thickness (Å).")
    min_vacuum_A: float = Field(8.0, ge=5.0, description="Minimum vacuum thickness (Å).")
    min_lateral_A: float = Field(5.0, gt=0, description="Minimum in-plane size of slab and adatom cells (Å).")
    md_steps: int = Field(100, ge=1, description="Langevin MD steps per start structure and temperature.")
    timestep_fs: float = Field(2.0, gt=0, le=5.0, description="MD time step (fs).")
    friction_per_fs: float = Field(0.02, gt=0, le=1.0, description="Langevin friction (1/fs).")
    relax_steps: int = Field(30, ge=0, description="FIRE steps of the relaxation of a rattled copy; 0: no relaxations.")
    rattle_std_A: float = Field(0.15, ge=0, lt=0.5, description="Std. dev. of the rattle before the relaxation (Å).")
    hop_images: int = Field(5, ge=0, le=31, description="Images of the adatom hop path; 0: no hops.")
    sample_every: int = Field(10, ge=1, description="Every this many MD or relaxation steps, all members evaluate the frame.")

    _check_facets = field_validator("facets", mode="before")(classmethod(lambda cls, v: facet_list(v) if v else []))

    @field_validator("bulk_temperatures_K", "slab_temperatures_K")
    @classmethod
    def _positive_temperatures(cls, value: list[float]) -> list[float]:
        if value and min(value) <= 0:
            raise ValueError(f"{value}: temperatures must be > 0 K")
        return value

    @model_validator(mode="after")
    def _something_to_explore(self) -> ExplorationSpec:
        if not self.bulk_temperatures_K and not self.relax_steps and not (self.facets and self.slab_temperatures_K):
            raise ValueError("nothing to explore: give bulk_temperatures_K, relax_steps > 0 or facets with slab_temperatures_K")
        return self


#: Exploration origins: what was explored (bulk, slab, adatom) and how (md, relax, hop); fanout_*: the
#: fan-out's own configurations (``active_learning.explore_fanout``).
EXPLORATION_ORIGINS = (
    "bulk_md", "bulk_relax", "slab_md", "slab_relax", "adatom_md", "adatom_relax", "adatom_hop", "fanout_neb", "fanout_slab",
)  # fmt: skip


class ActiveLearningSpec(SpecSection):
    """Active learning: a committee's force disagreement decides which configurations get DFT labels.

    Each iteration trains ``committee_size`` models that differ in seed (and optionally in a
    random subsample of the frames), explores (:class:`ExplorationSpec`) with the first member
    driving and every member evaluating sampled frames, and measures σ, the largest per-atom
    standard deviation of the members' forces (eV/Å). Frames with ``trust_lower_eV_A`` ≤ σ <
    ``trust_upper_eV_A`` are candidates, σ ≥ upper counts as failed exploration (reported,
    never labelled), the rest as accurate. Up to ``budget_per_iteration`` diverse candidates
    (farthest-point sampling on a distance-histogram descriptor) are labelled and the committee
    is refit, until the candidate fraction falls below ``converged_candidate_fraction`` or
    ``max_iterations`` committees have been trained. With the teacher spot checks
    (``explore_fanout``) the loop stops when they all pass and goes on while any fails, with
    teacher labels of perturbed copies of the failing checks' cells (``near_check_*``).
    """

    committee_size: int = Field(4, ge=2, le=16, description="Models per committee.")
    seeds: list[int] | None = Field(
        None, description="Seed of each member (model init, data split and subsample); default mlip.seed + i."
    )
    subsample_fraction: float | None = Field(
        None, gt=0, le=1, description="Each member trains on a random fraction of the frames (None: all frames)."
    )
    max_epochs: int | None = Field(None, ge=1, description="Epochs of each member (None: mlip.max_epochs).")
    holdout_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Fraction (at least one frame) of the initial frames held out from every committee: the fixed "
        "holdout on which each iteration's errors are measured.",
    )
    trust_lower_eV_A: float = Field(0.05, gt=0, description="σ below this: accurate, not labelled (eV/Å).")
    trust_upper_eV_A: float = Field(0.3, gt=0, description="σ at or above this: failed exploration, not labelled (eV/Å).")
    budget_per_iteration: int = Field(8, ge=1, description="Most candidates labelled per iteration.")
    diversity: Literal["farthest_point", "max_deviation"] = Field(
        "farthest_point",
        description="farthest_point: farthest-point sampling on the descriptor; max_deviation: the largest σ first.",
    )
    descriptor_r_max_A: float = Field(6.0, gt=2.0, le=12.0, description="Cutoff of the distance-histogram descriptor (Å).")
    descriptor_bins: int = Field(40, ge=4, le=400, description="Bins of the distance-histogram descriptor.")
    origin_quotas: dict[str, int] | None = Field(
        None, description=f"Most frames selected per exploration origin per iteration; origins: {', '.join(EXPLORATION_ORIGINS)}."
    )
    converged_candidate_fraction: float = Field(
        0.05, ge=0, lt=1, description="Converged when the fraction of explored frames that are candidates is below this."
    )
    max_iterations: int = Field(5, ge=1, le=50, description="Most committees trained (iterations).")
    seed: int = Field(0, description="Seed of the exploration (velocities, rattles, Langevin noise) and the selection.")
    exploration: ExplorationSpec = ExplorationSpec()
    explore_fanout: bool = Field(
        False,
        description="Also explore the fan-out's own configurations (every image of every NEB band: fanout_neb; the "
        "relaxed clean slabs: fanout_slab), so each iteration waits for the fan-out; with the teacher spot checks on, "
        "each committee's mean is checked on the spot-check frames against their teacher labels (no new DFT) and the "
        "loop stops as soon as every check passes (stop_reason spot_checks_passed); while any fails it goes on "
        "(a committee that agrees with itself is not converged then) until max_iterations.",
    )
    near_check_copies: int = Field(
        2,
        ge=0,
        le=10,
        description="While spot checks fail: perturbed copies of each failing check's cells labelled by the teacher "
        "for the next committee (li_campaign.active.near_checks; the checks' own frames are never trained on). "
        "0: none.",
    )
    near_check_budget: int = Field(
        8, ge=0, description="Most perturbed copies labelled per iteration, on top of budget_per_iteration."
    )
    near_check_rattle_A: float = Field(
        0.03, ge=0, le=0.3, description="Std. dev. of the Gaussian rattle of the copies' free atoms (Å)."
    )
    near_check_height_step_A: float = Field(
        0.1,
        ge=0,
        le=1.0,
        description="Copies of an adsorption check's slab + adatom cell move the adatom along z by +h, -h, +2h, ... (Å).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ActiveLearningSpec:
        if self.trust_lower_eV_A >= self.trust_upper_eV_A:
            raise ValueError(
                f"trust_lower_eV_A ({self.trust_lower_eV_A}) must be below trust_upper_eV_A ({self.trust_upper_eV_A})"
            )
        if self.seeds is not None:
            if len(self.seeds) != self.committee_size:
                raise ValueError(f"seeds {self.seeds}: need one per member (committee_size = {self.committee_size})")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds {self.seeds}: members must have different seeds")
        unknown = sorted(set(self.origin_quotas or {}) - set(EXPLORATION_ORIGINS))
        if unknown:
            raise ValueError(f"origin_quotas: unknown origins {unknown}; known: {list(EXPLORATION_ORIGINS)}")
        if any(n < 0 for n in (self.origin_quotas or {}).values()):
            raise ValueError(f"origin_quotas {self.origin_quotas}: quotas must be >= 0")
        return self

    def member_seeds(self, base_seed: int) -> list[int]:
        """Return the seed of each member: :attr:`seeds`, or ``base_seed + i``."""
        return list(self.seeds) if self.seeds is not None else [base_seed + i for i in range(self.committee_size)]
