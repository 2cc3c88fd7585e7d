"""Errors that li-campaign reports to users: each names the field or file at fault.

:class:`MdInstabilityError` is the one raised and handled inside a calculation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ase import Atoms


class LiCampaignError(Exception):
    """Base class of the errors that the CLI prints without a traceback."""


class InputError(LiCampaignError):
    """A structure, spec field or file given by the user is not acceptable."""


class ModelIntegrityError(LiCampaignError):
    """A model file is missing, does not match the sha256 stored in the registry, or is not a Li model."""


class MissingDataError(LiCampaignError):
    """Documents that a job reads from the JobStore (e.g. its training frames) are not there."""


class DatabaseError(LiCampaignError):
    """The configured database cannot be reached or is not initialised."""


class MdInstabilityError(RuntimeError):
    """An MD run crossed a stability limit of :class:`~li_campaign.simulation.md_guard.MdGuard`.

    Not a :class:`LiCampaignError`: the Makers catch it and store a flagged result
    (:class:`~li_campaign.schemas.flags.FlaggedResultDoc`); it lives here so that the schemas
    can name it without importing the property code.

    Attributes
    ----------
    kind
        One of :data:`li_campaign.simulation.md_guard.KINDS`.
    reason
        What was seen, with the value and the limit.
    step
        The step (or check number) at which it was seen.
    last_good
        Copy of the atoms (no calculator) at the last check that passed; ``None`` if the
        first check failed.
    last_good_step
        The step of ``last_good``.
    """

    def __init__(self, kind: str, reason: str, step: int, last_good: Atoms | None, last_good_step: int | None):
        super().__init__(f"MD unstable at step {step}: {reason}")
        self.kind = kind
        self.reason = reason
        self.step = step
        self.last_good = last_good
        self.last_good_step = last_good_step

    def __str__(self) -> str:
        return f"MD unstable at step {self.step}: {self.reason}"
