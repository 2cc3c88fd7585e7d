"""li-campaign: database-backed MLIP campaigns for lithium metal.

Stages (one package each): ``structures`` (training structures), ``dft`` (labels),
``mlip`` (NequIP fit and deployment), the property domains ``bulk``, ``surfaces`` and
``kinetics`` (calculations with the deployed model and their Makers), ``validation``
(teacher spot checks), ``active`` (active learning), ``flows`` (jobflow flows that connect
them), ``builders`` (maggma builders), ``report``, ``db`` (stores and the FireWorks
LaunchPad) and ``cli``. Below them: ``geometry`` (slabs, facets, steps), ``simulation``
(relaxation, MD guard), ``execution`` (result reuse, job packing, worker routing),
``batched`` (torch-sim batched evaluation), ``schemas`` and ``core``. ``properties`` only
re-exports the Makers under the module paths that flows stored before the move name.

The packages are layered without import cycles; the order is the ``[tool.importlinter]``
contract in pyproject.toml, checked by tests/test_architecture.py.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("li-campaign")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
