"""Staged jobs: compute nodes that reach no database (the approach of jobflow-remote).

A *staged* launch never opens the campaign's JobStore (no montydb file, no MongoDB
connection) nor the LaunchPad:

1. At reservation, under the campaign's lock, :func:`stage_firework` resolves the job's
   output references with the real JobStore (jobflow's own ``Job.resolve_args``, so the
   resolved values are exactly what the job would have read) and puts the resolved job into
   the firework that is written to ``FW.json``. A job that reads the JobStore while it runs
   (``config.expose_store``: calculation reuse, the fit reading its training frames) also
   gets a read-only copy of the JobStore's output documents, large data loaded;
   :func:`write_staged_inputs` writes it to ``staged/inputs.json`` in the launch folder.
   The launch is marked staged in the LaunchPad (``fworker.env.staged``, which FireWorks
   keeps when it rewrites the launch; :func:`launch_is_staged`).
2. The worker (``python -m li_campaign.launch.worker --staged``) runs the job against
   :class:`StagedJobStore`: in-memory stores seeded from ``staged/inputs.json``, with the
   campaign's :class:`~li_campaign.db.stores.LargeDataJobStore` routing (large lists to the
   ``data`` store, the 16 MiB guard). When jobflow writes the job's output, the document and
   its large-data blobs are written to ``staged/outputs.json`` (atomically: complete or
   absent), before FireWorks writes the result to ``FW_offline.json``.
3. Recovery (``li-campaign launch``'s loop, ``li-campaign run``, ``li-campaign recover``) reads a
   staged launch back through :class:`StagedOutputs`: the blobs, then the documents, go into
   the real JobStore keyed by ``blob_uuid`` and (uuid, index), so inserting twice changes
   nothing; then FireWorks' ``recover_offline`` completes the firework and applies jobflow's
   additions and replacements, whose new jobs are staged in turn when they are reserved.

Failures: a job killed before its result was written has no result, so its launch is lost
(or fizzled by the local runner) and its outputs file is never read; the rerun writes its
own. A completed launch whose ``staged/outputs.json`` is missing or unreadable, or does not
hold the output of the launch's job, is fizzled with the file and the problem named;
nothing of it is inserted and no other launch is touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bson.json_util
from jobflow import Job
from maggma.stores import MemoryStore

from li_campaign.core.errors import LiCampaignError
from li_campaign.db.launchpad import write_atomically
from li_campaign.db.retry import RetryPolicy, with_retries
from li_campaign.db.settings import DATA_STORE
from li_campaign.db.stores import LargeDataJobStore

if TYPE_CHECKING:
    from fireworks import Firework, LaunchPad
    from jobflow import JobStore

    from li_campaign.db.config import Campaign

STAGED_WORKER_KEY = "staged"  # `env: {staged: true}`: of a worker file, the staged mode; of a launch's worker, a staged launch
STAGED_DIR = "staged"
INPUTS_FILE = "inputs.json"
OUTPUTS_FILE = "outputs.json"
_JOB_KEY = ("uuid", "index")


class StagingError(LiCampaignError):
    """A job cannot be staged (not a jobflow job, or a reference that cannot be resolved)."""


class StagedFileError(LiCampaignError):
    """A staged input or output file is missing, unreadable or does not belong to its launch."""


def is_staged_worker(fworker) -> bool:
    """Whether a FireWorks worker (``launchers/fworker_*.yaml``) asks for staged jobs (``env.staged: true``)."""
    return (fworker.env or {}).get(STAGED_WORKER_KEY) is True


def launch_is_staged(launch: dict) -> bool:
    """Whether a LaunchPad launch document is of a staged job (its ``fworker.env.staged``)."""
    return ((launch.get("fworker") or {}).get("env") or {}).get(STAGED_WORKER_KEY) is True


def firework_job(fw: Firework) -> Job:
    """The jobflow job of a firework (jobflow puts one ``JobFiretask`` in each).

    Raises
    ------
    StagingError
        If the firework is not a jobflow job.
    """
    tasks = fw.tasks
    job = tasks[0].get("job") if len(tasks) == 1 else None
    if not isinstance(job, Job):
        raise StagingError(f"fw {fw.fw_id} ({fw.name}): not a jobflow job, so it cannot run staged")
    return job


def stage_firework(lp: LaunchPad, store: JobStore, fw: Firework, launch_id: int) -> list[dict]:
    """Resolve the references of a reserved firework's job in place; mark its launch staged.

    Parameters
    ----------
    lp
        The LaunchPad (the caller holds the campaign's lock).
    store
        The campaign's JobStore, connected.
    fw
        The reserved firework; its job's arguments are replaced by their values, so the
        ``FW.json`` written from it needs no JobStore.
    launch_id
        Its launch.

    Returns
    -------
    list of dict
        The documents the job may read while it runs: every output document of the
        JobStore, large data loaded, if the job exposes the store (``config.expose_store``);
        else none.

    Raises
    ------
    StagingError
        If the firework is not a jobflow job, a reference cannot be resolved, or the job keeps
        its resolved references (``resolve_references="both"``); the message names the
        firework and the reason.
    """
    job = firework_job(fw)
    if job.config.resolve_references == "both":
        raise StagingError(f"fw {fw.fw_id} ({fw.name}): resolve_references='both' keeps the references, so it cannot run staged")
    try:
        if job.config.resolve_references:  # as Job.run does; a job that asks for its references gets them
            job.resolve_args(store=store, inplace=True)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        # jobflow's "Could not resolve reference", or an output lacking the key or attribute referenced
        raise StagingError(f"fw {fw.fw_id} ({fw.name}): cannot stage its inputs: {type(exc).__name__}: {exc}") from None
    documents = []
    if job.config.expose_store:
        documents = [_plain(doc) for doc in store.query({}, load=True)]
    lp.launches.update_one({"launch_id": launch_id}, {"$set": {f"fworker.env.{STAGED_WORKER_KEY}": True}})
    return documents


def _plain(doc: dict) -> dict:
    """A store document without the database's ``_id``."""
    return {key: value for key, value in doc.items() if key != "_id"}


def _dumps(data: Any) -> str:
    return bson.json_util.dumps(data)


def _loads(text: str) -> Any:
    return bson.json_util.loads(text)


def write_staged_inputs(launch_dir: Path, fw: Firework, documents: list[dict]) -> Path:
    """Write ``staged/inputs.json``: the job's uuid and index and the documents it may read."""
    job = firework_job(fw)
    path = Path(launch_dir) / STAGED_DIR / INPUTS_FILE
    write_atomically(path, _dumps({"uuid": job.uuid, "index": job.index, "documents": documents}))
    return path


def _read_json(path: Path, what: str) -> dict:
    try:
        data = _loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StagedFileError(f"{path}: staged {what} file missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StagedFileError(f"{path}: staged {what} file unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise StagedFileError(f"{path}: staged {what} file is not a JSON object")
    return data


class StagedJobStore(LargeDataJobStore):
    """The JobStore of a staged job: memory stores seeded from, and written to, its launch folder.

    Reads see the documents of ``staged/inputs.json``. Each :meth:`update` (jobflow writes a
    job's output once, at its end) routes large data as the campaign's
    :class:`~li_campaign.db.stores.LargeDataJobStore` does and then writes every document
    written so far, with every large-data blob, to ``staged/outputs.json`` at once.

    Parameters
    ----------
    launch_dir
        The launch folder (``staged/`` is inside it).
    """

    def __init__(self, launch_dir: str | Path):
        self.launch_dir = Path(launch_dir)
        super().__init__(
            MemoryStore("outputs", key="uuid"),
            additional_stores={DATA_STORE: MemoryStore("outputs_blobs", key="blob_uuid")},
            load=True,
            retry=RetryPolicy(attempts=1),
        )
        self._written: list[tuple[str, int]] = []
        self._seeded = False

    @property
    def inputs_file(self) -> Path:
        """``staged/inputs.json``."""
        return self.launch_dir / STAGED_DIR / INPUTS_FILE

    @property
    def outputs_file(self) -> Path:
        """``staged/outputs.json``."""
        return self.launch_dir / STAGED_DIR / OUTPUTS_FILE

    def connect(self, force_reset: bool = False) -> None:
        """Connect the memory stores and load the staged documents (once).

        Raises
        ------
        StagedFileError
            If ``staged/inputs.json`` is missing or unreadable (the message names it).
        """
        super().connect(force_reset=force_reset)
        if self._seeded and not force_reset:
            return
        documents = _read_json(self.inputs_file, "inputs").get("documents")
        if not isinstance(documents, list):
            raise StagedFileError(f"{self.inputs_file}: no list of documents")
        if documents:
            self.docs_store.update(documents, key=list(_JOB_KEY))
        self._seeded = True

    def update(self, docs: list[dict] | dict, key: list | str | None = None, save: bool | dict | None = None) -> None:
        """Store the documents as the campaign's JobStore would, then write ``staged/outputs.json``."""
        super().update(docs, key=key, save=save)
        for doc in docs if isinstance(docs, list) else [docs]:
            job = (doc["uuid"], doc["index"]) if isinstance(doc, dict) else (doc.uuid, doc.index)  # or a JobStoreDocument
            if job not in self._written:
                self._written.append(job)
        written = [_plain(self.docs_store.query_one({"uuid": uuid, "index": index})) for uuid, index in self._written]
        blobs = [_plain(blob) for blob in self.additional_stores[DATA_STORE].query({})]
        write_atomically(self.outputs_file, _dumps({"documents": written, "blobs": blobs}))


def _blob_references(value: Any) -> list[str]:
    """The ``blob_uuid`` of every large-data reference jobflow left in a document."""
    if isinstance(value, dict):
        if "blob_uuid" in value and "store" in value:
            return [value["blob_uuid"]]
        return [uuid for item in value.values() for uuid in _blob_references(item)]
    if isinstance(value, list):
        return [uuid for item in value for uuid in _blob_references(item)]
    return []


def read_staged_outputs(launch_dir: Path, uuid: str, index: int) -> tuple[list[dict], list[dict]]:
    """Read and check ``staged/outputs.json`` of a launch that ran job (``uuid``, ``index``).

    Returns
    -------
    documents, blobs
        The job's output document(s) and its large-data blobs.

    Raises
    ------
    StagedFileError
        If the file is missing or unreadable, holds no output of this job or one of another
        job, or a document references a blob that is not in the file; the message names the
        file.
    """
    path = Path(launch_dir) / STAGED_DIR / OUTPUTS_FILE
    data = _read_json(path, "outputs")
    documents, blobs = data.get("documents"), data.get("blobs")
    if not isinstance(documents, list) or not isinstance(blobs, list):
        raise StagedFileError(f"{path}: staged outputs file needs lists 'documents' and 'blobs'")
    if not all(isinstance(doc, dict) and "output" in doc for doc in documents):
        raise StagedFileError(f"{path}: a staged output document is not an object with an 'output'")
    jobs = {(doc.get("uuid"), doc.get("index")) for doc in documents}
    if (uuid, index) not in jobs:
        raise StagedFileError(f"{path}: no output of job {uuid} (index {index})")
    foreign = sorted(str(job) for job in jobs if job[0] != uuid)
    if foreign:
        raise StagedFileError(f"{path}: outputs of other jobs than {uuid}: {', '.join(foreign)}")
    if not all(isinstance(blob, dict) and "blob_uuid" in blob and "data" in blob for blob in blobs):
        raise StagedFileError(f"{path}: a staged large-data blob has no 'blob_uuid' or 'data'")
    present = {blob["blob_uuid"] for blob in blobs}
    missing = sorted({ref for doc in documents for ref in _blob_references(doc.get("output"))} - present)
    if missing:
        raise StagedFileError(f"{path}: large-data blob(s) {', '.join(missing)} referenced but not in the file")
    return documents, blobs


def offline_result(launch_dir: str | Path) -> dict | None:
    """The finished offline rocket's ``FW_offline.json`` (with ``fwaction`` and ``state``), else ``None``."""
    try:
        data = json.loads((Path(launch_dir) / "FW_offline.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "fwaction" in data else None


def fail_launch(lp: LaunchPad, launch_id: int, reason: str) -> None:
    """Fizzle a launch with ``reason`` (kept in the firework's launch) and close its offline run."""
    from fireworks import FWAction  # deferred: fireworks (~0.6 s) only when a launch is failed; jobflow does not load it

    action = FWAction(stored_data={"_message": reason, "_exception": {"_stacktrace": reason}})
    lp.complete_launch(launch_id, action, state="FIZZLED")
    lp.offline_runs.update_one({"launch_id": launch_id}, {"$set": {"completed": True}})


class StagedOutputs:
    """Reads finished launches back; staged ones first put their outputs into the JobStore.

    Use as a context manager around a recovery round: the campaign's JobStore is connected
    when the first staged launch needs it, and closed at the end.

    Parameters
    ----------
    campaign
        The campaign whose JobStore receives the outputs.
    """

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self._store: JobStore | None = None

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, *exc) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def store(self) -> JobStore:
        """The campaign's JobStore, connected."""
        if self._store is None:
            store = self.campaign.job_store()
            store.connect()
            self._store = store
        return self._store

    def insert(self, launch_dir: Path, uuid: str, index: int) -> int:
        """Insert a staged launch's outputs (blobs first, then documents); return how many documents.

        Keyed by ``blob_uuid`` and (uuid, index), so inserting the same outputs again changes nothing.

        Raises
        ------
        StagedFileError
            From :func:`read_staged_outputs`; nothing is inserted then.
        """
        documents, blobs = read_staged_outputs(launch_dir, uuid, index)
        store = self.store()
        what = f"JobStore insert of the staged outputs of {launch_dir}"
        if blobs:
            data = store.additional_stores[DATA_STORE]
            with_retries(lambda: data.update(blobs, key="blob_uuid"), what, store.retry)
        with_retries(lambda: store.docs_store.update(documents, key=list(_JOB_KEY)), what, store.retry)
        return len(documents)

    def recover(self, lp: LaunchPad, launch_id: int) -> None:
        """Read one offline launch back (FireWorks' ``recover_offline``), a staged one's outputs first.

        A staged launch whose result is COMPLETED but whose outputs cannot be read is fizzled
        with the file and the problem named (:class:`StagedFileError`).
        """
        launch = lp.launches.find_one({"launch_id": launch_id}, {"launch_dir": 1, "fw_id": 1, "fworker": 1})
        if launch and launch_is_staged(launch):
            result = offline_result(launch["launch_dir"])
            if result is not None and result.get("state") == "COMPLETED":
                fw = lp.fireworks.find_one({"fw_id": launch["fw_id"]}, {"spec._tasks": 1})
                job = fw["spec"]["_tasks"][0]["job"]
                try:
                    self.insert(Path(launch["launch_dir"]), job["uuid"], job["index"])
                except StagedFileError as exc:
                    fail_launch(lp, launch_id, f"the job ran but its outputs cannot be stored: {exc}")
                    return
        lp.recover_offline(launch_id, ignore_errors=True)
