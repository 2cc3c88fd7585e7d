"""Report section of the step calculations: step energies λ and the lowest adsorption energy per site class."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from li_campaign.core.formatting import fmt_significant

if TYPE_CHECKING:
    from collections.abc import Callable


def newest_per(docs: list[dict], key: str) -> dict[str, dict]:
    """The newest document per value of ``key``."""
    out: dict[str, dict] = {}
    for doc in sorted(docs, key=lambda d: d["completed_at"]):
        out[str(doc[key])] = doc
    return dict(sorted(out.items()))


def step_sections(read: Callable[[str, dict], list[dict]], criteria: dict) -> dict:
    """Collect the step numbers of one model.

    Parameters
    ----------
    read
        ``read(collection, criteria)`` -> documents of a derived collection.
    criteria
        Selects the model's successful documents.

    Returns
    -------
    dict
        ``step_energy_eV_per_A`` (terrace -> λ) and ``steps`` (terrace -> λ, terrace width,
        step direction and the lowest E_ads per site class of the stepped and the kinked slab).
    """
    step_docs = newest_per(read("step_energies", criteria), "terrace")
    sites: dict[str, dict] = {}
    for doc in sorted(read("step_adsorption", criteria), key=lambda d: d["completed_at"]):
        best: dict[str, float] = {}
        for site in doc["sites"]:
            cls = site["site_class"]
            best[cls] = min(best.get(cls, np.inf), site["adsorption_energy_eV"])
        sites.setdefault(doc["terrace"], {})[doc["kind"]] = {k: float(v) for k, v in sorted(best.items())}
    steps = {
        terrace: {
            "step_energy_eV_per_A": doc["step_energy_eV_per_A"],
            "terrace_width_A": doc.get("terrace_width_A"),
            "step_direction": doc.get("step_direction_family"),
            "min_adsorption_energy_eV": sites.get(terrace, {}),
        }
        for terrace, doc in step_docs.items()
    }
    return {
        "step_energy_eV_per_A": {terrace: row["step_energy_eV_per_A"] for terrace, row in steps.items()},
        "steps": steps,
    }


def steps_markdown(report: dict) -> list[str]:
    """Markdown lines of the step section (nothing when no step was computed)."""
    lines: list[str] = []
    if report["steps"]:
        lines += [
            "## Steps",
            "",
            "| terrace | λ (eV/Å) | terrace width (Å) | step | min E_ads (eV) by site class |",
            "|---|---|---|---|---|",
        ]
        for terrace, row in report["steps"].items():
            ads = "; ".join(
                f"{kind}: " + ", ".join(f"{cls} {value:.3f}" for cls, value in best.items())
                for kind, best in row["min_adsorption_energy_eV"].items()
            )
            lines.append(
                f"| ({terrace}) | {fmt_significant(row['step_energy_eV_per_A'], 4)} | {fmt_significant(row['terrace_width_A'])} | "
                f"{row['step_direction'] or '–'} | {ads or '–'} |"
            )
        lines.append("")
    return lines
