"""A content-addressed blob store: bytes in, their SHA-256 out, the same bytes back by it.

Why this shape: a document's identity is its hash (recorded in an event), so storing the
same bytes twice is harmless and a stored blob can be checked against its name; erasure
deletes by hash. The default keeps each service's blobs in its own directory under
``VR_VAR_DIR`` (``<prefix>blobs/<service>/ab/<sha256>``), also when the event stores are on
PostgreSQL; another backend (object storage) implements the same three methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from services.common import config

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(KeyError):
    """No blob of that hash (never stored, or deleted)."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...

    def delete(self, sha256: str) -> bool: ...


class FileBlobStore:
    """Blobs as files named by their hash; written to a temporary file and renamed, so a
    reader never sees half a blob."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            raise BlobNotFound(str(sha256)[:64])
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def delete(self, sha256: str) -> bool:
        """True if a blob was deleted; deleting a missing one is not an error (idempotent)."""
        try:
            self._path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True


def open_blobs(service: str) -> FileBlobStore:
    """The service's blob store on the configured directory."""
    current = config.settings()
    return FileBlobStore(current.var_dir / f"{current.schema_prefix}blobs" / service)
