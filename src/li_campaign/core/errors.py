"""Errors that li-campaign reports to users: each names the field or file at fault."""


class LiCampaignError(Exception):
    """Base class of the errors that the CLI prints without a traceback."""


class InputError(LiCampaignError):
    """A structure, spec field or file given by the user is not acceptable."""


class ModelIntegrityError(LiCampaignError):
    """A model file is missing or does not match the sha256 stored in the registry."""


class DatabaseError(LiCampaignError):
    """The configured database cannot be reached or is not initialised."""
