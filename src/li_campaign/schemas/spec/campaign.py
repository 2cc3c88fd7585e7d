"""The whole campaign spec, its hash, and loading it from YAML with errors that name the field."""

from __future__ import annotations

from pathlib import Path
import hashlib
import json

from pydantic import Field, ValidationError, model_validator
import yaml

from li_campaign.core.errors import InputError
from li_campaign.core.textfiles import read_utf8
from li_campaign.schemas.spec.active import ActiveLearningSpec
from li_campaign.schemas.spec.base import SpecSection
from li_campaign.schemas.spec.bulk import BulkStageSpec
from li_campaign.schemas.spec.dft import DftSpec
from li_campaign.schemas.spec.fanout import FanOutSpec
from li_campaign.schemas.spec.mlip import MlipSpec
from li_campaign.schemas.spec.training import TrainingSetSpec
from li_campaign.schemas.spec.validation import ValidationSpec


class CampaignSpec(SpecSection):
    """A whole campaign: training structures, DFT labels, MLIP fit and fan-out."""

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 7
    training_set: TrainingSetSpec = TrainingSetSpec()
    dft: DftSpec = DftSpec()
    mlip: MlipSpec = MlipSpec()
    fanout: FanOutSpec = FanOutSpec()
    bulk: BulkStageSpec = BulkStageSpec()
    active_learning: ActiveLearningSpec | None = None
    validation: ValidationSpec = ValidationSpec()

    @model_validator(mode="after")
    def _energy_shift_has_its_frame(self) -> CampaignSpec:
        if self.mlip.energy_shift == "isolated_atom" and self.training_set.isolated_atom_box_A is None:
            raise ValueError(
                "mlip.energy_shift = 'isolated_atom' needs the isolated-atom frame: set "
                "training_set.isolated_atom_box_A (default 12.0) or mlip.energy_shift: mean"
            )
        return self

    def spec_hash(self) -> str:
        """Return a sha256 of the validated spec (defaults filled in), for provenance."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()

    def provenance_context(self) -> dict[str, str]:
        """``campaign`` and ``spec_hash``: the provenance fields every Maker of the campaign takes."""
        return {"campaign": self.name, "spec_hash": self.spec_hash()}


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid campaign spec ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<top level>"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def spec_from_dict(data: object, source: str = "<spec>") -> CampaignSpec:
    """Validate a mapping into a :class:`CampaignSpec`, raising :class:`InputError` on any problem."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a campaign spec must be a YAML mapping, got {type(data).__name__}")
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format_errors(source, exc)) from None


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign spec file.

    Raises
    ------
    InputError
        If the file is missing, is not UTF-8 text (the message names the first bad byte
        and its position), is not valid YAML, or fails validation; the message names the
        file and every offending field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: campaign spec file not found")
    text = read_utf8(path, "campaign spec")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    return spec_from_dict(data, source=str(path))
