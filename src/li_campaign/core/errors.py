"""Errors that li-campaign reports to users: each names the field or file at fault."""


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
