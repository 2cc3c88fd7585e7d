"""Jobs of the migration tests (in a module, so worker processes import them)."""

from __future__ import annotations

from jobflow import job

from li_campaign.core.hashing import file_sha256


@job(data="values")
def big(n: int) -> dict:
    """An output whose ``values`` go to the large-data store (montydb blobs, GridFS in MongoDB)."""
    return {"n": n, "values": [float(i) / 7 for i in range(n)]}


@job
def register_model(path: str) -> dict:
    """A model document naming a file in the campaign's ``models`` folder, like the fit's ``ModelDoc``."""
    sha = file_sha256(path)
    return {"doc_type": "model", "sha256": sha, "deployed_path": path, "package_path": path, "package_sha256": sha}
