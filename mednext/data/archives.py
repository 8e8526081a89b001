"""Safe extraction of zip and tar archives.

Every member is checked before anything is written: no absolute paths, no ``..`` components, no
links (symbolic or hard) and no device files. Extraction goes to a hidden sibling folder that is
renamed to the target only when every member was written, so a target folder that exists is
always complete. It records which archive it came from (``.archive``: name, size, modification
time), so an archive replaced since (a new download after a failed conversion) is extracted again
rather than its predecessor's files reused.
"""

from __future__ import annotations

import gzip
import json
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

__all__ = ["ArchiveError", "STAMP", "check_gzip", "check_member_name", "check_whole", "read_to_end", "safe_extract"]

STAMP = ".archive"  # in an extraction folder: the archive it was extracted from


class ArchiveError(ValueError):
    """An archive that is unsafe or damaged; the message names the archive, the member and the fix."""


def check_member_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract this archive. "
                           "It is not the expected release: delete it and download it again.")
    if ".." in path.parts:
        raise ArchiveError(f"{archive}: member {name!r} points outside the extraction folder ('..'); refusing to "
                           "extract this archive. It is not the expected release: delete it and download it again.")


def _check_zip(archive: Path, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract links.")


def _check_tar(archive: Path, tf: tarfile.TarFile) -> None:
    for member in tf.getmembers():
        check_member_name(archive, member.name)
        if member.issym() or member.islnk():
            raise ArchiveError(f"{archive}: member {member.name!r} is a link to {member.linkname!r}; refusing to "
                               "extract links.")
        if not (member.isfile() or member.isdir()):
            raise ArchiveError(f"{archive}: member {member.name!r} is a device, FIFO or other special file; "
                               "refusing to extract it.")


def read_to_end(stream) -> None:
    """Read a file object to its end, discarding the bytes: what checks a compressed stream's own CRC."""
    while stream.read(1 << 24):
        pass


def check_gzip(path: str | Path) -> None:
    """Decompress a gzip file to its end: a damaged stream fails gzip's CRC check (``BadGzipFile``)."""
    with gzip.open(path) as stream:
        read_to_end(stream)


def check_whole(path: str | Path) -> None:
    """Read a downloaded file to its end: a gzip stream (its CRC, also of a .tar.gz or .nii.gz), a zip (each
    member's CRC), a tar (every member). Raises :class:`ArchiveError` for a truncated or damaged file, or one of
    none of these kinds, so that its checksum is never recorded as the release's."""
    path = Path(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    try:
        if gzipped:
            check_gzip(path)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        elif tarfile.is_tarfile(path):
            bad = None
            with tarfile.open(path) as tf:
                for member in tf:
                    if member.isfile():
                        with tf.extractfile(member) as f:
                            read_to_end(f)
        elif gzipped:
            return
        else:
            raise ArchiveError(f"{path}: neither a zip, a tar nor a gzip file (damaged or incomplete?)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise ArchiveError(f"{path}: damaged or incomplete ({type(err).__name__}: {err})") from err
    if bad is not None:
        raise ArchiveError(f"{path}: member {bad!r} is damaged (CRC mismatch)")


def _recorded_source(dest: Path) -> dict | None:
    try:
        return json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        return None


def safe_extract(archive: str | Path, dest: str | Path) -> Path:
    """Extract ``archive`` (zip or tar, optionally compressed) into the folder ``dest``; returns ``dest``.

    An existing ``dest`` extracted from this same archive file is returned as is; one from another
    archive (or from an earlier version without the record) is replaced.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: missing; download it again.")
    info = archive.stat()
    source = {"archive": archive.name, "size": info.st_size, "mtime_ns": info.st_mtime_ns}
    if dest.is_dir():
        if _recorded_source(dest) == source:
            return dest
        shutil.rmtree(dest)
    tmp = dest.with_name(f".{dest.name}.extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_zip(archive, zf)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _check_tar(archive, tf)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the standard library checks again
                    tf.extractall(tmp, filter="data")
                else:  # pragma: no cover
                    tf.extractall(tmp)
        else:
            raise ArchiveError(f"{archive}: neither a zip nor a tar archive (damaged or incomplete download?); "
                               "delete it and download it again.")
    except ArchiveError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArchiveError(f"{archive}: damaged archive ({type(err).__name__}: {err}); delete it and download it "
                           "again.") from err
    (tmp / STAMP).write_text(json.dumps(source))
    tmp.replace(dest)
    return dest
