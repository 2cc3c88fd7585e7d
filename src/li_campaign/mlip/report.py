"""Report section of the fit: the model's adsorption-energy errors on its own adatom training cells."""

from __future__ import annotations

from li_campaign.core.formatting import fmt


def adsorption_label_markdown(by_facet: dict[str, dict] | None, tolerance_eV: float | None) -> list[str]:
    """Markdown lines of the model's errors on the adsorption energies of its adatom training cells.

    Parameters
    ----------
    by_facet
        ``adsorption_label_errors_by_facet`` of the model (:func:`li_campaign.mlip.builders.adsorption_errors_by_facet`);
        nothing is written when it is empty (no adatom cells, or a model stored before it was computed).
    tolerance_eV
        The spot checks' adsorption-energy tolerance (``validation.adsorption_tol_eV``), to which each
        facet's largest error is compared; None when there were no spot checks.
    """
    if not by_facet:
        return []
    lines = [
        "",
        "Adsorption energies of the adatom training cells, E(cell) − n E(slab) − E_bulk against their clean slab "
        "(rattled cells at the scan heights, not relaxed): model − teacher on the frames the model was fitted to.",
        "",
        "| facet | cells | mean (eV) | max abs (eV) | worst cell |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| ({facet}) | {row['n']} | {row['mean_eV']:+.3f} | {fmt(row['max_abs_eV'])} | {row['worst']} |"
        for facet, row in by_facet.items()
    ]
    over = [facet for facet, row in by_facet.items() if tolerance_eV is not None and row["max_abs_eV"] > tolerance_eV]
    if over:
        lines += [
            "",
            f"**The fit does not reproduce its teacher's adsorption energies on its own cells** within the spot checks' "
            f"{tolerance_eV:g} eV on " + ", ".join(f"({facet})" for facet in over) + ": expect the adsorption "
            "energies and barriers of those facets to fail their spot checks.",
        ]
    return lines
