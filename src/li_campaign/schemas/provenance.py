"""Provenance carried by every result document."""

from __future__ import annotations

from pydantic import BaseModel, Field

from li_campaign import __version__
from li_campaign.core.provenance import code_versions


class Provenance(BaseModel):
    """How a number was made: code, model, DFT settings and the input structure."""

    code_version: str = Field(default_factory=lambda: __version__, description="li-campaign version.")
    code_versions: dict[str, str] = Field(default_factory=code_versions, description="Versions of key packages.")
    campaign: str = Field(..., description="Campaign name from the spec.")
    spec_hash: str = Field(..., description="sha256 of the validated campaign spec.")
    model_sha256: str | None = Field(None, description="sha256 of the deployed model file, if a model was used.")
    dft_settings: dict | None = Field(None, description="DFT engine and settings, if DFT was used.")
    structure_hash: str | None = Field(None, description="Hash of the input structure (core.hashing).")
    calc_key: str | None = Field(
        None,
        description="Identity of the calculation: sha256 of (kind, structure hash, model sha256, settings); see execution.reuse.",
    )
    reused_from: str | None = Field(
        None, description="uuid of the job whose result this is, when an identical calculation had already run (execution.reuse)."
    )
