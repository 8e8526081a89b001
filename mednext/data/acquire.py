"""Download, verify, extract and convert the paper's four datasets (BTCV, AMOS22, KiTS19, BraTS21).

Two steps, each one Snakemake rule (``workflow/rules/data.smk``) and one command:

    python -m mednext.data.acquire download btcv            # -> resources/downloads/btcv/download.json
    python -m mednext.data.acquire convert btcv resources/nnUNet_raw/Dataset001_BTCV

``access_status`` says without any network access whether ``download`` can run or what the user
must do first (token, terms, archive placed by hand); the workflow prints it for every targeted
dataset while it builds the DAG. ``download`` fetches every file of the dataset into
``resources/downloads/<dataset>/`` (resumable; a file already there, e.g. placed by hand, is used
as is), verifies each against ``config/checksums/<dataset>.json`` (recording it there if no entry
exists yet) and writes the manifest ``download.json`` last. ``convert`` extracts safely and converts case by case into an
nnU-Net raw folder that appears only when complete. Sources (check their terms before use):

=========  =======================================================================================
btcv       Synapse syn3379050 ``RawData.zip`` (project syn3193805; account, token, accepted terms)
amos22     Zenodo record 7262581 ``amos22.zip`` (direct download)
kits19     labels: archive of github.com/neheller/kits19 at a pinned commit; imaging: one file per
           case from the Hugging Face dataset its ``starter_code/get_imaging_v2.py`` uses
brats21    Synapse syn25829067 ``BraTS2021_Training_Data.tar`` (accepted data use agreement)
=========  =======================================================================================
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

from mednext.data.archives import ArchiveError, check_whole, safe_extract
from mednext.data.convert import CONVERTERS, RawDatasetWriter
from mednext.data.download import ChecksumRecord, DownloadError, fetch
from mednext.data.synapse import CredentialsError, SynapseAccess, synapse_access, token_source
from mednext.data.validate import DatasetError
from mednext.files import write_text_atomic

__all__ = ["KITS19_COMMIT", "SOURCES", "AccessReport", "access_status", "convert", "convert_options", "download",
           "download_source", "extraction_folder", "main", "paper_dataset", "source_for"]

KITS19_COMMIT = "456b293435b25303bbc7995f094f83a0afdff0eb"  # neheller/kits19 with starter_code/get_imaging_v2.py

SOURCES: dict[str, dict] = {
    "btcv": {"file": "RawData.zip", "synapse_id": "syn3379050",
             "terms_url": "https://www.synapse.org/#!Synapse:syn3193805/wiki/217789"},
    "amos22": {"file": "amos22.zip", "url": "https://zenodo.org/records/7262581/files/amos22.zip"},
    "kits19": {"file": "kits19-labels.zip",
               "labels_url": f"https://github.com/neheller/kits19/archive/{KITS19_COMMIT}.zip",
               "imaging_url": "https://huggingface.co/datasets/neheller/KiTS-Challenge-Imaging/resolve/main/"
                              "images/case_{case:05d}.nii.gz"},
    "brats21": {"file": "BraTS2021_Training_Data.tar", "synapse_id": "syn25829067",
                "terms_url": "https://www.synapse.org/#!Synapse:syn25829067/wiki/610863"},
}
ERRORS = (DownloadError, ArchiveError, CredentialsError, DatasetError)


def source_for(dataset: str, overrides: dict | None = None) -> dict:
    if dataset not in SOURCES:
        raise DatasetError(f"no download source is known for dataset {dataset!r} (known: {', '.join(SOURCES)}); "
                           "for your own data set datasets.<name>.path to an nnU-Net raw folder")
    unknown = set(overrides or {}) - set(SOURCES[dataset])
    if unknown:
        raise DatasetError(f"datasets.{dataset}.source: unknown key(s) {sorted(unknown)}; "
                           f"{dataset} takes {sorted(SOURCES[dataset])}")
    return {**SOURCES[dataset], **(overrides or {})}


def paper_dataset(key: str, dataset_config: dict) -> str:
    """Which paper dataset a configured dataset is downloaded and converted as: ``of`` (a variant such as
    ``brats21_regions: {of: brats21, region_based: true}``, trained beside ``brats21``), else its own key."""
    return dataset_config.get("of", key)


def download_source(dataset: str, datasets: dict) -> dict:
    """The source overrides of paper dataset ``dataset`` among the configured ``datasets`` (key -> settings):
    its variants share one download, so they must not name two sources."""
    given = {k: c["source"] for k, c in datasets.items() if paper_dataset(k, c) == dataset and c.get("source")}
    if len({json.dumps(s, sort_keys=True) for s in given.values()}) > 1:
        raise DatasetError(f"datasets {', '.join(sorted(given))} are all {dataset}, downloaded once, but give different "
                           f"`source` settings ({given}): give the same source to each, or to one of them only")
    return next(iter(given.values()), {})


def extraction_folder(downloads: str | Path, dataset: str, out_dir: str | Path) -> Path:
    """Where ``convert`` extracts ``dataset``'s download for the raw folder ``out_dir``: one folder per raw
    dataset, so that two variants of one download convert side by side."""
    return Path(downloads) / dataset / f"extracted_{Path(out_dir).name}"


def access_status(dataset: str, downloads: str | Path, overrides: dict | None = None) -> tuple[bool, str]:
    """Whether ``download`` can get ``dataset`` without the user's action, and one line that says why or what to do.

    Cheap (no network): looks at the manifest, a hand-placed file, the source kind, the Synapse
    mirror variable and where a Synapse token would come from (never at the token itself).
    """
    src = source_for(dataset, overrides)
    folder = Path(downloads) / dataset
    if (folder / "download.json").is_file():
        return True, f"{dataset}: downloaded and verified ({folder / 'download.json'})"
    if (folder / src["file"]).is_file():
        return True, f"{dataset}: {src['file']} placed in {folder}/ (verified at download)"
    if "synapse_id" not in src:
        return True, f"{dataset}: direct download, no account needed (or place {src['file']} in {folder}/)"
    if os.environ.get("MEDNEXT_SYNAPSE_MIRROR"):
        return True, f"{dataset}: from the Synapse mirror in MEDNEXT_SYNAPSE_MIRROR"
    source = token_source()
    if source and importlib.util.find_spec("synapseclient") is None:
        return False, (f"{dataset}: NEEDS synapseclient (pip install 'mednext-bench[data]'), or place "
                       f"{src['file']} in {folder}/")
    if source:
        return True, f"{dataset}: Synapse {src['synapse_id']} with the token from {source}"
    return False, (f"{dataset}: NEEDS a Synapse token or the archive: accept the terms at {src['terms_url']}, "
                   "export SYNAPSE_AUTH_TOKEN=<token> (scopes view + download; or authtoken in ~/.synapseConfig), "
                   f"or place {src['file']} in {folder}/")


class AccessReport:
    """Logs once per dataset ``access_status``'s line: a warning where the user must act, else info.

    ``input`` is the download rule's input function (it adds no input): Snakemake calls it for
    every download in the DAG while building it, dry runs included, so a run says first which of
    its datasets need a token or an archive; ``check`` (the workflow's ``onstart``) then stops a
    real run before its first job. ``log=None`` is silent and checks nothing (e.g. in a cluster job).
    """

    def __init__(self, downloads: str | Path, sources: dict[str, dict | None] | None = None,
                 log: logging.Logger | None = None):
        self.downloads, self.sources, self.log = downloads, sources or {}, log
        self.reported: set[str] = set()
        self.needed: list[str] = []  # access_status lines of the datasets that need the user

    def __call__(self, dataset: str) -> None:
        if self.log is None or dataset in self.reported:
            return
        self.reported.add(dataset)
        ready, line = access_status(dataset, self.downloads, self.sources.get(dataset))
        self.log.log(logging.INFO if ready else logging.WARNING, f"data access: {line}")
        if not ready:
            self.needed.append(line)

    def input(self, wildcards) -> list:
        self(wildcards.dataset)
        return []

    def check(self) -> None:
        """Raises ``CredentialsError`` naming every reported dataset that needs the user's action."""
        if self.needed:
            listed = "\n".join(f"  {line}" for line in self.needed)
            raise CredentialsError(f"stopped before the first job: data that needs your action first\n{listed}\n"
                                   "(--keep-going runs everything else and fails only these downloads)")


def _kits19_cases(labels_zip: Path) -> list[int]:
    """Case numbers that have a segmentation in the kits19 repository archive."""
    try:
        with zipfile.ZipFile(labels_zip) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as err:
        raise ArchiveError(f"{labels_zip}: not a readable zip archive ({err}); delete it and run again") from err
    return sorted({int(m.group(1)) for n in names if (m := re.search(r"data/case_(\d{5})/segmentation\.nii\.gz$", n))})


def download(dataset: str, downloads: str | Path, checksums: str | Path, overrides: dict | None = None,
             synapse: SynapseAccess | None = None, log=print) -> Path:
    """Fetch and verify every file of ``dataset``; returns the manifest (written last)."""
    src = source_for(dataset, overrides)
    folder = Path(downloads) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    record = ChecksumRecord(Path(checksums) / f"{dataset}.json")
    files: dict[str, dict] = {}

    def verified(name: str, path: Path, origin: str) -> None:
        try:
            status = record.verify_or_record(name, path, origin, check=check_whole)
        except ArchiveError as err:
            raise ArchiveError(f"{err}. Not recorded in {record.path}: delete {path} and run again to download it "
                               "anew, or place a whole copy there.") from err
        files[name] = {"size": path.stat().st_size, "status": status}
        log(f"{name}: {status} ({path.stat().st_size} bytes) against {record.path}")

    main_file = folder / src["file"]
    url = src.get("url") or src.get("labels_url")  # None: the file comes from Synapse
    if main_file.is_file():
        log(f"{main_file}: present (placed by hand or downloaded earlier), not downloading")
    elif url is None:
        access = synapse or synapse_access()
        access.fetch(src["synapse_id"], src["file"], folder, terms_url=src["terms_url"])
    else:
        fetch(url, main_file)
    verified(src["file"], main_file, url or f"synapse:{src['synapse_id']}")

    if dataset == "kits19":
        cases = _kits19_cases(main_file)
        if not cases:
            raise DatasetError(f"{main_file}: no data/case_XXXXX/segmentation.nii.gz inside; not the kits19 "
                               "repository archive? Delete it and run again.")
        for case in cases:
            name = f"imaging/case_{case:05d}.nii.gz"
            url = src["imaging_url"].format(case=case)
            fetch(url, folder / name)
            verified(name, folder / name, url)
    manifest = folder / "download.json"
    write_text_atomic(manifest, json.dumps({"dataset": dataset, "file": src["file"], "checksums": str(record.path),
                                            "files": files}, indent=2) + "\n")
    return manifest


def convert_options(dataset: str, dataset_config: dict) -> dict:
    """The converter options among a dataset's config settings: amos22 ``cases``, brats21 ``region_based``."""
    if dataset == "amos22":
        return dict(dataset_config.get("cases", {}))
    if dataset == "brats21" and "region_based" in dataset_config:
        return {"region_based": bool(dataset_config["region_based"])}
    return {}


def convert(dataset: str, downloads: str | Path, out_dir: str | Path, keep_extracted: bool = False,
            log=print, options: dict | None = None) -> Path:
    """Extract the verified download of ``dataset`` and convert it into the nnU-Net raw folder ``out_dir``.

    ``options``: keyword arguments of the dataset's converter, e.g. ``{"task": 1, "parts": ["training"]}``
    for amos22 (which cases) or ``{"region_based": True}`` for brats21 (nnU-Net's region-based
    labels instead of the official plain labels 0-3; off by default).
    """
    options = dict(options or {})
    allowed = {"amos22": {"task", "parts"}, "brats21": {"region_based"}}.get(dataset, set())
    if set(options) - allowed:
        raise DatasetError(f"{dataset}: unknown conversion option(s) {sorted(set(options) - allowed)}; "
                           f"{dataset} takes {sorted(allowed) or 'none'}")
    default = source_for(dataset)["file"]  # an unknown dataset is named here
    folder = Path(downloads) / dataset
    manifest = folder / "download.json"
    if not manifest.is_file():
        raise DatasetError(f"{manifest}: missing; run `python -m mednext.data.acquire download "
                           f"{dataset}` first (the Snakemake rule 'download' does)")
    try:  # the file the download verified (a datasets.<key>.source.file override included)
        name = json.loads(manifest.read_text()).get("file") or default
    except (json.JSONDecodeError, AttributeError) as err:
        raise DatasetError(f"{manifest}: not a download manifest ({err}); delete it and download again") from err
    try:
        extracted = safe_extract(folder / name, extraction_folder(downloads, dataset, out_dir))
    except ArchiveError as err:  # its download.json stands: the workflow would not download it again
        raise ArchiveError(f"{err} Its download was verified before: delete {manifest} as well, so "
                           "that the workflow downloads it again.") from err
    log(f"extracted {folder / name} to {extracted}")
    if (folder / "extracted").is_dir():  # where versions before one folder per raw dataset extracted to
        shutil.rmtree(folder / "extracted")
        log(f"removed the earlier extraction {folder / 'extracted'}")
    writer = RawDatasetWriter(out_dir, dataset)
    try:
        if dataset == "kits19":
            options["imaging"] = folder / "imaging"
        CONVERTERS[dataset](extracted, writer, **options)
    except BaseException:
        writer.abort()
        raise
    log(f"converted {len(writer.cases)} cases into {out_dir}")
    if not keep_extracted:
        shutil.rmtree(extracted)
    return Path(out_dir)


def _json_object(text: str) -> dict:
    """An argparse type: a JSON object (``--source``, ``--options``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON ({err}): {text!r}; quote the object in the shell, e.g. "
                                         "'{\"url\": \"https://...\"}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object ({{...}})")
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mednext.data.acquire", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    d = sub.add_parser("download", help="fetch and verify; writes <downloads>/<dataset>/download.json")
    d.add_argument("dataset", choices=sorted(SOURCES))
    d.add_argument("--downloads", default="resources/downloads")
    d.add_argument("--checksums", default="config/checksums", help="folder of <dataset>.json checksum records")
    d.add_argument("--source", type=_json_object, default="{}", help="JSON object overriding the dataset's source (urls, ids)")
    d.add_argument("--synapse-mirror", help="HTTP base serving <entity_id>/<file> instead of Synapse")
    c = sub.add_parser("convert", help="extract and convert into an nnU-Net raw dataset folder")
    c.add_argument("dataset", choices=sorted(SOURCES))
    c.add_argument("out_dir")
    c.add_argument("--downloads", default="resources/downloads")
    c.add_argument("--keep-extracted", action="store_true")
    c.add_argument("--options", type=_json_object, default="{}",
                   help='JSON object of converter options: amos22 {"task": 1, "parts": ["training", "validation"]} '
                        '(which cases; the default), brats21 {"region_based": true} (nnU-Net\'s region-based '
                        'labels instead of the official plain labels 0-3; off by default)')
    args = p.parse_args(argv)
    try:
        if args.step == "download":
            synapse = synapse_access(args.synapse_mirror) if args.synapse_mirror else None
            print(download(args.dataset, args.downloads, args.checksums, args.source, synapse))
        else:
            print(convert(args.dataset, args.downloads, args.out_dir, args.keep_extracted,
                          options=args.options))
    except ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
