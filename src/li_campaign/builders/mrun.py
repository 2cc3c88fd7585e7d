"""A builders file for maggma's ``mrun`` (``mrun builders.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from monty.serialization import dumpfn

from li_campaign.builders import all_builders
from li_campaign.core.errors import DatabaseError

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign


def write_mrun_file(campaign: Campaign, path: str | Path) -> Path:
    """Serialize :func:`~li_campaign.builders.all_builders` to a JSON file for ``mrun``.

    ``mrun <path>`` then runs the same builds as ``li-campaign build`` (``-n N`` for N
    processes); ``li_campaign`` must be importable where it runs.

    Parameters
    ----------
    campaign
        An embedded-mode campaign.
    path
        The JSON file to write.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DatabaseError
        In mongodb mode: the serialized stores would contain the MongoDB URI with its
        credentials, which is never written to a file. Use ``li-campaign build`` instead.
    """
    if campaign.mode != "embedded":
        raise DatabaseError(
            "mongodb mode: an mrun file would contain the MongoDB URI with its credentials; "
            "run `li-campaign build` instead"
        )
    path = Path(path)
    dumpfn(all_builders(campaign), path, indent=1)
    return path
