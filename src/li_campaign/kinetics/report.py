"""Report sections of the adatom kinetics beyond the facet table: invalid NEB bands, step-edge barriers and adatom MD diffusion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from li_campaign.core.formatting import fmt_significant
from li_campaign.kinetics.md_diffusion import arrhenius_fit
from li_campaign.schemas.registry import result_type
from li_campaign.surfaces.report import newest_per

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def kinetics_sections(read: Callable[[str, dict], list[dict]], criteria: dict, facets: list[dict]) -> dict:
    """Collect the step-edge and diffusion numbers of one model.

    Parameters
    ----------
    read
        ``read(collection, criteria)`` -> documents of a derived collection.
    criteria
        Selects the model's successful documents.
    facets
        The report's facet rows (with ``diffusivity_cm2_s``).

    Returns
    -------
    dict
        ``step_edges`` (terrace -> step-edge and terrace barriers, Ehrlich–Schwoebel barrier, mechanism),
        ``diffusivity`` (facet -> {T in K: D in cm²/s}, single-adatom MD), ``arrhenius``
        (facet -> {adatom count: Ea, D0, r², n, NEB effective and lowest-hop barrier, Ea − NEB barrier})
        and ``diffusivity_large_cell`` (:func:`large_cell_section`).
    """
    edges = {
        terrace: result_type("step_edge_barriers").reported(doc)
        for terrace, doc in newest_per(read("step_edge_barriers", criteria), "terrace").items()
    }
    arrhenius: dict[str, dict] = {}
    for doc in sorted(read("adatom_arrhenius", criteria), key=lambda d: d["completed_at"]):
        arrhenius.setdefault(doc["facet"], {})[str(doc["n_adatoms"])] = result_type("adatom_arrhenius").reported(doc)
    return {
        "step_edges": edges,
        "diffusivity": {row["facet"]: row["diffusivity_cm2_s"] for row in facets if row.get("diffusivity_cm2_s")},
        "arrhenius": dict(sorted(arrhenius.items())),
        "diffusivity_large_cell": large_cell_section(read("adatom_diffusion", {**criteria, "cell": "large"}), arrhenius, facets),
    }


def large_cell_section(runs: list[dict], arrhenius: dict[str, dict], facets: list[dict]) -> dict[str, dict]:
    """The large-cell adatom diffusion per facet: each temperature's run and an Arrhenius fit compared with the rest.

    Parameters
    ----------
    runs
        Documents of ``adatom_diffusion`` with ``cell`` "large" (the newest per facet and temperature is used).
    arrhenius
        The small-cell fits, facet -> {adatom count: fit} (the single-adatom fit is compared with).
    facets
        The report's facet rows (``effective_barrier_eV``).

    Returns
    -------
    dict
        facet -> ``runs`` (temperature in K as a string -> the registered fields of ``adatom_diffusion``:
        atoms, adatoms, valid adatoms, excluded counts by reason, D ± error, engine, atom-steps/s,
        wall time per ns) and ``arrhenius`` (``activation_energy_eV`` ± ``activation_energy_err_eV``,
        ``prefactor_cm2_s``, ``r2``, ``n``, the temperatures and D fitted, ``excluded`` (runs left out
        and why), the small-cell ``small_cell_activation_energy_eV`` and the facet's
        ``neb_effective_barrier_eV``, and Ea minus each).
    """
    by_facet: dict[str, dict[float, dict]] = {}
    for doc in sorted(runs, key=lambda d: d["completed_at"]):
        by_facet.setdefault(doc["facet"], {})[float(doc["temperature_K"])] = doc
    barriers = {row["facet"]: row.get("effective_barrier_eV") for row in facets}
    out: dict[str, dict] = {}
    for facet, by_t in sorted(by_facet.items()):
        fitted = {t: doc for t, doc in sorted(by_t.items()) if doc.get("valid") and (doc.get("diffusivity_cm2_s") or 0) > 0}
        excluded = [
            f"{t:g} K: " + ("; ".join(doc.get("invalid_reasons") or []) or f"D = {doc.get('diffusivity_cm2_s')} cm²/s")
            for t, doc in sorted(by_t.items())
            if t not in fitted
        ]
        fit: dict = {"n": len(fitted)}
        if len(fitted) >= 2:
            fit = arrhenius_fit(list(fitted), [doc["diffusivity_cm2_s"] for doc in fitted.values()])
        small = ((arrhenius.get(facet) or {}).get("1") or {}).get("activation_energy_eV")
        neb = barriers.get(facet)
        ea = fit.get("activation_energy_eV")
        out[facet] = {
            "runs": {f"{t:g}": result_type("adatom_diffusion").reported(doc) for t, doc in sorted(by_t.items())},
            "arrhenius": {
                **fit,
                "temperatures_K": list(fitted),
                "diffusivities_cm2_s": [doc["diffusivity_cm2_s"] for doc in fitted.values()],
                "excluded": excluded,
                "small_cell_activation_energy_eV": small,
                "activation_minus_small_cell_eV": ea - small if ea is not None and small is not None else None,
                "neb_effective_barrier_eV": neb,
                "activation_minus_neb_eV": ea - neb if ea is not None and neb is not None else None,
            },
        }
    return out


def invalid_bands_markdown(facets: list[dict]) -> list[str]:
    """The NEB bands marked invalid (``Hop.valid`` false) per facet, with their reasons (nothing if none)."""
    rows = [(row["facet"], hop) for row in facets for hop in row.get("invalid_hops") or []]
    if not rows:
        return []
    lines = [
        "",
        "Invalid NEB bands (left out of the barriers):",
        "",
        "| facet | hop | mechanism | reason |",
        "|---|---|---|---|",
    ]
    lines += [f"| ({facet}) | {hop['hop']} | {hop.get('mechanism') or '–'} | {hop['reason']} |" for facet, hop in rows]
    return lines


def kinetics_markdown(report: dict) -> list[str]:
    """Markdown lines of the step-edge and adatom diffusion sections (nothing when none was computed)."""
    lines: list[str] = []
    if report["step_edges"]:
        lines += ["| terrace | step-edge barrier (eV) | mechanism | terrace barrier (eV) | Ehrlich–Schwoebel (eV) |", "|---|---|---|---|---|"]
        lines += [
            f"| ({t}) | {fmt_significant(e['step_edge_barrier_eV'])} | {e['step_edge_mechanism'] or '–'} | "
            f"{fmt_significant(e['terrace_barrier_eV'])} | {fmt_significant(e['es_barrier_eV'])} |"
            for t, e in report["step_edges"].items()
        ]
        lines.append("")
    if report["arrhenius"] or report["diffusivity"]:
        lines += [
            "## Adatom diffusion (NVT MD, 2D mean-square displacement)",
            "",
            "| facet | adatoms | T (K): D (cm²/s) | Ea (eV) | D0 (cm²/s) | NEB effective barrier (eV) | "
            "NEB lowest hop (eV) | Ea − NEB (eV) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for facet, by_count in report["arrhenius"].items():
            for count, fit in by_count.items():
                points = ", ".join(f"{t:g}: {d:.2e}" for t, d in zip(fit["temperatures_K"], fit["diffusivities_cm2_s"]))
                lines.append(
                    f"| ({facet}) | {count} | {points or '–'} | {fmt_significant(fit['activation_energy_eV'])} | "
                    f"{fmt_significant(fit['prefactor_cm2_s'])} | {fmt_significant(fit.get('neb_effective_barrier_eV'))} | "
                    f"{fmt_significant(fit['neb_min_barrier_eV'])} | {fmt_significant(fit['activation_minus_neb_eV'])} |"
                )
        lines += ["", "![Arrhenius](arrhenius.png)", ""]
    if report.get("diffusivity_large_cell"):
        lines += [
            "## Adatom diffusion in a large cell (many adatoms, receptive field apart)",
            "",
            "| facet | T (K) | atoms | adatoms valid / all | left out: sunk, desorbed, clustered | D ± err (cm²/s) | hops | "
            "engine | atom-steps/s | wall s/ns |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for facet, section in report["diffusivity_large_cell"].items():
            for t, run in section["runs"].items():
                gone = run.get("excluded") or {}
                d = "–" if run.get("diffusivity_cm2_s") is None else (
                    f"{run['diffusivity_cm2_s']:.2e} ± {run.get('diffusivity_err_cm2_s') or 0:.1e}"
                )
                lines.append(
                    f"| ({facet}) | {t} | {run.get('n_atoms')} | {run.get('n_valid')} / {run.get('n_adatoms')} | "
                    f"{gone.get('sunk', 0)}, {gone.get('desorbed', 0)}, {gone.get('clustered', 0)} | {d} | "
                    f"{fmt_significant(run.get('n_hops'))} | {run.get('engine') or '–'} | {fmt_significant(run.get('atom_steps_per_s'))} | "
                    f"{fmt_significant(run.get('wall_time_per_ns_s'))} |"
                )
        lines += [
            "",
            "| facet | Ea (eV) | D0 (cm²/s) | n | small-cell Ea (eV) | NEB effective barrier (eV) | Ea − NEB (eV) |",
            "|---|---|---|---|---|---|---|",
        ]
        for facet, section in report["diffusivity_large_cell"].items():
            fit = section["arrhenius"]
            lines.append(
                f"| ({facet}) | {fmt_significant(fit.get('activation_energy_eV'))} ± {fmt_significant(fit.get('activation_energy_err_eV'))} | "
                f"{fmt_significant(fit.get('prefactor_cm2_s'))} | {fit['n']} | {fmt_significant(fit['small_cell_activation_energy_eV'])} | "
                f"{fmt_significant(fit['neb_effective_barrier_eV'])} | {fmt_significant(fit['activation_minus_neb_eV'])} |"
            )
        lines.append("")
    return lines


def plot_arrhenius(report: dict, path: Path) -> None:
    """ln D against 1000/T per facet (single-adatom runs), with each facet's Arrhenius line."""
    fig = Figure(figsize=(5.0, 3.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for facet, by_t in report["diffusivity"].items():
        t = np.array([float(k) for k in by_t])
        d = np.array(list(by_t.values()), dtype=float)
        keep = d > 0
        (line,) = ax.semilogy(1000.0 / t[keep], d[keep], "o", label=f"({facet})")
        fit = report["arrhenius"].get(facet, {}).get("1") or {}
        if fit.get("activation_energy_eV") is not None and keep.any():
            x = np.linspace((1000.0 / t[keep]).min(), (1000.0 / t[keep]).max(), 20)
            k_b = 8.617333262e-5
            ax.semilogy(x, fit["prefactor_cm2_s"] * np.exp(-fit["activation_energy_eV"] / (k_b * 1000.0 / x)), "-", color=line.get_color())
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("D (cm²/s)")
    if report["diffusivity"]:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no adatom MD results", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
