"""Temporary files that become results: created beside their destination, with ordinary permissions."""

from __future__ import annotations

import os
import tempfile

__all__ = ["temporary_beside"]


def temporary_beside(directory, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``directory``, with the permissions ``open()`` would have given.

    mkstemp makes files readable by their owner only (0600), which is right for scratch files but not for
    a result renamed into place: a run directory shared with colleagues would be unreadable to them.

    Returns
    -------
    (int, str)
        The open file descriptor and the file's path, as ``mkstemp`` returns them.
    """
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
    umask = os.umask(0)  # the only way to read the umask is to set it; put it back at once
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, name
