"""Batch the model calls of a pack's members: each member is a calculation written for ASE.

The fan-out's calculations (relaxations with ASE optimizers, CI-NEBs, Langevin MD) are
written once, against an ASE calculator. On a GPU worker,
:func:`li_campaign.execution.packing.run_pack` hands a fan-out pack's members to
:meth:`BatchDispatcher.run`, which runs each in its own thread. ``load_model`` then returns a
:class:`BatchedCalculator` whose ``calculate`` hands the structure to the dispatcher and waits.
When every unfinished member is waiting, the dispatcher evaluates all their structures in one
torch-sim call (neighbour lists built for the whole batch on the GPU, batches sized by GPU
memory: :func:`li_campaign.batched.batching.evaluate`) and resumes them. A CI-NEB hands all
intermediate images of its band at once (:meth:`BatchedCalculator.evaluate_many`).

Members take turns: one runs Python at a time, the others wait for their turn or for the
model, so their own code (store look-ups, ASE drivers, global random state) runs exactly as in
sequence and need not be thread-safe; the order of turns is fixed (round robin), so a pack's
results do not depend on thread timing. Each member's structure is evaluated on its own in
the batched state, so its energies and forces equal the one-by-one ASE calculator's up to float
round-off. Written here because neither torch-sim nor ASE has it: torch-sim batches its own
integrators and optimizers, not arbitrary ASE drivers.

Examples
--------
>>> dispatcher = BatchDispatcher("cpu")
>>> [outcome.result for outcome in dispatcher.run([lambda: 1, lambda: 2])]
[1, 2]
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ase.calculators.calculator import Calculator, all_changes

from li_campaign.batched.batching import batch_capacity, evaluate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    from ase import Atoms

    from li_campaign.batched.loader import BatchedModel
    from li_campaign.schemas.models import ModelDoc

log = logging.getLogger(__name__)

_ACTIVE: contextvars.ContextVar[BatchDispatcher | None] = contextvars.ContextVar("li_campaign_dispatcher", default=None)


def active_dispatcher() -> BatchDispatcher | None:
    """The dispatcher whose members run in this context (None outside :meth:`BatchDispatcher.run`)."""
    return _ACTIVE.get()


@dataclass
class Outcome:
    """What one member function returned, or the exception it raised."""

    result: Any = None
    error: BaseException | None = None


@dataclass
class _Member:
    """A member thread and its hand-over state."""

    function: Callable[[], Any]
    turn: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    request: tuple[str, list[Atoms]] | None = None
    response: tuple[list[float], list[np.ndarray]] | BaseException | None = None
    outcome: Outcome = field(default_factory=Outcome)
    done: bool = False


class BatchDispatcher:
    """Run functions as members that take turns, their model calls evaluated together.

    Parameters
    ----------
    device
        ``cpu`` or ``cuda``: where the batched models run.
    load
        Returns the torch-sim model of a registry entry on ``device``; default
        :func:`li_campaign.batched.loader.load_batched` (checks the package sha256, chooses the
        fastest form that agrees with the eager model, records the choice).
    max_atoms
        Atoms per model call; default: measured from GPU memory at the first call (all at
        once on the CPU).
    """

    def __init__(
        self,
        device: str,
        load: Callable[[ModelDoc, str], BatchedModel] | None = None,
        max_atoms: float | None = None,
    ) -> None:
        # deferred: the loader imports torch-sim and nequip's torch-sim model (~0.2 s); mlip.calculator imports this
        # module on every model load, one-by-one included
        from li_campaign.batched.loader import load_batched

        self.device = device
        self.max_atoms = max_atoms
        self._load = load or load_batched
        self._models: dict[str, BatchedModel] = {}
        self._local = threading.local()
        self._back = threading.Semaphore(0)
        self.model_calls = 0
        self.structures = 0

    def calculator(self, model: ModelDoc) -> BatchedCalculator:
        """An ASE calculator for ``model`` whose calls go through this dispatcher (model loaded once)."""
        key = model.package_sha256
        if key not in self._models:
            self._models[key] = self._load(model, self.device)
        return BatchedCalculator(self, key)

    def evaluate(self, key: str, structures: Sequence[Atoms]) -> tuple[list[float], list[np.ndarray]]:
        """Energies and (unconstrained) forces of ``structures`` with model ``key``.

        From a member: wait until every member waits or is finished, then get the results of
        one batched call. Elsewhere: evaluate at once.
        """
        member: _Member | None = getattr(self._local, "member", None)
        if member is None:
            return self._call(key, list(structures))
        member.request = (key, list(structures))  # read while the member waits, so not copied
        self._back.release()
        member.turn.acquire()
        response, member.response = member.response, None
        if isinstance(response, BaseException):
            raise response
        return response

    def run(self, functions: Sequence[Callable[[], Any]]) -> list[Outcome]:
        """Run every function to its end as a member; return their outcomes in order.

        A member that raises gets its exception in its :class:`Outcome`; the others go on.
        """
        members = [_Member(function) for function in functions]
        token = _ACTIVE.set(self)
        try:
            threads = [
                threading.Thread(target=contextvars.copy_context().run, args=(self._body, m), daemon=True, name=f"member-{i}")
                for i, m in enumerate(members)
            ]
        finally:
            _ACTIVE.reset(token)
        for thread in threads:
            thread.start()
        ready, waiting = deque(members), []
        while ready or waiting:
            if not ready:
                self._serve(waiting)
                ready.extend(waiting)
                waiting = []
                continue
            member = ready.popleft()
            member.turn.release()
            self._back.acquire()
            if not member.done:
                waiting.append(member)
        for thread in threads:
            thread.join()
        return [m.outcome for m in members]

    def record(self) -> dict[str, Any]:
        """How the members' model calls ran: the loaders' choices and the call counts."""
        return {
            "executor": "batched",
            "device": self.device,
            "models": {key[:12]: model.record() for key, model in self._models.items()},
            "model_calls": self.model_calls,
            "structures_evaluated": self.structures,
            "structures_per_call": self.structures / self.model_calls if self.model_calls else 0.0,
        }

    def _body(self, member: _Member) -> None:
        member.turn.acquire()
        self._local.member = member
        try:
            member.outcome.result = member.function()
        except BaseException as exc:  # noqa: BLE001 - delivered to the caller in the member's outcome
            member.outcome.error = exc
        finally:
            member.done = True
            self._back.release()

    def _serve(self, waiting: list[_Member]) -> None:
        """Evaluate the requests of all waiting members, one batched call per model."""
        by_model: dict[str, list[_Member]] = {}
        for member in waiting:
            by_model.setdefault(member.request[0], []).append(member)
        for key, members in by_model.items():
            structures = [atoms for m in members for atoms in m.request[1]]
            try:
                energies, forces = self._call(key, structures)
            except Exception as exc:  # noqa: BLE001 - retried member by member, so one bad structure fails only its member
                log.warning("batched call of %d structures failed (%s); evaluating member by member", len(structures), exc)
                for m in members:
                    try:
                        m.response = self._call(key, m.request[1])
                    except Exception as member_exc:  # noqa: BLE001 - the member raises it
                        m.response = member_exc
                continue
            start = 0
            for m in members:
                n = len(m.request[1])
                m.response = (energies[start : start + n], forces[start : start + n])
                start += n
        for member in waiting:
            member.request = None

    def _call(self, key: str, structures: list[Atoms]) -> tuple[list[float], list[np.ndarray]]:
        model = self._models[key].model
        if self.max_atoms is None:  # measured once: the mix of sizes changes from call to call
            self.max_atoms = batch_capacity(structures, model)
        self.model_calls += 1
        self.structures += len(structures)
        return evaluate(structures, model, self.max_atoms)


class BatchedCalculator(Calculator):
    """ASE calculator whose energies and forces come from a :class:`BatchDispatcher`."""

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, dispatcher: BatchDispatcher, key: str) -> None:
        super().__init__()
        self.dispatcher = dispatcher
        self.key = key

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        """Evaluate ``atoms`` in the dispatcher's next batched call."""
        super().calculate(atoms, properties, system_changes)
        (energy,), (forces,) = self.dispatcher.evaluate(self.key, [self.atoms])
        self.results = {"energy": energy, "free_energy": energy, "forces": forces}

    def evaluate_many(self, structures: Sequence[Atoms]) -> tuple[list[float], list[np.ndarray]]:
        """Energies and forces of several structures in one request (e.g. the images of a band)."""
        return self.dispatcher.evaluate(self.key, structures)

