"""maggma stores for the embedded (montydb/sqlite) and MongoDB modes.

``SafeMontyStore`` fixes two problems of maggma 0.77's ``MontyStore`` measured on this
stack: ``connect()`` rewrites ``.monty.storage`` on every call (concurrent processes then
read an empty storage name), and ``ensure_index`` calls ``index_information``, which
montydb does not implement.
"""

from __future__ import annotations

import os

from maggma.stores import MontyStore
from montydb import MontyClient, set_storage


class SafeMontyStore(MontyStore):
    """A MontyStore that is safe to open from several processes at once."""

    def connect(self, force_reset: bool = False) -> None:
        """Connect without rewriting the storage config when it already exists."""
        if not self._coll or force_reset:
            os.makedirs(self.database_path, exist_ok=True)
            if not os.path.isfile(os.path.join(self.database_path, ".monty.storage")):
                set_storage(self.database_path, storage=self.storage, **self.storage_kwargs)
            client = MontyClient(self.database_path, **self.client_kwargs)
            self._coll = client[self.database_name][self.collection_name]

    def ensure_index(self, key: str, unique: bool = False) -> bool:
        """montydb has no index support; report success so builders can run."""
        return True
