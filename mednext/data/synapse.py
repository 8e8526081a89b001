"""Access to files on Synapse (BTCV, BraTS21), behind one small interface.

``SynapseAccess.fetch(entity_id, name, dest_dir)`` puts the file ``name`` of the Synapse entity
(a file, or a project/folder that holds a file of that name) at ``dest_dir/name``.

* ``SynapseClientAccess`` uses the official ``synapseclient`` (``pip install 'mednext-bench[data]'``)
  with a personal access token from ``SYNAPSE_AUTH_TOKEN`` or ``~/.synapseConfig``. The token is
  handed to the client and never printed or logged.
* ``HttpMirrorAccess`` reads ``<base>/<entity_id>/<name>`` from an HTTP server: an institutional
  mirror of files you are entitled to, and the stand-in the tests serve on 127.0.0.1. Selected by
  ``MEDNEXT_SYNAPSE_MIRROR`` (or ``--synapse-mirror`` of ``python -m mednext.data.acquire download``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from mednext.data.download import DownloadError, fetch

__all__ = ["CredentialsError", "HttpMirrorAccess", "SynapseAccess", "SynapseClientAccess", "synapse_access",
           "token_source"]

TOKEN_URL = "https://www.synapse.org/#!PersonalAccessTokens:"


class CredentialsError(RuntimeError):
    """Missing or refused credentials; the message says what to set and where to accept the terms."""


class SynapseAccess(Protocol):
    def fetch(self, entity_id: str, name: str, dest_dir: Path, *, terms_url: str) -> Path: ...


class HttpMirrorAccess:
    """Synapse files served over HTTP as ``<base>/<entity_id>/<name>`` (resumable, like every download)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def fetch(self, entity_id: str, name: str, dest_dir: Path, *, terms_url: str) -> Path:
        return fetch(f"{self.base_url}/{entity_id}/{name}", Path(dest_dir) / name)


def _has_config_token(config: Path) -> bool:
    if not config.is_file():
        return False
    text = config.read_text(errors="replace").lower()
    return "authtoken" in text or "auth_token" in text


def token_source(config_file: str | Path | None = None) -> str | None:
    """Where the client would read a token from (``SYNAPSE_AUTH_TOKEN`` or the config file), or None."""
    if os.environ.get("SYNAPSE_AUTH_TOKEN"):
        return "SYNAPSE_AUTH_TOKEN"
    config = Path(config_file or Path.home() / ".synapseConfig")
    return str(config) if _has_config_token(config) else None


class SynapseClientAccess:
    """The official client; refuses early, with instructions, when no token is configured."""

    def __init__(self, config_file: str | Path | None = None):
        self.config_file = Path(config_file or Path.home() / ".synapseConfig")

    def _login(self, entity_id: str, name: str, dest_dir: Path, terms_url: str):
        token = os.environ.get("SYNAPSE_AUTH_TOKEN")
        if token_source(self.config_file) is None:
            raise CredentialsError(
                f"{name} is downloaded from Synapse ({entity_id}), which needs a Synapse account and a personal "
                f"access token. 1) Accept the data terms at {terms_url} (logged in). 2) Create a token with "
                f"'view' and 'download' scope at {TOKEN_URL}. 3) export SYNAPSE_AUTH_TOKEN=<token> (or put "
                f"'[authentication]' / 'authtoken = <token>' in {self.config_file}). Or place {name} in "
                f"{dest_dir} yourself and run again.")
        try:
            import synapseclient
        except ImportError as err:
            raise CredentialsError(f"downloading {name} from Synapse needs the synapseclient package: "
                                   "pip install 'mednext-bench[data]' (or place the file in "
                                   f"{dest_dir} yourself)") from err
        syn = synapseclient.Synapse(skip_checks=True, silent=True)
        try:
            syn.login(authToken=token) if token else syn.login(silent=True)
        except Exception as err:  # the client's own exception types vary between versions
            raise CredentialsError(f"Synapse refused the login ({type(err).__name__}); the token in "
                                   f"{'SYNAPSE_AUTH_TOKEN' if token else self.config_file} is wrong or expired. "
                                   f"Create a new one at {TOKEN_URL}.") from None
        return syn

    def fetch(self, entity_id: str, name: str, dest_dir: Path, *, terms_url: str) -> Path:
        dest_dir = Path(dest_dir)
        syn = self._login(entity_id, name, dest_dir, terms_url)
        tmp = dest_dir / ".synapse-download"
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            file_id = self._find_file(syn, entity_id, name)
            entity = syn.get(file_id, downloadLocation=str(tmp), ifcollision="overwrite.local")
        except CredentialsError:
            raise
        except Exception as err:
            text = str(err)
            if "403" in text or "Forbidden" in text or "terms" in text.lower():
                raise CredentialsError(f"Synapse refused {name} ({entity_id}): accept the data terms at "
                                       f"{terms_url} with the account that owns the token, then run again.") from None
            raise DownloadError(f"Synapse download of {name} ({entity_id}) failed: {type(err).__name__}: {text}. "
                                "Run again to retry, or place the file in "
                                f"{dest_dir} yourself.") from err
        target = dest_dir / name
        shutil.move(entity.path, target)
        shutil.rmtree(tmp, ignore_errors=True)
        return target

    @staticmethod
    def _find_file(syn, entity_id: str, name: str) -> str:
        import synapseclient
        import synapseutils

        if isinstance(syn.get(entity_id, downloadFile=False), synapseclient.File):
            return entity_id
        for _, _, files in synapseutils.walk(syn, entity_id, includeTypes=["file"]):
            for file_name, file_id in files:
                if file_name == name:
                    return file_id
        raise DownloadError(f"Synapse entity {entity_id} holds no file named {name}; check the dataset's "
                            "source in the config.")


def synapse_access(mirror: str | None = None) -> SynapseAccess:
    """The mirror if one is configured (argument, then ``MEDNEXT_SYNAPSE_MIRROR``), else the official client."""
    mirror = mirror or os.environ.get("MEDNEXT_SYNAPSE_MIRROR")
    return HttpMirrorAccess(mirror) if mirror else SynapseClientAccess()
