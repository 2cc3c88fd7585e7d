"""``li-campaign db migrate``: copy a campaign into another database, so that it continues there.

The use: a campaign tried on a workstation in the embedded mode moves to a cluster's MongoDB
without recomputing its DFT labels and fits. Everything the campaign needs to continue is copied:

* the FireWorks LaunchPad: every collection (workflows with their states, fireworks, launches,
  offline runs, FireWorks' GridFS of large launch data) and FireWorks' id counters, ids kept;
* the jobflow JobStore: the output documents and the large-data blobs (montydb when embedded,
  GridFS in MongoDB), so output references and the reuse keys (``provenance.calc_key``,
  :mod:`li_campaign.execution.reuse`) find every result;
* every derived collection of the result registry
  (:data:`~li_campaign.schemas.registry.RESULT_TYPES`, the model registry ``models`` among them)
  with its ``last_updated`` stamps, so the builders stay incremental;
* the model files of ``<campaign>/models``. Every path to one of them (``deployed_path`` and
  ``package_path`` of the model documents, wherever they are: job outputs, the ``models``
  collection, specs of fireworks that running jobs added) is rewritten to the target's
  ``models`` folder, also where the source campaign directory was moved since
  (:class:`_ModelPathRewriter`).

In the target, fireworks that were READY run, COMPLETED ones are not run again, and FIZZLED,
RESERVED and RUNNING ones keep their state (``li-campaign recover`` and ``run`` treat a launch
whose worker is gone as they always do). Launch folders (``<campaign>/launches``, the jobs'
working directories) are not copied: the launches keep their ``launch_dir`` into the source.

Rules

* The source is only read, and held under its LaunchPad lock (embedded mode) for the whole
  migration, so no ``li-campaign`` process changes it meanwhile.
* The target must be empty: no workflow, firework or launch, no job output or blob, no
  derived document, no model file. With ``merge`` a target that holds another campaign is
  accepted: the source's firework and launch ids are shifted past the target's (workflow
  links and states follow), a document whose key is already in the target is left as it is
  (counted as ``kept``), and a source workflow that is already there (same ``_id``: migrated
  before) or a model file of the same name and other content is refused.
* The target is opened and counted before anything is written to it: an unreachable or
  non-empty target is refused with a :class:`~li_campaign.core.errors.DatabaseError` that
  says so, and a target campaign directory that this call created is removed again.
* Afterwards every copied document is read back from the target and compared by the sha256
  of its canonical JSON (:func:`document_sha256`); the counts and a digest per part are
  reported (:class:`MigrationReport`).

Written here: neither FireWorks (``lpad`` has no copy between databases) nor jobflow nor
maggma copies a campaign; the copy goes through their APIs (LaunchPad collections, maggma
``Store.query``/``Store.update``), so the same code writes to montydb, mongomock and MongoDB.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from li_campaign.core.errors import DatabaseError, InputError, LiCampaignError
from li_campaign.core.hashing import file_sha256
from li_campaign.db.config import CAMPAIGN_CONFIG, DATA_STORE, Campaign, DbConfig
from li_campaign.db.indexes import init_database_indexes
from li_campaign.db.launchpad import initialise_launchpad, is_initialised, open_launchpad
from li_campaign.db.settings import redact_uri
from li_campaign.schemas.registry import RESULT_TYPES

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from maggma.core import Store

LAUNCHPAD_COUNTED = ("workflows", "fireworks", "launches")
"""LaunchPad collections whose documents make a target non-empty (an initialised LaunchPad has none)."""

ID_COUNTERS = "fw_id_assigner"
"""FireWorks' collection of the next firework and launch ids."""

OUTPUTS_KEY = ("uuid", "index")
BLOBS_KEY = ("blob_uuid",)
_BATCH = 200  # documents per store write


def _json_default(value: Any) -> str:
    """JSON form of the BSON values in stored documents (for :func:`document_sha256`)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # ObjectId, and what else a BSON backend returns


def document_sha256(doc: Mapping[str, Any]) -> str:
    """sha256 of a stored document's canonical JSON, its ``_id`` left out.

    Keys are sorted and datetimes cut to milliseconds (what MongoDB keeps), so the same
    document has the same hash in montydb, mongomock and MongoDB.

    Examples
    --------
    >>> document_sha256({"_id": 1, "b": 2, "a": [1.5]}) == document_sha256({"a": [1.5], "b": 2})
    True
    """
    body = {key: value for key, value in doc.items() if key != "_id"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class PartReport:
    """How one part of the campaign (a collection, the model files) was copied and checked.

    Attributes
    ----------
    name
        ``launchpad.<collection>``, ``jobstore.outputs``, ``jobstore.outputs_blobs``,
        ``derived.<collection>`` or ``model files``.
    source
        Documents (files) in the source.
    copied
        Written to the target.
    kept
        Already in the target under the same key (``merge``), left as they were.
    target_before, target_after
        Documents in the target before and after.
    verified
        Copied documents read back from the target with the source's hash.
    mismatched
        Keys of copied documents missing in the target or with another hash (at most 20).
    digest
        sha256 over the sorted hashes of the copied documents (the target's, when they agree).
    """

    name: str
    source: int
    copied: int = 0
    kept: int = 0
    target_before: int = 0
    target_after: int = 0
    verified: int = 0
    mismatched: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def ok(self) -> bool:
        """Every copied document is in the target with its hash, and the counts add up."""
        return (
            self.verified == self.copied
            and self.copied + self.kept == self.source
            and self.target_after == self.target_before + self.copied
        )

    def __str__(self) -> str:
        line = (
            f"{self.name:34s} source {self.source:6d}  copied {self.copied:6d}  kept {self.kept:5d}  "
            f"target {self.target_before} -> {self.target_after}  verified {self.verified:6d}  sha256 {self.digest}"
        )
        if not self.ok:
            line += f"  MISMATCH {', '.join(self.mismatched) or 'counts differ'}"
        return line


@dataclass
class MigrationReport:
    """What ``li-campaign db migrate`` copied and what it checked afterwards."""

    source: str
    target: str
    merged: bool
    fw_id_offset: int = 0
    launch_id_offset: int = 0
    paths_rewritten: int = 0
    source_states: dict[str, int] = field(default_factory=dict)
    target_states: dict[str, int] = field(default_factory=dict)
    parts: list[PartReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every part verified, and the migrated fireworks have the source's states."""
        return all(part.ok for part in self.parts) and self.source_states == self.target_states

    def summary_lines(self) -> list[str]:
        """Source, target, firework states, id shifts and rewritten paths (the lines above the parts)."""
        head = [
            f"migrated {self.source} -> {self.target}" + (" (merged)" if self.merged else ""),
            f"firework states: source {self.source_states}, target {self.target_states}",
        ]
        if self.merged:
            head.append(f"ids shifted: firework +{self.fw_id_offset}, launch +{self.launch_id_offset}")
        head.append(f"model paths rewritten: {self.paths_rewritten}")
        active = sum(n for state, n in self.source_states.items() if state in ("RESERVED", "RUNNING"))
        if active:
            head.append(
                f"note: {active} firework(s) were RESERVED or RUNNING in the source and are so in the target; "
                "their workers write to the source. Once those workers are gone, rerun them in the target "
                "(`lpad rerun_fws -i ID` with the target's LaunchPad)"
            )
        return head

    def lines(self) -> list[str]:
        """The whole report: :meth:`summary_lines`, then one line per part."""
        return self.summary_lines() + [str(part) for part in self.parts]


class _ModelPathRewriter:
    """Rewrite every path to a model file of the source into the target's ``models`` folder.

    A path is a model path if it starts with the source's ``models`` folder, or if it is an
    absolute path ``.../models/<file>`` to a file that the source's ``models`` folder holds
    (the campaign directory was moved or copied since the model was deployed, e.g. from the
    workstation to the cluster's login node).
    """

    def __init__(self, source: Campaign, target: Campaign):
        self.old = f"{source.models_dir}{os.sep}"
        self.new = f"{target.models_dir}{os.sep}"
        self.names = set(_model_files(source))
        self.count = 0

    def _relative(self, value: str) -> str | None:
        if value.startswith(self.old):
            return value[len(self.old) :]
        marker = f"{os.sep}models{os.sep}"
        if os.path.isabs(value) and marker in value:
            name = value.rsplit(marker, 1)[1]
            if name in self.names:
                return name
        return None

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            relative = self._relative(value)
            if relative is None:
                return value
            self.count += 1
            return self.new + relative
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value


@contextmanager
def _connected(store: Store) -> Iterator[Store]:
    store.connect()
    try:
        yield store
    finally:
        store.close()


def _model_files(campaign: Campaign) -> dict[str, Path]:
    """The files under ``<campaign>/models`` by path relative to it."""
    if not campaign.models_dir.is_dir():
        return {}
    return {
        path.relative_to(campaign.models_dir).as_posix(): path
        for path in sorted(campaign.models_dir.rglob("*"))
        if path.is_file()
    }


def campaign_contents(campaign: Campaign) -> dict[str, int]:
    """Count what a campaign holds: LaunchPad documents, job outputs, blobs, derived documents, model files.

    Raises
    ------
    DatabaseError
        If the campaign's database cannot be reached (the LaunchPad is opened first, which
        fails fast on an unreachable MongoDB).
    """
    counts: dict[str, int] = {}
    with open_launchpad(campaign, write=False) as lp:
        for name in LAUNCHPAD_COUNTED:
            counts[f"launchpad.{name}"] = lp.db[name].count_documents({})
    jobs = campaign.job_store()
    with _connected(jobs):
        counts["jobstore.outputs"] = jobs.docs_store.count()
        counts["jobstore.outputs_blobs"] = jobs.additional_stores[DATA_STORE].count()
    for result in RESULT_TYPES:
        with _connected(campaign.derived_store(result.collection)) as store:
            counts[f"derived.{result.collection}"] = store.count()
    counts["model files"] = len(_model_files(campaign))
    return counts


def _key_of(doc: Mapping[str, Any], key: tuple[str, ...]) -> str:
    return "/".join(str(doc.get(name)) for name in key)


def _digest(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256("".join(sorted(hashes.values())).encode()).hexdigest()


def _copy_store(name: str, source: Store, target: Store, key: tuple[str, ...], rewrite: _ModelPathRewriter) -> PartReport:
    """Copy every document of ``source`` whose key is not in ``target`` yet, then read them back and compare."""
    report = PartReport(name, source=source.count(), target_before=target.count())
    present = {_key_of(doc, key) for doc in target.query({}, properties=list(key))} if report.target_before else set()
    expected: dict[str, str] = {}
    batch: list[dict] = []
    for doc in source.query({}):
        doc = rewrite({k: v for k, v in doc.items() if k != "_id"})
        doc_key = _key_of(doc, key)
        if doc_key in present:
            report.kept += 1
            continue
        expected[doc_key] = document_sha256(doc)
        batch.append(doc)
        if len(batch) >= _BATCH:
            target.update(batch, key=list(key))
            batch = []
    if batch:
        target.update(batch, key=list(key))
    report.copied = len(expected)
    found = {}
    for doc in target.query({}):
        doc_key = _key_of(doc, key)
        if doc_key in expected:
            found[doc_key] = document_sha256(doc)
    _compare(report, expected, found)
    report.target_after = target.count()
    return report


def _compare(report: PartReport, expected: Mapping[str, str], found: Mapping[str, str]) -> None:
    """Fill ``verified``, ``mismatched`` and ``digest`` of ``report``."""
    wrong = [key for key in expected if found.get(key) != expected[key]]
    report.verified = len(expected) - len(wrong)
    report.mismatched = wrong[:20]
    report.digest = _digest(expected)


def _copy_model_files(source: Campaign, target: Campaign) -> PartReport:
    """Copy the model files that the target does not have (same name means same content: checked before)."""
    files, present = _model_files(source), _model_files(target)
    report = PartReport("model files", source=len(files), target_before=len(present))
    expected = {}
    for rel, path in files.items():
        if rel in present:
            report.kept += 1
            continue
        dest = target.models_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.migrating")
        shutil.copy2(path, partial)
        os.replace(partial, dest)
        expected[rel] = file_sha256(path)
    report.copied = len(expected)
    found = {rel: file_sha256(target.models_dir / rel) for rel in expected if (target.models_dir / rel).is_file()}
    _compare(report, expected, found)
    report.target_after = len(_model_files(target))
    return report


def _shift_ids(collection: str, doc: dict, fw: int, launch: int) -> dict:
    """A LaunchPad document with its firework ids shifted by ``fw`` and launch ids by ``launch``."""
    if not fw and not launch:
        return doc
    doc = dict(doc)
    if collection == "fireworks":
        doc["fw_id"] += fw
        for name in ("launches", "archived_launches"):
            doc[name] = [i + launch for i in doc.get(name) or []]
    elif collection in ("launches", "offline_runs"):
        doc["launch_id"] += launch
        doc["fw_id"] += fw
    elif collection == "workflows":
        doc["nodes"] = [i + fw for i in doc["nodes"]]
        for name in ("links", "parent_links"):
            doc[name] = {str(int(k) + fw): [i + fw for i in v] for k, v in (doc.get(name) or {}).items()}
        doc["fw_states"] = {str(int(k) + fw): v for k, v in (doc.get("fw_states") or {}).items()}
    return doc


def _launchpad_collections(lp: LaunchPad) -> list[str]:
    """The LaunchPad's collections to copy, workflows last (a workflow only once its fireworks are there)."""
    names = sorted(name for name in lp.db.list_collection_names() if name != ID_COUNTERS)
    return sorted(names, key=lambda name: name == "workflows")


def _copy_launchpad(
    source: LaunchPad, target: Campaign, offsets: tuple[int, int], rewrite: _ModelPathRewriter
) -> dict[str, tuple[PartReport, dict[str, str]]]:
    """Insert every LaunchPad document of ``source`` into the target's LaunchPad (ids shifted by ``offsets``)."""
    fw, launch = offsets
    copies = {}
    with open_launchpad(target) as lp:
        for name in _launchpad_collections(source):
            report = PartReport(f"launchpad.{name}", source=source.db[name].count_documents({}))
            report.target_before = lp.db[name].count_documents({})
            docs = [rewrite(_shift_ids(name, doc, fw, launch)) for doc in source.db[name].find({})]
            if docs:
                lp.db[name].insert_many(docs)
            report.copied = len(docs)
            copies[name] = (report, {str(doc["_id"]): document_sha256(doc) for doc in docs})
        counters = source.db[ID_COUNTERS].find_one({}, {"_id": 0}) or {}
        lp.db[ID_COUNTERS].delete_many({})
        lp.db[ID_COUNTERS].insert_one(
            {**counters, "next_fw_id": counters.get("next_fw_id", 1) + fw, "next_launch_id": counters.get("next_launch_id", 1) + launch}
        )
    return copies


def _verify_launchpad(target: Campaign, copies: dict[str, tuple[PartReport, dict[str, str]]]) -> list[PartReport]:
    """Read the copied LaunchPad documents back from the target and compare their hashes."""
    parts = []
    with open_launchpad(target, write=False) as lp:
        for name, (report, expected) in copies.items():
            found = {}
            for doc in lp.db[name].find({}):
                if str(doc["_id"]) in expected:
                    found[str(doc["_id"])] = document_sha256(doc)
            _compare(report, expected, found)
            report.target_after = lp.db[name].count_documents({})
            parts.append(report)
    return parts


def _fw_states(lp: LaunchPad, fw_ids: list[int] | None = None) -> dict[str, int]:
    query = {} if fw_ids is None else {"fw_id": {"$in": fw_ids}}
    return dict(sorted(Counter(fw["state"] for fw in lp.fireworks.find(query, {"state": 1})).items()))


def _refuse(target: Campaign, reason: str) -> DatabaseError:
    return DatabaseError(f"target {target.root} ({target.mode}): {reason}; nothing was written to it")


def _check_target(source: Campaign, source_lp: LaunchPad, target: Campaign, merge: bool) -> tuple[int, int]:
    """Refuse a target that cannot take the source; return the firework and launch id offsets.

    Raises
    ------
    DatabaseError
        If the target is unreachable, not empty (without ``merge``), already holds a workflow
        of the source, or has a model file of the same name and other content.
    """
    try:
        contents = campaign_contents(target)
    except DatabaseError as exc:
        raise _refuse(target, f"cannot be opened: {exc}") from None
    filled = {name: n for name, n in contents.items() if n}
    if filled and not merge:
        listed = ", ".join(f"{name} {n}" for name, n in filled.items())
        raise _refuse(target, f"not empty ({listed}); use --merge to add this campaign to it")
    if not filled:
        return 0, 0
    with open_launchpad(target, write=False) as lp:
        ids = [doc["_id"] for doc in source_lp.workflows.find({}, {"_id": 1})]
        again = lp.workflows.count_documents({"_id": {"$in": ids}})
        if again:
            raise _refuse(target, f"already holds {again} workflow(s) of this campaign (migrated before)")
        counters = lp.db[ID_COUNTERS].find_one({}) or {}
    present = _model_files(target)
    for rel, path in _model_files(source).items():
        if rel in present and file_sha256(present[rel]) != file_sha256(path):
            raise _refuse(target, f"model file {present[rel]} differs from the source's {path}")
    return counters.get("next_fw_id", 1) - 1, counters.get("next_launch_id", 1) - 1


def _launchpad_initialised(campaign: Campaign) -> bool:
    """True if the campaign's LaunchPad has FireWorks' id counters."""
    with open_launchpad(campaign, write=False) as lp:
        return is_initialised(lp)


def _target_folder_state(target_dir: Path) -> str:
    """``campaign`` (an initialised campaign), ``empty`` (an empty folder) or ``new`` (no folder yet).

    Raises
    ------
    InputError
        If ``target_dir`` is a file, or a folder that is neither empty nor a campaign.
    """
    if (target_dir / CAMPAIGN_CONFIG).is_file():
        return "campaign"
    if not target_dir.exists():
        return "new"
    if not target_dir.is_dir() or any(target_dir.iterdir()):
        raise InputError(
            f"{target_dir}: --target-dir is neither an initialised campaign nor an empty folder; "
            "give a new folder (it is created) or a campaign directory"
        )
    return "empty"


def _undo_target_folder(target_dir: Path, state: str) -> None:
    """Remove what :class:`Campaign.create` made in a target folder that was new or empty."""
    if state == "campaign" or not target_dir.exists():
        return
    shutil.rmtree(target_dir)
    if state == "empty":
        target_dir.mkdir()


def migrate_campaign(
    source: Campaign,
    target_config: DbConfig,
    target_dir: str | Path,
    merge: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy ``source`` into the database of ``target_config``, verify the copy and report it.

    See the module docstring for what is copied and the rules.

    Parameters
    ----------
    source
        The campaign to copy; only read.
    target_config
        The target's database config (``db_config/*.yaml``).
    target_dir
        The target's campaign directory (its ``campaign.yaml``, ``models``, ``launches`` and,
        embedded, its databases): a new or empty folder, or a campaign initialised with
        ``target_config``.
    merge
        Accept a target that holds another campaign (ids shifted, documents already there kept).
    progress
        Called with a line as each part is copied (the CLI prints them).

    Returns
    -------
    MigrationReport
        Counts and hashes per part; ``ok`` is False if anything read back differs.

    Raises
    ------
    InputError
        If the target is the source, or ``target_dir`` is not usable or was initialised with
        another database config.
    DatabaseError
        If the target is unreachable, not empty (without ``merge``) or conflicts with the
        source; nothing was written to it then.
    """
    say = progress or (lambda line: None)
    target_dir = Path(target_dir).resolve()
    if target_dir == source.root:
        raise InputError(f"{target_dir}: --target-dir is the source campaign; give the new campaign's directory")
    if source.mode == target_config.mode == "mongodb" and source.config == target_config:
        raise InputError("the target database config is the source's own; give the new database's config")
    folder = _target_folder_state(target_dir)
    with open_launchpad(source, write=False) as source_lp:  # holds the source's lock until the end
        try:
            target = Campaign.create(target_dir, target_config)
            offsets = _check_target(source, source_lp, target, merge)
        except BaseException:
            _undo_target_folder(target_dir, folder)
            raise
        report = MigrationReport(str(source.root), f"{target.root} ({target.mode})", merge, *offsets)
        try:
            copies = _copy(source, source_lp, target, offsets, report, say)
        except LiCampaignError:
            raise
        except Exception as exc:  # a write refused or interrupted half-way (server gone, disk full)
            raise DatabaseError(
                f"target {target.root} ({target.mode}): migration stopped while writing: {type(exc).__name__}: "
                f"{redact_uri(str(exc))[:300]}. The target holds a partial copy: empty it (a new --target-dir; "
                "for MongoDB, drop its two databases) and migrate again; the source is unchanged"
            ) from None
        source_ids = [fw["fw_id"] + offsets[0] for fw in source_lp.fireworks.find({}, {"fw_id": 1})]
        report.source_states = _fw_states(source_lp)
    for part in _verify_launchpad(target, copies):
        report.parts.append(part)
        say(str(part))
    with open_launchpad(target, write=False) as lp:
        report.target_states = _fw_states(lp, source_ids)
    return report


def _copy(
    source: Campaign,
    source_lp: LaunchPad,
    target: Campaign,
    offsets: tuple[int, int],
    report: MigrationReport,
    say: Callable[[str], None],
) -> dict[str, tuple[PartReport, dict[str, str]]]:
    """Write everything into the checked target: model files, JobStore, derived collections, LaunchPad last.

    The store parts are verified as they are written and added to ``report``; the LaunchPad's
    copies are returned for :func:`_verify_launchpad` (embedded, the LaunchPad file is written
    when its block ends).
    """
    if not _launchpad_initialised(target):
        initialise_launchpad(target)
    if target.mode == "mongodb":
        init_database_indexes(target)  # the unique keys before the writes (upserts on them)
    rewrite = _ModelPathRewriter(source, target)
    report.parts.append(_copy_model_files(source, target))
    say(str(report.parts[-1]))
    source_jobs, target_jobs = source.job_store(), target.job_store()
    with _connected(source_jobs), _connected(target_jobs):
        pairs = (
            ("jobstore.outputs_blobs", source_jobs.additional_stores[DATA_STORE], target_jobs.additional_stores[DATA_STORE], BLOBS_KEY),
            ("jobstore.outputs", source_jobs.docs_store, target_jobs.docs_store, OUTPUTS_KEY),
        )
        for label, src, dst, key in pairs:
            report.parts.append(_copy_store(label, src, dst, key, rewrite))
            say(str(report.parts[-1]))
    for result in RESULT_TYPES:
        src, dst = source.derived_store(result.collection), target.derived_store(result.collection)
        with _connected(src), _connected(dst):
            report.parts.append(_copy_store(f"derived.{result.collection}", src, dst, (result.key,), rewrite))
        say(str(report.parts[-1]))
    copies = _copy_launchpad(source_lp, target, offsets, rewrite)
    report.paths_rewritten = rewrite.count
    return copies

