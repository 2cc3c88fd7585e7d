"""Reading the text files a user gives (campaign specs, database configs)."""

from __future__ import annotations

from pathlib import Path

from li_campaign.core.errors import InputError


def read_utf8(path: Path, what: str) -> str:
    """Return the text of a UTF-8 file; other bytes are refused with their position.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message (``"campaign spec"``).

    Returns
    -------
    str
        The decoded text.

    Raises
    ------
    InputError
        If the file is not valid UTF-8 (latin-1, UTF-16, binary): the message names the
        file, the first bad byte, its offset from the start of the file (0-based) and its
        line and column (1-based, column in bytes).
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise InputError(
            f"{path}: {what} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line}, column {column}): {exc.reason}; save the file as UTF-8"
        ) from None
