"""Active-learning documents: the committee in the model registry and one document per iteration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from li_campaign.schemas.models import HoldoutErrors
from li_campaign.schemas.provenance import Provenance
from li_campaign.schemas.validation import SpotCheck


class CommitteeMember(BaseModel):
    """One model of a committee: enough to load it (verified by sha256) and to tell it apart."""

    sha256: str = Field(..., description="sha256 of the deployed file; its ModelDoc is in the registry under this.")
    deployed_path: str
    deploy_mode: Literal["aotinductor", "eager"]
    compile_device: str = "cpu"
    seed: int = Field(..., description="mlip.seed of the member (model init, data split, subsample).")
    n_train: int = Field(..., description="Frames the member trained on.")


class CommitteeDoc(BaseModel):
    """A committee of models trained on one training set, registered together.

    The members' own :class:`~li_campaign.schemas.models.ModelDoc` documents stay in the
    registry as they are; this document groups them by sha256 and holds the errors on the
    campaign's fixed active-learning holdout (frames no member ever trained or validated on).
    """

    doc_type: Literal["committee"] = "committee"
    committee_id: str = Field(..., description="<campaign>:committee:iter<k>.")
    campaign: str
    iteration: int
    members: list[CommitteeMember]
    n_training_frames: int = Field(..., description="Frames of the training set the committee was fit to.")
    holdout_frame_ids: list[str]
    holdout: HoldoutErrors = Field(..., description="Errors of the committee mean (energy and forces averaged over members).")
    member_holdout: list[HoldoutErrors] = Field(..., description="Errors of each member, in member order.")
    provenance: Provenance


class SelectedFrame(BaseModel):
    """An explored configuration picked for a DFT label."""

    origin: str = Field(..., description="Exploration origin, e.g. 'adatom_md'.")
    label: str = Field(..., description="Where it came from, e.g. 'adatom 110 md 300 K step 40'.")
    is_slab: bool
    max_force_std_eV_A: float
    structure: dict = Field(..., description="pymatgen Structure.as_dict().")


class ActiveLearningIterationDoc(BaseModel):
    """One active-learning iteration: the committee, what it explored, what it selected, whether to stop."""

    doc_type: Literal["active_learning_iteration"] = "active_learning_iteration"
    iteration_id: str = Field(..., description="<campaign>:active_learning:iter<k>.")
    campaign: str
    iteration: int
    committee_id: str
    member_sha256s: list[str]
    n_training_frames: int = Field(..., description="Frames the committee was fit to (holdout excluded).")
    n_holdout_frames: int
    holdout: HoldoutErrors = Field(..., description="Committee-mean errors on the fixed holdout.")
    n_explored: int = Field(..., description="Frames every member evaluated.")
    n_accurate: int
    n_candidates: int
    n_failed: int
    accurate_fraction: float
    candidate_fraction: float
    failed_fraction: float
    max_force_std_eV_A: list[float] = Field(..., description="σ of every explored frame, in exploration order.")
    origins: list[str] = Field(..., description="Exploration origin of every explored frame.")
    candidates_by_origin: dict[str, int]
    failed_by_origin: dict[str, int]
    selected: list[SelectedFrame] = Field(..., description="Candidates picked for DFT labels (none once stopped).")
    trust_lower_eV_A: float
    trust_upper_eV_A: float
    converged: bool = Field(..., description="candidate_fraction below the spec's threshold.")
    stop_reason: Literal["spot_checks_passed", "converged", "max_iterations", "no_candidates_selected"] | None = Field(
        None, description="Why the loop stopped here; None: the selected frames are labelled and a new committee fit."
    )
    n_fanout_frames: int = Field(0, description="Explored frames taken from the fan-out (active_learning.explore_fanout).")
    spot_checks: list[SpotCheck] | None = Field(
        None,
        description="The committee mean on the campaign's teacher spot checks (same frames and teacher labels, no new "
        "DFT); None without explore_fanout or without spot checks.",
    )
    spot_checks_passed: bool | None = Field(None, description="Every spot check of this committee passed.")
    exploration_wall_time_s: float
    provenance: Provenance
