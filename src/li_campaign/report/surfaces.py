"""Report sections of the surface fan-out beyond the facet table: steps, step edges and adatom MD diffusion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from li_campaign.schemas.registry import result_type

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _newest(docs: list[dict], key: str) -> dict[str, dict]:
    """The newest document per value of ``key``."""
    out: dict[str, dict] = {}
    for doc in sorted(docs, key=lambda d: d["completed_at"]):
        out[str(doc[key])] = doc
    return dict(sorted(out.items()))


def surface_sections(read: Callable[[str, dict], list[dict]], criteria: dict, facets: list[dict]) -> dict:
    """Collect the step, step-edge and diffusion numbers of one model.

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
        ``step_energy_eV_per_A`` (terrace -> λ), ``steps`` (terrace -> λ, terrace width and
        the lowest E_ads per site class of the stepped and the kinked slab), ``step_edges``
        (terrace -> step-edge and terrace barriers, Ehrlich–Schwoebel barrier, mechanism),
        ``diffusivity`` (facet -> {T in K: D in cm²/s}, single-adatom MD) and ``arrhenius``
        (facet -> {adatom count: Ea, D0, r², n, NEB effective and lowest-hop barrier, Ea − NEB barrier}).
    """
    step_docs = _newest(read("step_energies", criteria), "terrace")
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
    edges = {
        terrace: result_type("step_edge_barriers").reported(doc)
        for terrace, doc in _newest(read("step_edge_barriers", criteria), "terrace").items()
    }
    arrhenius: dict[str, dict] = {}
    for doc in sorted(read("adatom_arrhenius", criteria), key=lambda d: d["completed_at"]):
        arrhenius.setdefault(doc["facet"], {})[str(doc["n_adatoms"])] = result_type("adatom_arrhenius").reported(doc)
    return {
        "step_energy_eV_per_A": {terrace: row["step_energy_eV_per_A"] for terrace, row in steps.items()},
        "steps": steps,
        "step_edges": edges,
        "diffusivity": {row["facet"]: row["diffusivity_cm2_s"] for row in facets if row.get("diffusivity_cm2_s")},
        "arrhenius": dict(sorted(arrhenius.items())),
    }


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _yes_no(value: object) -> str:
    return "–" if value is None else ("yes" if value else "no")


def facet_row(row: dict, fmt: Callable[..., str]) -> str:
    """One Markdown row of the facet table (columns as in ``render_markdown``'s header).

    The adsorption minimum is marked *pinned* when no site is stable; the effective barrier
    is followed by its per-direction values, whether the hop network percolates along a and
    b, its path and mechanism; the lowest single hop comes last.
    """
    ads = fmt(row.get("min_adsorption_energy_eV"))
    if row.get("min_adsorption_basis") == "pinned_all_sites":
        ads += " (pinned)"
    by_direction = row.get("effective_barrier_by_direction_eV") or {}
    percolates = row.get("percolates") or {}
    directions = " / ".join(fmt(by_direction.get(d)) for d in ("a", "b")) if by_direction else "–"
    perc = " / ".join(_yes_no(percolates.get(d)) for d in ("a", "b")) if percolates else "–"
    path = " → ".join(row.get("effective_path") or []) or "–"
    return (
        f"| ({row['facet']}) | {fmt(row.get('surface_energy_J_m2'))} | {fmt(row.get('wulff_fraction'))} | "
        f"{ads} | {fmt(row.get('min_site'))} | {fmt(row.get('effective_barrier_eV'))} | {directions} | {perc} | "
        f"{path} | {row.get('effective_mechanism') or '–'} | {fmt(row.get('min_barrier_eV'))} | {fmt(row.get('min_hop'))} |"
    )


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


def surface_markdown(report: dict) -> list[str]:
    """Markdown lines of the step, step-edge and diffusion sections (nothing when none was computed)."""
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
                f"| ({terrace}) | {_fmt(row['step_energy_eV_per_A'], 4)} | {_fmt(row['terrace_width_A'])} | "
                f"{row['step_direction'] or '–'} | {ads or '–'} |"
            )
        lines.append("")
    if report["step_edges"]:
        lines += ["| terrace | step-edge barrier (eV) | mechanism | terrace barrier (eV) | Ehrlich–Schwoebel (eV) |", "|---|---|---|---|---|"]
        lines += [
            f"| ({t}) | {_fmt(e['step_edge_barrier_eV'])} | {e['step_edge_mechanism'] or '–'} | "
            f"{_fmt(e['terrace_barrier_eV'])} | {_fmt(e['es_barrier_eV'])} |"
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
                    f"| ({facet}) | {count} | {points or '–'} | {_fmt(fit['activation_energy_eV'])} | "
                    f"{_fmt(fit['prefactor_cm2_s'])} | {_fmt(fit.get('neb_effective_barrier_eV'))} | "
                    f"{_fmt(fit['neb_min_barrier_eV'])} | {_fmt(fit['activation_minus_neb_eV'])} |"
                )
        lines += ["", "![Arrhenius](arrhenius.png)", ""]
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
