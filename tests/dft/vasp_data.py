"""Where the real VASP outputs used by the tests live (published with custodian's tests; see SOURCE.md).

A module marked ``needs_vasp_data`` skips when they are absent, except where
``LI_CAMPAIGN_REQUIRE_VASP_DATA=1`` (set by ``.ci/run``): there the absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VASP_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "vasp"

needs_vasp_data = pytest.mark.usefixtures("vasp_data")


@pytest.fixture
def vasp_data() -> Path:
    """Return :data:`VASP_DATA`; skip (or fail, in CI) when it is absent."""
    if not (VASP_DATA / "SOURCE.md").is_file():
        reason = f"real VASP outputs not found at {VASP_DATA} (../shared/data/vasp next to the repository)"
        if os.environ.get("LI_CAMPAIGN_REQUIRE_VASP_DATA") == "1":
            pytest.fail(f"real VASP outputs are required here (LI_CAMPAIGN_REQUIRE_VASP_DATA=1) but {reason}")
        pytest.skip(reason)
    return VASP_DATA
