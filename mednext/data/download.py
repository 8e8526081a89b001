"""Resumable HTTP downloads and the checksum record they are verified against.

``fetch`` downloads into ``NAME.part`` and renames to ``NAME`` only once every byte announced by
the server has arrived; an interrupted download keeps its ``.part`` file and the next call
continues from there with an HTTP ``Range`` request. ``ChecksumRecord`` holds the size and
SHA-256 of each file of one dataset (``config/checksums/<dataset>.json``): a file with a recorded
entry must match it; a file without one (no checksum is published for it) is recorded by its
first verified download (read whole first, where the caller gives a check: a damaged first copy
must not become the reference), so every later download and every copy placed by hand is
compared against that first one.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request
from pathlib import Path

from mednext.files import write_text_atomic

__all__ = ["ChecksumError", "ChecksumRecord", "DownloadError", "fetch", "sha256_of"]

USER_AGENT = "mednext-bench (https://github.com/; dataset download)"
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download that did not complete; the message names the URL, the file and what to do."""


class ChecksumError(DownloadError):
    """A file whose size or SHA-256 differs from the recorded one."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _total_from_content_range(value: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if value and "/" in value and not value.endswith("/*"):
        return int(value.rsplit("/", 1)[1])
    return None


def fetch(url: str, dest: str | Path, *, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` if an earlier try left one.

    Returns ``dest``. An existing ``dest`` is returned untouched (the caller verifies it).
    Raises ``DownloadError`` when the server fails or the transfer ends early; the partial
    file is kept so that calling again resumes.
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset and _total_from_content_range(err.headers.get("Content-Range")) == offset:
            part.replace(dest)  # the earlier try had already received everything
            return dest
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason} while downloading {dest.name}. "
                            "Check the URL (datasets.<name>.source in the config) or place the file in "
                            f"{dest.parent} yourself.") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: cannot connect ({err}). Check the network, or place {dest.name} in "
                            f"{dest.parent} yourself.") from err
    with response:
        if offset and response.status == 206:
            total = _total_from_content_range(response.headers.get("Content-Range"))
            mode = "ab"
        else:  # the server ignored the range: start again
            offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        received = offset
        try:
            with open(part, mode) as f:
                while block := response.read(CHUNK):
                    f.write(block)
                    received += len(block)
        except (http.client.IncompleteRead, OSError, TimeoutError) as err:
            raise DownloadError(_stopped(url, part, received, total, err)) from err
    if total is not None and received != total:
        raise DownloadError(_stopped(url, part, received, total, None))
    part.replace(dest)
    return dest


def _stopped(url: str, part: Path, received: int, total: int | None, err: Exception | None) -> str:
    of = f" of {total}" if total is not None else ""
    why = f" ({type(err).__name__})" if err is not None else ""
    return (f"{url}: download stopped after {received}{of} bytes{why}. The partial file {part} is kept; "
            "run the same command again to resume (delete it to start over).")


class ChecksumRecord:
    """Sizes and SHA-256 sums of one dataset's files, kept in a JSON file in the repository."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def entries(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_text())["files"]

    def verify_or_record(self, name: str, file: str | Path, source: str, check=None) -> str:
        """Compare ``file`` with the entry ``name``; without an entry, record it, once ``check(file)`` (if given)
        has passed: a damaged first copy must not become the reference. Returns what was done."""
        file = Path(file)
        size, digest = file.stat().st_size, sha256_of(file)
        entry = self.entries().get(name)
        if entry is None:
            if check is not None:
                check(file)
            self._write(name, {"size": size, "sha256": digest, "source": source})
            return "recorded"
        if entry["size"] != size or entry["sha256"] != digest:
            raise ChecksumError(
                f"{file}: size {size} / sha256 {digest} but {self.path} records size {entry['size']} / sha256 "
                f"{entry['sha256']} for {name}. The file is damaged or not the expected release: delete it and run "
                f"again to download it anew. If the source really published a new version, remove the entry "
                f"{name!r} from {self.path} so that the next verified download records it.")
        return "verified"

    def _write(self, name: str, entry: dict) -> None:
        data = {"note": "written by mednext.data.download: the first verified download of each file records it; "
                        "later downloads must match", "files": {**self.entries(), name: entry}}
        write_text_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
