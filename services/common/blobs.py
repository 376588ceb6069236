"""A content-addressed blob store (uploaded files, decision letters): ``put(bytes) -> sha256``,
``get``, ``delete``.

The address is the SHA-256 of the content, so the same file stored twice is stored once and
a blob can never change under its address. Who may read a blob, and whether anyone still
refers to it, is decided by the owning service (submissions keeps attachments and their
references); this module only keeps bytes. Each service has a directory of its own, so one
service's erasure never deletes bytes another still refers to. The default is the file system
under ``VR_VAR_DIR`` (``BLOB_DIR``); an object store would implement the same three methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from services.common.config import Settings, settings

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(KeyError):
    """No blob under that address."""


class BlobStore(Protocol):
    def put(self, content: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> bool: ...


class FileBlobStore:
    """Blobs as files ``<root>/<aa>/<sha256>``, written atomically (temporary file + rename)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise BlobNotFound(sha256[:80])
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
        return sha256

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def delete(self, sha256: str) -> bool:
        """Remove the blob; False if there was none (deleting twice is harmless)."""
        try:
            self._path(sha256).unlink()
        except (FileNotFoundError, BlobNotFound):
            return False
        return True


def open_blobs(service: str, current: Settings | None = None) -> FileBlobStore:
    """The service's blob store: ``<BLOB_DIR or <VR_VAR_DIR>/<VR_SCHEMA_PREFIX>blobs>/<service>``."""
    current = current or settings()
    root = Path(current.blob_dir) if current.blob_dir else current.var_dir / f"{current.schema_prefix}blobs"
    return FileBlobStore(root / service)
