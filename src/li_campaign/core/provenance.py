"""Code versions recorded on every result document."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

_TRACKED = ("li-campaign", "ase", "pymatgen", "jobflow", "fireworks", "maggma", "nequip", "torch", "gpaw")


@lru_cache(maxsize=1)
def code_versions() -> dict[str, str]:
    """Return the installed versions of the packages that shape a result."""
    versions = {}
    for name in _TRACKED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions
