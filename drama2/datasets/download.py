"""Verified, all-or-nothing file downloads over HTTP(S), with the standard library only.

:func:`download` streams a URL into a temporary file next to the destination,
hashing while it writes, checks the size announced by the server and the
expected sha256, and only then renames the file into place. Whatever goes
wrong (HTTP error, refused connection, timeout, a connection cut mid-file, a
checksum mismatch, Ctrl-C) the temporary file is removed and nothing appears
at the destination, so a cache never holds a partial or unverified file.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from drama2.errors import Drama2Error
from drama2.files import temporary_beside

__all__ = ["DownloadError", "ChecksumError", "download"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
DEFAULT_CHUNK_SIZE = 1 << 16


class DownloadError(Drama2Error, OSError):
    """A file could not be downloaded; the message names the URL, the destination, the cause and the remedy."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected sha256 (a corrupt, truncated or different file)."""


def _user_agent() -> str:
    from drama2._version import __version__

    return f"drama2/{__version__} (+urllib)"


def _failure(url: str, dest: Path, cause: str, cls: type[DownloadError] = DownloadError) -> DownloadError:
    """A :class:`DownloadError` whose message says what failed, why, and how to provide the file by hand."""
    return cls(f"Downloading {url} to {dest} failed: {cause}. Nothing was written to {dest}; download the "
               f"file yourself and put it at {dest}.")


def _copy(response, out: BinaryIO, chunk_size: int) -> tuple[int, str]:
    """Copy ``response`` to ``out`` in chunks; return the number of bytes and their sha256."""
    digest = hashlib.sha256()
    size = 0
    while chunk := response.read(chunk_size):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _fetch(url: str, dest: Path, out: BinaryIO, *, timeout: float, chunk_size: int) -> str:
    """Stream ``url`` into ``out``; return the sha256 of the body, or raise :class:`DownloadError`."""
    request = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            size, sha256 = _copy(response, out, chunk_size)
    except urllib.error.HTTPError as exc:  # before URLError: it is a subclass
        raise _failure(url, dest, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _failure(url, dest, f"cannot connect ({exc.reason})") from exc
    except TimeoutError as exc:
        raise _failure(url, dest, f"no answer within {timeout:g} s") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise _failure(url, dest, f"the connection failed mid-transfer ({exc!r})") from exc
    # http.client returns a short body without complaint when the server closes early, so the
    # announced length is the only way to tell a cut transfer from a complete one.
    if announced is not None and announced.isdigit() and size != int(announced):
        raise _failure(url, dest, f"the transfer was interrupted after {size} of {announced} bytes")
    return sha256


def download(url: str, dest: Path, sha256: str | None, *, timeout: float = DEFAULT_TIMEOUT,
             chunk_size: int = DEFAULT_CHUNK_SIZE) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying its sha256.

    The body is streamed into a temporary file in ``dest``'s directory (created if needed), hashed
    while it is written, and renamed to ``dest`` with :func:`os.replace` only once it is complete and
    verified. On any failure, including :class:`KeyboardInterrupt`, the temporary file is removed and
    ``dest`` is left as it was.

    Parameters
    ----------
    url : str
        The ``http://``, ``https://`` (or ``file://``) URL to fetch; redirects are followed.
    dest : path-like
        Where the file ends up. An existing file there is replaced only by a verified download.
    sha256 : str or None
        Expected lowercase hex sha256 of the file; ``None`` skips the check (the size announced by the
        server is still checked).
    timeout : float, optional
        Seconds to wait for the connection and for each read.
    chunk_size : int, optional
        Bytes read and written at a time.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ChecksumError
        The file arrived but its sha256 is not ``sha256``.
    DownloadError
        HTTP error status, connection refused or unreachable host, timeout, or a transfer cut short.
        The message names the URL, the destination, the cause and how to provide the file by hand.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as dest, so os.replace is an atomic rename on one file system; the dot prefix
    # and .part suffix keep it from being mistaken for a finished file while it is being written.
    fd, tmp_name = temporary_beside(dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            log.info("downloading %s to %s", url, dest)
            actual = _fetch(url, dest, out, timeout=timeout, chunk_size=chunk_size)
        if sha256 is not None and actual != sha256.lower():
            raise _failure(url, dest, f"sha256 mismatch: expected {sha256}, got {actual} (a corrupt, truncated "
                                      "or different file)", ChecksumError)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
