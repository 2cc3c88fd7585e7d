"""The campaign spec: ``workflows/*.yaml`` validated into typed settings.

Every field has a default fit for a quick run; ``extra="forbid"`` turns a typo into an
error that names the field. :func:`load_spec` turns pydantic's errors into one
:class:`~li_campaign.core.errors.InputError` listing ``file: field.path: message``.

One module per group of sections (:mod:`.training`, :mod:`.dft`, :mod:`.mlip`, :mod:`.bulk`,
:mod:`.surfaces`, :mod:`.kinetics`, :mod:`.fanout`, :mod:`.active`, :mod:`.validation`) and the whole
spec (:mod:`.campaign`). Every name is importable from here, where it lived when this was one module:
Makers stored before the split name ``li_campaign.schemas.spec`` as the ``@module`` of their sections.
"""

from __future__ import annotations

# MillerIndex, parse_miller and facet_label live in core.miller (geometry imports them without the spec); kept importable here
from li_campaign.core.miller import MillerIndex, distinct_facets, facet_label, parse_miller
from li_campaign.schemas.spec.base import SpecSection, facet_list, RelaxSpec, MdGuardSpec, LI_MELTING_POINT_K, MD_MAX_MELTING_FRACTION
from li_campaign.schemas.spec.training import BulkTrainingSpec, VacancyTrainingSpec, SlabTrainingSpec, EosTrainingSpec, RattleTrainingSpec, DivacancyTrainingSpec, AimdTrainingSpec, RelaxTrajectorySpec, TrainingSetSpec
from li_campaign.schemas.spec.dft import GpawSpec, MorseSpec, VaspSpec, DftSpec
from li_campaign.schemas.spec.mlip import SplitSpec, AllegroSpec, MlipSpec
from li_campaign.schemas.spec.bulk import VacancySpec, ElasticSpec, EosSpec, PhononSpec, FiniteTemperatureSpec, BulkStageSpec
from li_campaign.schemas.spec.surfaces import FanOutSlabSpec, FacetEnumerationSpec, STEP_TERRACES, StepSpec
from li_campaign.schemas.spec.kinetics import NebSpec, NebConvergenceSpec, SurfaceMechanismSpec, MdDiffusionSpec, LargeCellDiffusionSpec, HopSpec
from li_campaign.schemas.spec.fanout import FanOutSpec
from li_campaign.schemas.spec.active import EXPLORATION_ORIGINS, ExplorationSpec, ActiveLearningSpec
from li_campaign.schemas.spec.validation import ValidationSpec
from li_campaign.schemas.spec.campaign import CampaignSpec, spec_from_dict, load_spec

__all__ = [
    "MillerIndex",
    "distinct_facets",
    "facet_label",
    "parse_miller",
    "SpecSection",
    "facet_list",
    "RelaxSpec",
    "MdGuardSpec",
    "LI_MELTING_POINT_K",
    "MD_MAX_MELTING_FRACTION",
    "BulkTrainingSpec",
    "VacancyTrainingSpec",
    "SlabTrainingSpec",
    "EosTrainingSpec",
    "RattleTrainingSpec",
    "DivacancyTrainingSpec",
    "AimdTrainingSpec",
    "RelaxTrajectorySpec",
    "TrainingSetSpec",
    "GpawSpec",
    "MorseSpec",
    "VaspSpec",
    "DftSpec",
    "SplitSpec",
    "AllegroSpec",
    "MlipSpec",
    "VacancySpec",
    "ElasticSpec",
    "EosSpec",
    "PhononSpec",
    "FiniteTemperatureSpec",
    "BulkStageSpec",
    "FanOutSlabSpec",
    "FacetEnumerationSpec",
    "STEP_TERRACES",
    "StepSpec",
    "NebSpec",
    "NebConvergenceSpec",
    "SurfaceMechanismSpec",
    "MdDiffusionSpec",
    "LargeCellDiffusionSpec",
    "HopSpec",
    "FanOutSpec",
    "EXPLORATION_ORIGINS",
    "ExplorationSpec",
    "ActiveLearningSpec",
    "ValidationSpec",
    "CampaignSpec",
    "spec_from_dict",
    "load_spec",
]
