"""The campaign report: numbers from the derived collections, a Markdown summary and figures.

Only the collections written by the builders (:data:`~li_campaign.schemas.registry.RESULT_TYPES`)
are read for the results (run ``li-campaign build`` first); the JobStore only for the count of
calculations by type. The fields copied from a
collection's documents are its registered :attr:`~li_campaign.schemas.registry.ResultType.report_fields`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pymatgen.analysis.wulff import WulffShape
from pymatgen.core import Lattice

from li_campaign.active.report import (
    active_learning_markdown,
    active_learning_rows,
    committee_members,
    plot_active_learning,
)
from li_campaign.bulk.report import bulk_markdown, plot_elastic, plot_phonons
from li_campaign.core.errors import DatabaseError, InputError
from li_campaign.core.formatting import fmt
from li_campaign.kinetics.report import invalid_bands_markdown, kinetics_markdown, kinetics_sections, plot_arrhenius
from li_campaign.mlip.report import adsorption_label_markdown
from li_campaign.report.counts import count_calculations
from li_campaign.report.facets import facet_row
from li_campaign.schemas.registry import BEP_FIT_FIELDS, result_type
from li_campaign.schemas.validation import ORIGIN as VALIDATION_ORIGIN
from li_campaign.surfaces.report import step_sections, steps_markdown
from li_campaign.validation.report import plot_validation, validation_markdown, validation_section

if TYPE_CHECKING:
    from maggma.core import Store

    from li_campaign.db.config import Campaign

_BUILT = {"state": "successful"}
_NOT_REPORTED = ("_id", "last_updated", "source_uuids", "model_sha256", "campaign", "state", "completed_at")

#: Literature values for bcc Li shown beside the model and its DFT teacher (source on each line).
REFERENCE_VALUES = {
    "pbe_lattice_constant_A": 3.429,  # all-electron PBE, Hao et al., PRB 85, 014111 (2012)
    "expt_lattice_constant_A": 3.451,  # zero-point corrected, same source
    "pbe_bulk_modulus_GPa": 13.84,  # WIEN2k PBE (Delta set)
    "expt_bulk_modulus_GPa": 13.9,  # Schimka et al., JCP 134, 024116 (2011)
    "expt_surface_energy_J_m2": 0.52,  # isotropic, from liquid surface tension (Vitos et al. 1998)
}
_NO_BEP = {
    **dict.fromkeys(BEP_FIT_FIELDS),
    "n": 0,
    "facets": [],
    "mechanisms": {},
    "points": [],
    "excluded": [],
    "reason": "no facet results for this model",
    "validated": False,
}


@contextmanager
def _opened(campaign: Campaign, name: str) -> Iterator[Store]:
    """Open a derived collection for the duration of a ``with`` block."""
    store = campaign.derived_store(name)
    store.connect()
    try:
        yield store
    finally:
        store.close()


def _read(campaign: Campaign, name: str, criteria: dict | None = None) -> list[dict]:
    """Return the documents of a derived collection (without ``_id``)."""
    with _opened(campaign, name) as store:
        return [{k: v for k, v in doc.items() if k != "_id"} for doc in store.query(criteria=criteria)]


def _select_model(models: list[dict], sha: str | None) -> dict:
    """Return the newest model, or the one whose sha256 starts with ``sha``."""
    if sha is None:
        return max(models, key=lambda doc: doc["completed_at"])
    matches = [doc for doc in models if doc["sha256"].startswith(sha)]
    if len(matches) != 1:
        known = ", ".join(sorted(doc["sha256"][:12] for doc in models))
        problem = "matches several models" if matches else "matches no built model"
        raise InputError(f"model sha256 {sha!r} {problem}; known: {known}")
    return matches[0]


def collect_report(campaign: Campaign, model_sha256: str | None = None) -> dict:
    """Collect the report numbers of one model from the derived collections.

    Parameters
    ----------
    campaign
        The campaign.
    model_sha256
        sha256 (or a unique prefix) of the model; the newest built model by default.

    Returns
    -------
    dict
        JSON-serialisable: ``campaign``, ``campaign_dir``, ``model`` (sha256, holdout errors,
        split sizes, ...), ``parity`` (DFT vs MLIP holdout values), ``n_training_frames``,
        ``lattice_constant_A`` (None if the bulk fit is missing), ``bulk`` (the model's EOS
        fields, ``a0_A``, ``B0_GPa``, ``dft_reference`` and, once the bulk stage is built, the
        ``bulk_properties`` fields: vacancies, phonons, ``elastic_GPa`` and
        ``thermal_expansion`` per temperature), ``dft_bulk``, ``facets`` (one
        row per facet: γ, the adsorption minimum and its basis, the effective barrier with its
        per-direction values, path, mechanism and ``percolates``, the lowest single hop, the
        ``invalid_hops`` with their reasons), ``surface_energy_J_m2``,
        ``min_adsorption_energy_eV``, ``effective_barrier_eV`` and ``min_barrier_eV`` (facet ->
        value, facets without the value left out), ``bep`` (``slope``, ``slope_stderr``,
        ``intercept``, ``intercept_stderr``, ``r2``, ``ci95`` (t-based), ``p_value``,
        ``spearman``, ``n``, ``facets``, ``mechanisms``, ``points``, ``excluded`` (facet and
        reason), ``reason`` (why no fit)), ``bep_high_index`` (the same over the high-index
        facets only),
        the surface sections of :func:`~li_campaign.surfaces.report.step_sections` and :func:`~li_campaign.kinetics.report.kinetics_sections`
        (``step_energy_eV_per_A``, ``steps``, ``step_edges``, ``diffusivity``, ``arrhenius``),
        ``n_calculations`` (result documents this campaign computed, packed or not) and
        ``calculations`` (``computed``, ``reused`` and ``by_type``; see
        :func:`~li_campaign.report.counts.count_calculations`), ``active_learning`` (one
        object per iteration of the loop, the ``report_fields`` of ``active_learning`` in the registry;
        empty without one), ``validation`` (the teacher spot checks:
        :func:`~li_campaign.validation.report.validation_section`; ``bep.validated`` is true
        only when they all passed).

    Raises
    ------
    DatabaseError
        If no model has been built into the derived collections.
    InputError
        If ``model_sha256`` matches no built model, or several.
    """
    models = _read(campaign, "models", _BUILT)
    if not models:
        raise DatabaseError(
            f"{campaign.root}: no built results (the derived collections are empty); "
            "run `li-campaign build` after the workflows have finished"
        )
    loop = _read(campaign, "active_learning")
    if model_sha256 is None:  # the campaign's model, not a committee member of the active-learning loop
        models = [doc for doc in models if doc["sha256"] not in committee_members(loop)] or models
    model = _select_model(models, model_sha256)
    sha, name = model["sha256"], model["campaign"]
    criteria = {**_BUILT, "model_sha256": sha}

    bulk = max(_read(campaign, "bulk", criteria), key=lambda doc: doc["completed_at"], default=None)
    wulff = next(iter(_read(campaign, "wulff_shape", {"model_sha256": sha})), None)
    fractions = (wulff or {}).get("area_fractions", {})
    rows = [
        {
            **result_type("facet_summary").reported(doc),
            "hkl": doc.get("miller_index"),
            "wulff_fraction": fractions.get(doc["facet"], 0.0 if fractions else None),
        }
        for doc in sorted(_read(campaign, "facet_summary", {"model_sha256": sha}), key=lambda doc: doc["facet"])
    ]
    teacher = max(
        _read(campaign, "bulk", {**_BUILT, "campaign": name, "source": "dft"}),
        key=lambda doc: doc["completed_at"],
        default=None,
    )
    bep_docs = _read(campaign, "bep_regression", {"model_sha256": sha})
    bulk_stage = max(_read(campaign, "bulk_properties", {"model_sha256": sha}), key=lambda doc: doc["last_updated"], default=None)
    with _opened(campaign, "training_frames") as store:
        n_frames = store.count({**_BUILT, "campaign": name, "origin": {"$ne": VALIDATION_ORIGIN}})
    jobs = campaign.job_store()
    jobs.connect()
    try:
        calculations = count_calculations(jobs, name)
    finally:
        jobs.close()

    def by_facet(field: str) -> dict[str, float]:
        return {row["facet"]: row[field] for row in rows if row[field] is not None}

    return {
        "campaign": name,
        "campaign_dir": str(campaign.root),
        "model": result_type("models").reported(model),
        "parity": model.get("parity"),
        "n_training_frames": n_frames,
        "lattice_constant_A": None if bulk is None else bulk["lattice_constant_A"],
        "bulk": _bulk_section(bulk, teacher, bulk_stage),
        "dft_bulk": None if teacher is None else result_type("bulk").reported(teacher),
        "reference": REFERENCE_VALUES,
        "facets": rows,
        "surface_energy_J_m2": by_facet("surface_energy_J_m2"),
        "min_adsorption_energy_eV": by_facet("min_adsorption_energy_eV"),
        "effective_barrier_eV": by_facet("effective_barrier_eV"),
        "min_barrier_eV": by_facet("min_barrier_eV"),
        "bep": result_type("bep_regression").reported(bep_docs[0]) if bep_docs else _NO_BEP,
        "bep_high_index": _high_index_bep(bep_docs[0] if bep_docs else None),
        "wulff": None if wulff is None else result_type("wulff_shape").reported(wulff),
        **step_sections(lambda name, query: _read(campaign, name, query), criteria),
        **kinetics_sections(lambda name, query: _read(campaign, name, query), criteria, rows),
        "n_calculations": calculations["computed"],
        "calculations": calculations,
        "active_learning": active_learning_rows([doc for doc in loop if doc.get("campaign") == name]),
        "validation": validation_section(_read(campaign, "validation", criteria)),
    }


def _high_index_bep(doc: dict | None) -> dict:
    """The BEP fit over the high-index facets only (the points are those of ``bep``)."""
    high = (doc or {}).get("high_index")
    if not high:
        return {**_NO_BEP, "reason": "no high-index facet results for this model"}
    facets = set(high["facets"])
    return {**_NO_BEP, **high, "points": [p for p in doc["points"] if p["facet"] in facets]}


def _bulk_section(bulk: dict | None, teacher: dict | None, stage: dict | None) -> dict | None:
    """The report's ``bulk``: the EOS fields, then every bulk-stage result (``bulk_properties``)."""
    if bulk is None and stage is None:
        return None
    section = result_type("bulk").reported(bulk)
    section.update(
        a0_A=section["lattice_constant_A"],
        B0_GPa=section["bulk_modulus_GPa"],
        dft_reference=None if teacher is None else {"a0_A": teacher["lattice_constant_A"], "B0_GPa": teacher["bulk_modulus_GPa"]},
    )
    section.update({key: value for key, value in (stage or {}).items() if key not in _NOT_REPORTED})
    return section


def _bep_line(bep: dict, digits: int = 3) -> str:
    """Return the fitted BEP line as text, e.g. ``0.512 · E_ads − 0.210``."""
    sign = "−" if bep["intercept"] < 0 else "+"
    return f"{bep['slope']:.{digits}f} · E_ads {sign} {abs(bep['intercept']):.{digits}f}"


def _bep_summary(bep: dict) -> str:
    """One line: the fit, slope ± standard error, its t-based 95 % interval, p, r², Spearman ρ, n and the facets."""
    rho = "–" if bep.get("spearman") is None else f"{bep['spearman']:.2f}"
    ci = "–" if bep.get("ci95") is None else f"[{bep['ci95'][0]:.3f}, {bep['ci95'][1]:.3f}]"
    stderr = "–" if bep.get("slope_stderr") is None else f"{bep['slope_stderr']:.3f}"
    p_value = "–" if bep.get("p_value") is None else f"{bep['p_value']:.3g}"
    mechanisms = ", ".join(f"{name} {count}" for name, count in (bep.get("mechanisms") or {}).items())
    return (
        f"E_b,eff = {_bep_line(bep)} eV; n = {bep['n']}, slope {bep['slope']:.3f} ± {stderr} (standard error), "
        f"95 % CI {ci} (t, {bep['n'] - 2} degrees of freedom), p = {p_value}, r² = {bep['r2']:.3f}, "
        f"Spearman ρ = {rho}; facets {', '.join(bep['facets'])}" + (f"; mechanisms: {mechanisms}" if mechanisms else "")
    )


def _bep_lines(bep: dict, title: str) -> list[str]:
    """The fit (or why there is none) and the excluded facets with their reasons."""
    if bep["slope"] is None:
        lines = [f"{title}no fit (n = {bep['n']}): {bep['reason']}."]
    else:
        lines = [f"{title}{_bep_summary(bep)}."]
    excluded = bep.get("excluded") or []
    if excluded:
        lines += ["", "Excluded facets:", ""]
        lines += [f"- ({e['facet']}): {e['reason']}" for e in excluded]
    return lines


def render_markdown(report: dict) -> str:
    """Return ``summary.md``: model and bulk sections, a per-facet table and the BEP fit."""
    model, bulk, bep = report["model"], report["bulk"] or {}, report["bep"]
    teacher, ref = report.get("dft_bulk") or {}, report["reference"]
    lines = [
        f"# li-campaign report: {report['campaign']}",
        "",
        "## Model",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| sha256 | `{model['sha256']}` |",
        f"| architecture | {model['architecture']} ({model['deploy_mode']}) |",
        f"| completed | {model['completed_at']} |",
        f"| holdout energy MAE / RMSE (meV/atom) | {fmt(model['energy_mae_meV_atom'], 2)} / "
        f"{fmt(model['energy_rmse_meV_atom'], 2)} |",
        f"| holdout force MAE / RMSE (meV/Å) | {fmt(model['force_mae_meV_A'], 1)} / "
        f"{fmt(model['force_rmse_meV_A'], 1)} |",
        f"| frames train / val / test | {model['n_train']} / {model['n_val']} / {model['n_test']} |",
        f"| training frames in campaign | {report['n_training_frames']} |",
    ]
    tolerance = (report["validation"].get("thresholds") or {}).get("adsorption_energy")
    lines += adsorption_label_markdown(model.get("adsorption_label_errors_by_facet"), tolerance)
    lines += [
        "",
        "## Bulk (bcc, Birch–Murnaghan)",
        "",
        "| quantity | MLIP | DFT teacher | PBE (lit.) | expt. |",
        "|---|---|---|---|---|",
        f"| lattice constant (Å) | {fmt(bulk.get('lattice_constant_A'), 4)} | "
        f"{fmt(teacher.get('lattice_constant_A'), 4)} | {ref['pbe_lattice_constant_A']} | {ref['expt_lattice_constant_A']} |",
        f"| bulk modulus (GPa) | {fmt(bulk.get('bulk_modulus_GPa'), 2)} | {fmt(teacher.get('bulk_modulus_GPa'), 2)} | "
        f"{ref['pbe_bulk_modulus_GPa']} | {ref['expt_bulk_modulus_GPa']} |",
        f"| energy (eV/atom) | {fmt(bulk.get('energy_per_atom_eV'), 4)} | {fmt(teacher.get('energy_per_atom_eV'), 4)} | | |",
        "",
        "## Facets",
        "",
        f"Experimental (isotropic) surface energy: {ref['expt_surface_energy_J_m2']} J/m².",
        "",
        "min E_ads: the lowest freely relaxed stable minimum (marked *pinned* where no site is stable). "
        "Effective barrier: the minimax barrier of long-range transport over the hop network, the lower of the "
        "two surface directions a and b; – where the network does not percolate. Lowest hop: the lowest single barrier.",
        "",
        "| facet | γ (J/m²) | Wulff area fraction | min E_ads (eV) | site | effective barrier (eV) | a / b (eV) | "
        "percolates a / b | path | mechanism | lowest hop (eV) | hop |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [facet_row(row, fmt) for row in report["facets"]]
    lines += invalid_bands_markdown(report["facets"])
    wulff = report.get("wulff") or {}
    if wulff.get("weighted_surface_energy_J_m2") is not None:
        lines += [
            "",
            f"Wulff shape: area-weighted γ = {wulff['weighted_surface_energy_J_m2']:.3f} J/m², "
            f"shape factor {wulff['shape_factor']:.2f}, anisotropy {wulff['anisotropy']:.3f}.",
            "",
            "![Wulff shape](wulff.png)",
        ]
    lines += ["", "## BEP relation (effective barrier vs min adsorption energy, ordinary least squares)", ""]
    lines += [
        "**Validated** by the teacher spot checks." if bep.get("validated") else
        "**Not validated**: the teacher spot checks did not all pass (see below); do not trust this fit yet.",
        "",
    ]
    lines += _bep_lines(bep, "All facets: ")
    lines += [""] + _bep_lines(report["bep_high_index"], "High-index facets only: ")
    lines += ["", "![BEP](bep.png)", "", "![parity](parity.png)", ""]
    lines += validation_markdown(report["validation"], fmt)
    lines += steps_markdown(report)
    lines += kinetics_markdown(report)
    lines += bulk_markdown(report["bulk"] if report["bulk"] and "elastic_GPa" in report["bulk"] else None)
    lines += active_learning_markdown(report.get("active_learning") or [])
    return "\n".join(lines)


def plot_bep(bep: dict, path: Path) -> None:
    """Effective barrier vs min adsorption energy: the fitted points with facet labels, excluded facets
    that have both numbers as grey crosses, and the fit line (or a note why there is none)."""
    fig = Figure(figsize=(4.5, 3.6), layout="constrained")
    ax = fig.add_subplot()
    x = [p["min_adsorption_energy_eV"] for p in bep["points"]]
    y = [p["effective_barrier_eV"] for p in bep["points"]]
    ax.scatter(x, y, color="C0", zorder=3)
    for point in bep["points"]:
        ax.annotate(
            f"({point['facet']})",
            (point["min_adsorption_energy_eV"], point["effective_barrier_eV"]),
            textcoords="offset points",
            xytext=(5, 4),
        )
    shown = [
        e for e in bep.get("excluded") or []
        if e.get("min_adsorption_energy_eV") is not None and e.get("effective_barrier_eV") is not None
    ]
    if shown:
        ax.scatter(
            [e["min_adsorption_energy_eV"] for e in shown], [e["effective_barrier_eV"] for e in shown],
            marker="x", color="0.6", label="excluded", zorder=2,
        )
    if bep["slope"] is None:
        ax.set_title(f"no fit: {bep['reason']}", fontsize="small", wrap=True)
    else:
        lo, hi = min(x), max(x)
        pad = 0.1 * (hi - lo)
        xs = [lo - pad, hi + pad]
        label = f"E_b = {_bep_line(bep, 2)}, r² = {bep['r2']:.2f}"
        ax.plot(xs, [bep["slope"] * v + bep["intercept"] for v in xs], color="C1", label=label)
    if shown or bep["slope"] is not None:
        ax.legend(fontsize="small")
    ax.set_xlabel("min adsorption energy (eV)")
    ax.set_ylabel("effective diffusion barrier (eV)")
    FigureCanvasAgg(fig).print_png(path)


def plot_wulff(wulff: dict | None, path: Path) -> None:
    """The Wulff shape (pymatgen ``WulffShape.get_plot``), or a note when there is none."""
    if not wulff or not wulff.get("area_fractions"):
        fig = Figure(figsize=(4, 4), layout="constrained")
        fig.add_subplot().set_title("no Wulff shape: no surface energies", fontsize="small")
        FigureCanvasAgg(fig).print_png(path)
        return
    shape = WulffShape(
        Lattice.cubic(wulff["lattice_constant_A"]), [tuple(m) for m in wulff["miller_indices"]], wulff["surface_energies_J_m2"]
    )
    ax = shape.get_plot(aspect_ratio=(5, 5))
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)


def plot_parity(parity: dict, model: dict, path: Path) -> None:
    """Two parity panels of the holdout frames: energy per atom and force components."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    panels = (
        ("energy_per_atom_eV", "energy (eV/atom)", f"MAE {fmt(model['energy_mae_meV_atom'], 1)} meV/atom"),
        ("force_components_eV_A", "force component (eV/Å)", f"MAE {fmt(model['force_mae_meV_A'], 1)} meV/Å"),
    )
    for ax, (field, label, title) in zip(fig.subplots(1, 2), panels):
        dft, mlip = parity[f"dft_{field}"], parity[f"mlip_{field}"]
        ax.scatter(dft, mlip, s=10, alpha=0.7)
        if dft:
            lo, hi = min(dft + mlip), max(dft + mlip)
            ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
            ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(f"DFT {label}")
        ax.set_ylabel(f"MLIP {label}")
        ax.set_title(title, fontsize="medium")
    FigureCanvasAgg(fig).print_png(path)


def write_report(campaign: Campaign, out_dir: str | Path, model_sha256: str | None = None) -> Path:
    """Write ``summary.md``, ``report.json`` and the figures (BEP, Wulff, parity, validation, phonons, Cij(T), a(T)) into ``out_dir``.

    Parameters
    ----------
    campaign
        The campaign.
    out_dir
        Output directory (created if needed).
    model_sha256
        As in :func:`collect_report`.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    report = collect_report(campaign, model_sha256)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "summary.md").write_text(render_markdown(report))
    plot_bep(report["bep"], out_dir / "bep.png")
    plot_arrhenius(report, out_dir / "arrhenius.png")
    plot_parity(report["parity"], report["model"], out_dir / "parity.png")
    plot_wulff(report["wulff"], out_dir / "wulff.png")
    plot_phonons(report["bulk"], out_dir / "phonons.png")
    plot_elastic(report["bulk"], out_dir / "elastic.png")
    plot_active_learning(report["active_learning"], out_dir / "active_learning.png")
    plot_validation(report["validation"], out_dir / "validation.png")
    return out_dir
