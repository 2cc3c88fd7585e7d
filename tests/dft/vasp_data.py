"""Where the real VASP outputs used by the tests live (published with custodian's tests; see SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

VASP_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "vasp"

needs_vasp_data = pytest.mark.skipif(
    not (VASP_DATA / "SOURCE.md").is_file(),
    reason=f"real VASP outputs not found at {VASP_DATA} (../shared/data/vasp next to the repository)",
)
