"""Downloads of ODDS files over real HTTP, against a server on 127.0.0.1 that each test starts.

Nothing here touches the real network or ../shared/data: DRAMA2_DATA is unset (or an empty
directory), the cache is under tmp_path, and every URL points at 127.0.0.1.
"""

import dataclasses
import functools
import hashlib
import json
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

import drama2
from drama2.cli import cli
from drama2.datasets import download as download_module
from drama2.datasets.download import ChecksumError, DownloadError, download
from drama2.datasets.odds import ODDS_FILES, DatasetNotFoundError, find_file, load_odds

ENV = ("DRAMA2_DATA", "DRAMA2_CACHE", "DRAMA2_DATA_URL", "DRAMA2_OFFLINE")


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves a directory, records each requested path, logs nothing."""

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


class _TruncatingHandler(SimpleHTTPRequestHandler):
    """Announces 1000 bytes, sends 10, and hangs up: a download cut mid-transfer."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def _serve(handler):
    """Start ``handler`` on 127.0.0.1 at a free port in a thread; return the server and its thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    # A short poll interval makes shutdown() return quickly at teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def www(tmp_path):
    """A directory served over HTTP: yields (base URL, directory, server)."""
    root = tmp_path / "www"
    (root / "odds").mkdir(parents=True)
    server, thread = _serve(functools.partial(_QuietHandler, directory=str(root)))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, server
    finally:
        _stop(server, thread)


@pytest.fixture
def truncating_url():
    server, thread = _serve(_TruncatingHandler)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/odds/wine.mat"
    finally:
        _stop(server, thread)


@pytest.fixture
def refused_url():
    """A URL on a port nothing listens on: bind to get a free port, then close it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/odds/wine.mat"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An isolated environment: no data dir, no mirror, online, and the cache under tmp_path."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRAMA2_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def wine(www, monkeypatch):
    """A small ODDS-like wine.mat on the server, pinned as ODDS wine (no built-in URL): (bytes, sha256)."""
    _base, root, _server = www
    rng = np.random.default_rng(0)
    y = np.zeros((30, 1))
    y[:3] = 1
    path = root / "odds" / "wine.mat"
    scipy.io.savemat(path, {"X": rng.normal(size=(30, 4)), "y": y})
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    monkeypatch.setitem(ODDS_FILES, "wine", dataclasses.replace(ODDS_FILES["wine"], sha256=sha, url=None))
    return data, sha


def _files(directory):
    """Every file under ``directory`` (temporary ones included), or [] if it does not exist."""
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


# download(): the real HTTP path


def test_download_writes_the_verified_file_and_nothing_else(www, wine, tmp_path):
    base, _root, _server = www
    data, sha = wine
    dest = tmp_path / "out" / "wine.mat"
    assert download(f"{base}/odds/wine.mat", dest, sha, chunk_size=100) == dest
    assert dest.read_bytes() == data
    assert _files(dest.parent) == ["wine.mat"]


def test_a_wrong_checksum_leaves_nothing_behind(www, wine, tmp_path):
    base, _root, _server = www
    _data, sha = wine
    dest = tmp_path / "out" / "wine.mat"
    with pytest.raises(ChecksumError) as info:
        download(f"{base}/odds/wine.mat", dest, "0" * 64)
    message = str(info.value)
    assert "0" * 64 in message and sha in message and f"{base}/odds/wine.mat" in message and str(dest) in message
    assert _files(dest.parent) == []


def test_a_404_names_the_url_and_status_and_leaves_nothing(www, tmp_path):
    base, _root, _server = www
    dest = tmp_path / "out" / "wine.mat"
    with pytest.raises(DownloadError) as info:
        download(f"{base}/odds/absent.mat", dest, "0" * 64)
    assert not isinstance(info.value, ChecksumError)
    assert "404" in str(info.value) and f"{base}/odds/absent.mat" in str(info.value)
    assert _files(dest.parent) == []


def test_a_refused_connection_is_a_download_error_and_leaves_nothing(refused_url, tmp_path):
    dest = tmp_path / "out" / "wine.mat"
    with pytest.raises(DownloadError, match="cannot connect") as info:
        download(refused_url, dest, None, timeout=5)
    assert refused_url in str(info.value) and f"put it at {dest}" in str(info.value)
    assert _files(dest.parent) == []


def test_a_transfer_cut_short_is_caught_without_a_checksum(truncating_url, tmp_path):
    dest = tmp_path / "out" / "wine.mat"
    with pytest.raises(DownloadError, match="interrupted after 10 of 1000 bytes"):
        download(truncating_url, dest, None, timeout=5)
    assert _files(dest.parent) == []


def test_ctrl_c_mid_download_removes_the_partial_file(www, wine, tmp_path, monkeypatch):
    base, _root, _server = www

    def interrupted(response, out, chunk_size):
        out.write(response.read(chunk_size))
        out.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_copy", interrupted)
    dest = tmp_path / "out" / "wine.mat"
    with pytest.raises(KeyboardInterrupt):
        download(f"{base}/odds/wine.mat", dest, wine[1])
    assert _files(dest.parent) == []


def test_a_failed_download_keeps_an_existing_file(www, tmp_path):
    base, _root, _server = www
    dest = tmp_path / "out" / "wine.mat"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(DownloadError):
        download(f"{base}/odds/absent.mat", dest, None)
    assert dest.read_bytes() == b"old" and _files(dest.parent) == ["wine.mat"]


# find_file / load_dataset: the cache, the mirror, offline use


def test_find_file_downloads_from_the_mirror_into_the_cache(www, wine, cache, monkeypatch):
    base, _root, server = www
    monkeypatch.setenv("DRAMA2_DATA_URL", base + "/")
    path = find_file("wine")
    assert path == cache / "odds" / "wine.mat" and path.read_bytes() == wine[0]
    assert find_file("wine") == path and server.requests == ["/odds/wine.mat"]  # the second call reads the cache


def test_the_mirror_takes_precedence_over_the_built_in_url(www, wine, cache, monkeypatch):
    base, _root, server = www
    monkeypatch.setitem(ODDS_FILES, "wine", dataclasses.replace(ODDS_FILES["wine"], url=f"{base}/elsewhere.mat"))
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    assert find_file("wine").read_bytes() == wine[0]
    assert server.requests == ["/odds/wine.mat"]


def test_find_file_uses_the_built_in_url_without_a_mirror(www, wine, cache, monkeypatch):
    base, _root, _server = www
    monkeypatch.setitem(ODDS_FILES, "wine", dataclasses.replace(ODDS_FILES["wine"], url=f"{base}/odds/wine.mat"))
    assert find_file("wine") == cache / "odds" / "wine.mat"


def test_a_failed_download_names_the_file_the_path_the_page_and_the_cause(www, wine, cache, monkeypatch):
    base, _root, _server = www
    monkeypatch.setitem(ODDS_FILES, "wine", dataclasses.replace(ODDS_FILES["wine"], sha256="0" * 64))
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    with pytest.raises(DatasetNotFoundError) as info:
        find_file("wine")
    message = str(info.value)
    assert isinstance(info.value.__cause__, ChecksumError)
    assert "wine.mat" in message and str(cache / "odds" / "wine.mat") in message
    assert ODDS_FILES["wine"].page in message and "sha256 mismatch" in message and wine[1] in message
    assert _files(cache) == []


def test_a_404_from_the_mirror_is_reported_and_leaves_the_cache_empty(www, cache, monkeypatch):
    base, _root, _server = www  # the served odds/ folder is empty
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    with pytest.raises(DatasetNotFoundError, match="HTTP 404") as info:
        load_odds("cardio")
    assert isinstance(info.value.__cause__, DownloadError)
    assert _files(cache) == []


@pytest.mark.parametrize("how", ["env", "argument"])
def test_offline_the_error_says_which_file_to_put_where(www, wine, cache, monkeypatch, how):
    base, _root, server = www
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    kwargs = {}
    if how == "env":
        monkeypatch.setenv("DRAMA2_OFFLINE", "1")
    else:
        kwargs["download"] = False
    with pytest.raises(DatasetNotFoundError) as info:
        find_file("wine", **kwargs)
    message = str(info.value)
    assert "wine.mat" in message and f"put it at {cache / 'odds' / 'wine.mat'}" in message
    assert "downloads are off" in message and ODDS_FILES["wine"].page in message
    assert server.requests == [] and _files(cache) == []


def test_speech_is_known_but_unavailable_and_never_fetched(www, cache, monkeypatch):
    base, _root, server = www
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    with pytest.raises(DatasetNotFoundError) as info:
        drama2.load_dataset("speech")
    message = str(info.value)
    assert "known but its file is unavailable" in message and "speech.mat" in message
    assert ODDS_FILES["speech"].page in message and str(cache / "odds" / "speech.mat") in message
    assert server.requests == []


def test_a_file_without_a_direct_url_says_so(cache):
    with pytest.raises(DatasetNotFoundError, match="no direct download") as info:
        find_file("http")
    assert str(cache / "odds" / "http.mat") in str(info.value) and "DRAMA2_DATA_URL" in str(info.value)


def test_load_dataset_end_to_end_through_the_mirror(www, wine, cache, tmp_path, monkeypatch):
    base, _root, _server = www
    empty = tmp_path / "empty-data"
    (empty / "odds").mkdir(parents=True)
    monkeypatch.setenv("DRAMA2_DATA", str(empty))
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    ds = drama2.load_dataset("wine")
    assert ds.X.shape == (30, 4) and ds.X.dtype == np.float64 and ds.n_outliers == 3
    assert ds.source == str(cache / "odds" / "wine.mat") and ds.metadata["sha256"] == wine[1]
    assert _files(empty) == []


def test_a_corrupt_cached_file_is_refused_not_returned(www, wine, cache, monkeypatch):
    base, _root, server = www
    (cache / "odds").mkdir(parents=True)
    (cache / "odds" / "wine.mat").write_bytes(wine[0][:-5])
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    with pytest.raises(drama2.InvalidInputError, match=wine[1]):
        find_file("wine")
    assert server.requests == []


# the CLI


def test_datasets_list_shows_status_source_and_download_url(www, cache, tmp_path, monkeypatch):
    result = CliRunner().invoke(cli, ["datasets", "list", "--data-dir", str(tmp_path), "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["cardio"]["status"] == "missing" and rows["cardio"]["source"] == ODDS_FILES["cardio"].page
    assert rows["cardio"]["url"] == ODDS_FILES["cardio"].url and rows["speech"]["url"] is None
    assert rows["http"]["url"] is None
    base, _root, server = www
    monkeypatch.setenv("DRAMA2_DATA_URL", base)
    result = CliRunner().invoke(cli, ["datasets", "list", "--data-dir", str(tmp_path), "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["http"]["url"] == f"{base}/odds/http.mat" and rows["speech"]["url"] is None
    table = CliRunner().invoke(cli, ["datasets", "list", "--data-dir", str(tmp_path)]).output
    assert "source" in table and "missing" in table and "odds.cs.stonybrook" in table
    assert server.requests == []  # listing never downloads
