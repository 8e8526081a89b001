"""Tiny stand-ins for the four datasets' archives, in their real layouts, and a local HTTP server.

The server speaks enough HTTP for the downloader: Content-Length, Range requests (206) and 416
for a range past the end. A path listed in ``truncate_once`` is answered once with its full
Content-Length but only half the bytes before the connection closes (a broken download).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (10, 9, 7)
AFFINE = np.diag([0.8, 0.8, 2.5, 1.0])


def nifti_bytes(array: np.ndarray, affine=AFFINE, qform=None) -> bytes:
    """A gzipped NIfTI file's bytes (reproducible: no time stamp in the gzip header); ``qform``: another
    qform than the sform (``affine``)."""
    img = nib.Nifti1Image(array, affine)
    if qform is not None:
        img.set_qform(qform, code=1)
    return gzip.compress(img.to_bytes(), mtime=0)


def image(seed: int, qform=None) -> bytes:
    return nifti_bytes(np.random.default_rng(seed).normal(0, 100, SHAPE).astype(np.int16), qform=qform)


def label(values, seed: int, qform=None) -> bytes:
    """A label map holding exactly ``values`` (plus background) in blocks."""
    arr = np.zeros(SHAPE, np.uint8)
    for i, v in enumerate(values):
        arr[1 + i % 8, 1:5, 1 + (i // 8) * 3: 3 + (i // 8) * 3] = v
    return nifti_bytes(arr, qform=qform)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buf.getvalue()


def btcv_zip(numbers=(1, 2, 21), bad_label: int | None = None, bad_image: int | None = None,
             extra: dict[str, bytes] | None = None) -> bytes:
    """``bad_label``: a label value BTCV lacks, in the last case; ``bad_image``: this case's image is no NIfTI;
    ``extra``: more members."""
    members = {}
    for n in numbers:
        members[f"RawData/Training/img/img{n:04d}.nii.gz"] = b"<html>not a NIfTI</html>" if n == bad_image else image(n)
        values = list(range(1, 14)) if bad_label is None or n != numbers[-1] else [1, bad_label]
        members[f"RawData/Training/label/label{n:04d}.nii.gz"] = label(values, n)
    members["RawData/Testing/img/img0061.nii.gz"] = image(61)  # unlabelled: ignored
    return zip_bytes({**members, **(extra or {})})


def amos_zip() -> bytes:
    import json

    labels = {str(i): name for i, name in enumerate(
        ["background", "spleen", "right kidney", "left kidney", "gall bladder", "esophagus", "liver", "stomach",
         "arota", "postcava", "pancreas", "right adrenal gland", "left adrenal gland", "duodenum", "bladder",
         "prostate/uterus"])}
    meta = {"name": "AMOS", "labels": labels,
            "training": [{"image": f"./imagesTr/amos_{i:04d}.nii.gz", "label": f"./labelsTr/amos_{i:04d}.nii.gz"}
                         for i in (1, 5, 540)],
            "validation": [{"image": "./imagesVa/amos_0008.nii.gz", "label": "./labelsVa/amos_0008.nii.gz"}],
            "test": [{"image": "./imagesTs/amos_0002.nii.gz"}]}
    members = {"amos22/dataset.json": json.dumps(meta).encode()}
    for part, i in (("Tr", 1), ("Tr", 5), ("Tr", 540), ("Va", 8)):
        members[f"amos22/images{part}/amos_{i:04d}.nii.gz"] = image(i)
        members[f"amos22/labels{part}/amos_{i:04d}.nii.gz"] = label(range(1, 16), i)
    members["amos22/imagesTs/amos_0002.nii.gz"] = image(2)
    return zip_bytes(members)


def kits_files(commit: str = "abc123", cases=(0, 1)) -> dict[str, bytes]:
    """``/kits19.zip`` (the repository archive) and ``/imaging/case_XXXXX.nii.gz`` per case."""
    members = {f"kits19-{commit}/README.md": b"KiTS19", f"kits19-{commit}/data/kits.json": b"[]",
               f"kits19-{commit}/data/case_00210/.gitkeep": b""}  # a test case: no segmentation
    files = {}
    for c in cases:
        members[f"kits19-{commit}/data/case_{c:05d}/segmentation.nii.gz"] = label([1, 2], c)
        files[f"/imaging/case_{c:05d}.nii.gz"] = image(100 + c)
    files["/kits19.zip"] = zip_bytes(members)
    return files


def brats_tar(cases=(0, 2), qform=None) -> bytes:
    """``qform``: every file's qform, another than its sform."""
    members = {}
    for c in cases:
        case = f"BraTS2021_{c:05d}"
        for m in ("t1", "t1ce", "t2", "flair"):
            members[f"{case}/{case}_{m}.nii.gz"] = image(c * 10 + len(m), qform)
        members[f"{case}/{case}_seg.nii.gz"] = label([1, 2, 4], c, qform)
    return tar_bytes(members)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in srv.truncate_once:
            srv.truncate_once.discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class LocalServer:
    """``with LocalServer({"/path": bytes}) as srv: srv.url("/path")`` on 127.0.0.1, a free port."""

    def __init__(self, files: dict[str, bytes]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.truncate_once, self.httpd.requests = dict(files), set(), []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def truncate_once(self) -> set[str]:
        return self.httpd.truncate_once

    @property
    def requests(self) -> list:
        return self.httpd.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
