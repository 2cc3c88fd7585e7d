"""Campaign progress read from the LaunchPad."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from li_campaign.core.errors import DatabaseError
from li_campaign.db.launchpad import open_launchpad
from li_campaign.launch.recover import lost_launches

if TYPE_CHECKING:
    from li_campaign.db.config import Campaign


EMBEDDED_CEILING_FIREWORKS = 2000
"""Fireworks past which an embedded campaign should move to MongoDB (``li-campaign status`` warns).

Measured by ``benchmarks/embedded_launchpad.py`` (raw output
``benchmarks/results/embedded_launchpad_2026-12-04.txt``, 2-core VM, 7.9 kB of LaunchPad file per
firework as in the demo): every access loads and dumps the whole file under the campaign lock,
0.06 s at 100 fireworks, 0.76 s at 1 000, 2.1 s at 2 500, 5.2 s at 5 000. Short jobs run at half
the rate of a small campaign at about 2 000 fireworks (1 683 jobs/h at 100, 1 244 at 1 000, 648 at
2 500), and every command waits longer with every firework added.
"""

EMBEDDED_CEILING_BYTES = 16_000_000
"""The same ceiling as a LaunchPad file size: 2 000 fireworks made a 16 MB file in the benchmark."""


def embedded_ceiling_warning(campaign: Campaign, n_fireworks: int) -> str | None:
    """A warning when an embedded campaign has passed the measured ceiling of its LaunchPad; else None.

    Parameters
    ----------
    campaign
        The campaign (a mongodb-mode one never gets a warning).
    n_fireworks
        Its number of fireworks.
    """
    if campaign.mode != "embedded":
        return None
    size = campaign.fireworks_db_file.stat().st_size
    if n_fireworks <= EMBEDDED_CEILING_FIREWORKS and size <= EMBEDDED_CEILING_BYTES:
        return None
    return (
        f"{n_fireworks} fireworks, LaunchPad file {size / 1e6:.0f} MB: past the embedded database's ceiling "
        f"({EMBEDDED_CEILING_FIREWORKS} fireworks or {EMBEDDED_CEILING_BYTES / 1e6:.0f} MB; "
        "benchmarks/results/embedded_launchpad_2026-12-04.txt). Every job reads and rewrites the whole file "
        "under one lock, so the campaign runs slower with every job added: move it to MongoDB with "
        "`li-campaign db migrate --to db_config/mongodb.yaml --target-dir NEW_DIR` (README, Database modes)"
    )


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failure_reason(trace: str) -> str:
    """The exception line of a stack trace (plus the next lines of a multi-line message)."""
    lines = [line.rstrip() for line in trace.strip().splitlines() if line.strip()]
    if not lines:
        return "no reason recorded"
    for i in range(len(lines) - 1, -1, -1):
        if _EXCEPTION_LINE.match(lines[i]):
            return " | ".join(line.strip() for line in lines[i : i + 4] if "errors.pydantic.dev" not in line)
    return lines[-1]


def failed_pack_members(campaign: Campaign) -> list[dict]:
    """Calculations that failed inside packs whose other calculations completed.

    Such a pack's job is COMPLETED, so FireWorks does not list them; the pack's output
    (``output.failures``, :class:`~li_campaign.schemas.packing.PackDoc`) does.
    """
    store = campaign.job_store()
    store.connect()
    try:
        packs = store.query({"output.doc_type": "pack"}, properties=["name", "output.failures"], load=False)
        return [
            {"pack": pack.get("name"), **failure}
            for pack in packs
            for failure in (pack.get("output") or {}).get("failures") or []
        ]
    finally:
        store.close()


_BAND_DOC_TYPES = ("diffusion", "step_edge_diffusion")
_HOP_KEYS = ("start", "end", "distance_A", "mechanism", "valid", "invalid_reason")
_BAND_KEYS = ("doc_type", "facet", "terrace", "step", "rejected_hops")


def _band_projection(prefix: str) -> list[str]:
    return [f"{prefix}.{key}" for key in _BAND_KEYS] + [
        f"{prefix}.{hops}.{key}" for hops in ("hops", "terrace_hop") for key in _HOP_KEYS
    ]


def _bands_of(doc: dict) -> list[dict]:
    """The invalid bands and rejected paths of one diffusion / step-edge document, one entry each."""
    if doc.get("doc_type") == "step_edge_diffusion":
        where = " ".join(filter(None, [f"{doc.get('terrace')} step", doc.get("step")]))
    else:
        where = str(doc.get("facet"))
    hops = [hop for hop in [*(doc.get("hops") or []), doc.get("terrace_hop")] if isinstance(hop, dict)]
    out, named = [], set()
    for hop in hops:
        if hop.get("valid", True) is False:
            path = f"{hop.get('mechanism', 'hop')} {hop.get('start')}->{hop.get('end')}"
            path += f" ({hop.get('distance_A', 0.0):.2f} Å)"
            reason = hop.get("invalid_reason") or "no reason recorded"
            named.add(f"{path}: {reason}")
            out.append({"facet": where, "path": path, "reason": reason, "kind": "invalid band"})
    for text in doc.get("rejected_hops") or []:
        if not any(text.endswith(entry) for entry in named):  # an invalid band named again among the rejected
            path, _, reason = text.partition(": ")
            out.append({"facet": where, "path": path if reason else None, "reason": reason or text, "kind": "rejected"})
    return out


def invalid_bands(campaign: Campaign) -> list[dict]:
    """Per facet (or step), every NEB band that gives no barrier, with its reason, from the stored results.

    Two kinds: ``invalid band`` (a band that ran, kept with ``valid=False``: unconverged or no
    interior maximum) and ``rejected`` (a path whose relaxed endpoints were not two distinct
    minima at their sites, e.g. degenerate, or a site that is no minimum: no band ran; from
    ``rejected_hops``). Neither is used as a barrier. Results of unpacked jobs and of packs are
    read; the same entry of a result stored twice is listed once.
    """
    store = campaign.job_store()
    store.connect()
    try:
        docs = [
            (doc.get("output") or {})
            for doc in store.query(
                {"output.doc_type": {"$in": list(_BAND_DOC_TYPES)}}, properties=_band_projection("output"), load=False
            )
        ]
        for pack in store.query(
            {"output.doc_type": "pack", "output.result_doc_types": {"$in": list(_BAND_DOC_TYPES)}},
            properties=_band_projection("output.results"),
            load=False,
        ):
            docs += [r for r in (pack.get("output") or {}).get("results") or [] if isinstance(r, dict)]
    finally:
        store.close()
    out: list[dict] = []
    for doc in docs:
        if doc.get("doc_type") in _BAND_DOC_TYPES:
            out += [entry for entry in _bands_of(doc) if entry not in out]
    return sorted(out, key=lambda entry: (entry["facet"], entry["kind"], entry["path"] or "", entry["reason"]))


def campaign_status(campaign: Campaign, queue: str | None = None) -> dict:
    """Return firework counts by state, the reason of every failed firework, lost jobs and invalid NEB bands.

    ``embedded_ceiling_warning`` says when an embedded campaign has passed its LaunchPad's
    measured ceiling (:func:`embedded_ceiling_warning`), else None.

    ``invalid_bands`` lists per facet each NEB band that gives no barrier and its reason
    (:func:`invalid_bands`; ``invalid_bands_error`` if the JobStore cannot be read).

    A part that cannot be read from here is left empty with the reason in ``queue_error``
    (the batch queue) or ``failed_calculations_error`` (the JobStore, e.g. of a read-only
    campaign directory), so the rest is still reported.

    Parameters
    ----------
    campaign
        The campaign.
    queue
        ``"slurm"`` or ``"pbs"``, asked about batch jobs of ``li-campaign launch``
        (default: detected); see :mod:`li_campaign.launch.recover`.
    """

    with open_launchpad(campaign, write=False) as lp:
        fws = list(lp.fireworks.find({}, {"fw_id": 1, "state": 1, "name": 1, "launches": 1}))
        failed = []
        for fw in fws:
            if fw["state"] != "FIZZLED" or not fw.get("launches"):
                continue
            launch = lp.launches.find_one({"launch_id": fw["launches"][-1]}, {"action": 1, "launch_dir": 1})
            stored = ((launch or {}).get("action") or {}).get("stored_data", {})
            trace = (stored.get("_exception") or {}).get("_stacktrace", "") or stored.get("_message", "")
            reason = failure_reason(trace)
            failed.append({"fw_id": fw["fw_id"], "name": fw["name"], "reason": reason, "launch_dir": (launch or {}).get("launch_dir")})
        workflows = lp.workflows.count_documents({})
        try:
            lost, queue_error = lost_launches(campaign, lp, queue), None
        except DatabaseError as exc:  # the queue cannot be read from here: say so, report the rest
            lost, queue_error = [], str(exc)
    states = Counter(fw["state"] for fw in fws)
    try:
        failed_calculations, failed_calculations_error = failed_pack_members(campaign), None
    except DatabaseError as exc:  # the JobStore cannot be read (a read-only folder): say so, report the rest
        failed_calculations, failed_calculations_error = [], str(exc)
    try:
        bands, bands_error = invalid_bands(campaign), None
    except DatabaseError as exc:  # the JobStore cannot be read: say so, report the rest
        bands, bands_error = [], str(exc)
    return {
        "embedded_ceiling_warning": embedded_ceiling_warning(campaign, len(fws)),
        "invalid_bands": bands,
        "invalid_bands_error": bands_error,
        "failed_calculations": failed_calculations,
        "failed_calculations_error": failed_calculations_error,
        "n_workflows": workflows,
        "n_fireworks": len(fws),
        "states": dict(sorted(states.items())),
        "failed": failed,
        "lost": lost,
        "queue_error": queue_error,
    }
