"""The bulk page of the report: MLIP vs DFT teacher vs literature, phonons, Cij(T), a(T).

Reads one ``bulk_properties`` document (:class:`~li_campaign.bulk.builders.BulkPropertiesBuilder`).
Temperatures are JSON object keys, so they are strings (``"300"``) everywhere here.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from li_campaign.core.formatting import fmt

#: Literature values for bcc Li (the source on each line; /shared/notes/reference_values.md §4a).
BULK_REFERENCE = {
    "pbe_B0_prime": 3.34,  # WIEN2k PBE, Delta set (calcDelta v3.1)
    "expt_vacancy_formation_eV": 0.34,  # dilatometry vs X-ray lattice parameter (1970), ±0.04
    "expt_elastic_293K_GPa": {"C11": 17.3, "C12": 13.1, "C44": 8.4},  # Beg & Nielsen 1976, Born–von Kármán fit
    "expt_lattice_constant_A": {"110": 3.490, "424": 3.537},  # Beg & Nielsen 1976, neutron
    "melting_point_K": 453.69,
}

_ELASTIC = ("C11", "C12", "C44")


def _pm(entry: dict, name: str, digits: int = 1) -> str:
    value, err = entry.get(name), entry.get(f"{name}_err")
    if value is None:
        return "–"
    return f"{value:.{digits}f} ± {err:.{digits}f}" if err is not None else f"{value:.{digits}f}"


def bulk_markdown(bulk: dict | None) -> list[str]:
    """Markdown lines of the bulk page (a note when the bulk stage has no results)."""
    lines = ["## Bulk properties", ""]
    if not bulk:
        return [*lines, "No bulk-stage results for this model (`bulk` in the spec, then `li-campaign build`).", ""]
    dft = bulk.get("dft_reference") or {}
    ref = BULK_REFERENCE
    zero_k, dft_zero_k = bulk.get("elastic_0K_GPa") or {}, dft.get("elastic_0K_GPa") or {}
    lines += [
        "| quantity | MLIP | DFT teacher | reference |",
        "|---|---|---|---|",
        f"| a0 (Å) | {fmt(bulk.get('a0_A'), 4)} | {fmt(dft.get('a0_A'), 4)} | PBE 3.429, expt. 3.451 (0 K, ZPE-corr.) |",
        f"| B0 (GPa) | {fmt(bulk.get('B0_GPa'), 2)} | {fmt(dft.get('B0_GPa'), 2)} | PBE 13.84, expt. 13.9 |",
        f"| B' | {fmt(bulk.get('B0_prime'), 2)} | {fmt(dft.get('B0_prime'), 2)} | PBE {ref['pbe_B0_prime']} |",
    ]
    lines += [
        f"| {name} 0 K (GPa) | {fmt(zero_k.get(name), 2)} | {fmt(dft_zero_k.get(name), 2)} | "
        f"expt. 293 K {ref['expt_elastic_293K_GPa'][name]} |"
        for name in _ELASTIC
    ]
    lines += [
        f"| vacancy formation (eV) | {fmt(bulk.get('vacancy_formation_eV'))} | | expt. {ref['expt_vacancy_formation_eV']} |",
        f"| vacancy migration (eV) | {fmt(bulk.get('vacancy_migration_eV'))} | | |",
    ]
    phonons = bulk.get("phonon_THz") or {}
    lines += [
        f"| phonons at {point} (THz) | {', '.join(f'{f:.2f}' for f in phonons.get(point, [])) or '–'} | | |"
        for point in ("H", "N", "P")
    ]
    lines += [
        "",
        "### Finite temperature (MD)",
        "",
        "Isothermal Cij from NVT ±strain runs, errors from block averages; `converged` is the run's own check "
        "(drift between halves, relative errors: see the `finite_temperature` collection).",
        "",
        "| T (K) | a (Å) | C11 (GPa) | C12 (GPa) | C44 (GPa) | Cv MD (k_B/atom) | Cv harmonic (k_B/atom) | converged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    converged = bulk.get("md_converged") or {}
    elastic = bulk.get("elastic_GPa") or {}
    expansion = bulk.get("thermal_expansion") or {}
    cv_md, cv_harm = bulk.get("heat_capacity_md_kB") or {}, bulk.get("heat_capacity_harmonic_kB") or {}
    for temp in sorted(set(elastic) | set(expansion), key=float):
        entry = elastic.get(temp, {})
        lines.append(
            f"| {temp} | {fmt(expansion.get(temp), 4)} | {_pm(entry, 'C11')} | {_pm(entry, 'C12')} | "
            f"{_pm(entry, 'C44')} | {fmt(cv_md.get(temp), 2)} | {fmt(cv_harm.get(temp), 2)} | "
            f"{fmt(converged.get(temp))} |"
        )
    lines += ["", "![phonons](phonons.png)", "", "![elastic constants](elastic.png)", ""]
    return lines


def plot_phonons(bulk: dict | None, path: Path) -> None:
    """Phonon dispersion along Γ–H–P–Γ–N and the DOS (a note when missing)."""
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    band_ax, dos_ax = fig.subplots(1, 2, sharey=True, width_ratios=[3, 1])
    band, dos = (bulk or {}).get("phonon_band"), (bulk or {}).get("phonon_dos")
    if not band:
        band_ax.set_title("no phonon results", fontsize="small")
    else:
        for segment_x, segment_f in zip(band["distances"], band["frequencies_THz"]):
            band_ax.plot(segment_x, segment_f, color="C0", lw=1)
        band_ax.set_xticks(band["label_positions"], band["labels"])
        for x in band["label_positions"]:
            band_ax.axvline(x, color="0.7", lw=0.5)
        band_ax.axhline(0, color="k", lw=0.5)
        band_ax.set_xlim(band["label_positions"][0], band["label_positions"][-1])
    if dos:
        dos_ax.plot(dos["dos"], dos["frequencies_THz"], color="C1", lw=1)
    band_ax.set_ylabel("frequency (THz)")
    dos_ax.set_xlabel("DOS")
    FigureCanvasAgg(fig).print_png(path)


def plot_elastic(bulk: dict | None, path: Path) -> None:
    """C11, C12, C44 vs T with error bars, and a(T) (notes when missing)."""
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    cij_ax, a_ax = fig.subplots(1, 2)
    elastic = (bulk or {}).get("elastic_GPa") or {}
    temps = sorted(elastic, key=float)
    for k, name in enumerate(_ELASTIC):
        ts = [float(t) for t in temps if elastic[t].get(name) is not None]
        values = [elastic[t][name] for t in temps if elastic[t].get(name) is not None]
        errors = [elastic[t].get(f"{name}_err") or 0.0 for t in temps if elastic[t].get(name) is not None]
        cij_ax.errorbar(ts, values, yerr=errors, marker="o", capsize=3, color=f"C{k}", label=name)
        expt = BULK_REFERENCE["expt_elastic_293K_GPa"][name]
        cij_ax.plot([293], [expt], marker="s", mfc="none", color=f"C{k}")
    cij_ax.set_xlabel("T (K)")
    cij_ax.set_ylabel("elastic constant (GPa)")
    cij_ax.set_title("MD (points), expt. 293 K (squares)", fontsize="small")
    cij_ax.legend(fontsize="small")
    expansion = (bulk or {}).get("thermal_expansion") or {}
    errors = (bulk or {}).get("thermal_expansion_err") or {}
    temps = sorted(expansion, key=float)
    a_ax.errorbar([float(t) for t in temps], [expansion[t] for t in temps],
                  yerr=[errors.get(t) or 0.0 for t in temps], marker="o", capsize=3, label="MLIP NPT")
    expt = BULK_REFERENCE["expt_lattice_constant_A"]
    a_ax.plot([float(t) for t in expt], list(expt.values()), "s", mfc="none", color="k", label="expt. (neutron)")
    a_ax.set_xlabel("T (K)")
    a_ax.set_ylabel("a (Å)")
    a_ax.legend(fontsize="small")
    FigureCanvasAgg(fig).print_png(path)
