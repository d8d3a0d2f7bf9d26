"""Where a store lives: a local folder, or a URL that fsspec understands (``s3://``, ``gs://``,
``az://``, ``memory://``, ...).

Credentials and endpoints come from the usual environment variables of each filesystem
(``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...) and from storage options: ``KEY=VALUE`` pairs that
the CLI's ``--storage-option`` sets once per process (:func:`set_storage_options`) and that are passed
to the fsspec filesystem (for s3fs e.g. ``endpoint_url``, ``key``, ``secret``, ``anon``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nsnet.errors import first_line
from nsnet.store.layout import StoreError

_URL = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")
_STORAGE_OPTIONS: dict[str, Any] = {}


def set_storage_options(options: dict[str, Any]) -> None:
    """Sets the storage options every store URL opened in this process uses; returns nothing."""
    _STORAGE_OPTIONS.clear()
    _STORAGE_OPTIONS.update(options)


def current_storage_options() -> dict[str, Any]:
    """Returns a copy of this process's storage options (to hand to worker processes)."""
    return dict(_STORAGE_OPTIONS)


def parse_storage_options(pairs: list[str]) -> dict[str, Any]:
    """Returns ``{key: value}`` from ``KEY=VALUE`` strings; values are JSON when they parse as JSON
    (``anon=true``, ``config_kwargs={"connect_timeout": 5}``), strings otherwise. Raises StoreError."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise StoreError(f"--storage-option {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def is_url(location: str | Path) -> bool:
    """Returns True when ``location`` is a URL with a scheme other than ``file``."""
    match = _URL.match(str(location))
    return bool(match) and match.group("scheme").lower() != "file"


@dataclass(frozen=True)
class StoreLocation:
    """A store's place: ``text`` is the URL as given, or the absolute local path."""

    text: str
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, location: "str | Path | StoreLocation") -> "StoreLocation":
        """Returns the location of a path or URL (``file://`` URLs become local paths)."""
        if isinstance(location, StoreLocation):
            return location
        text = str(location)
        if is_url(text):
            return cls(text.rstrip("/"), dict(_STORAGE_OPTIONS))
        if text.lower().startswith("file://"):
            text = text[len("file://"):]
        return cls(str(Path(text).expanduser().absolute()))

    @property
    def is_url(self) -> bool:
        """Returns True for object storage / remote filesystems, False for a local folder."""
        return is_url(self.text)

    @property
    def local_path(self) -> Path:
        """Returns the local folder (raises StoreError for a URL)."""
        if self.is_url:
            raise StoreError(f"{self.text}: not a local folder")
        return Path(self.text)

    def filesystem(self) -> tuple[Any, str]:
        """Returns (fsspec filesystem, root path inside it) of this location."""
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self.text, **self.options)
        except (ImportError, ValueError) as err:  # no fsspec implementation for this scheme
            raise StoreError(f"{self.text}: cannot use this URL ({first_line(err)})") from None
        fs.invalidate_cache()  # other writers (zarr's own filesystem, other processes) change the listing
        return fs, root

    def zarr_store(self, read_only: bool) -> Any:
        """Returns the zarr store object of this location (LocalStore, or FsspecStore for a URL)."""
        from zarr.storage import FsspecStore, LocalStore

        if not self.is_url:
            return LocalStore(self.text, read_only=read_only)
        try:
            return FsspecStore.from_url(self.text, storage_options=self.options or None, read_only=read_only)
        except (ImportError, ValueError, TypeError) as err:
            raise StoreError(f"{self.text}: cannot open this URL as a store ({first_line(err)})") from None

    def file(self, name: str) -> tuple[Any, str]:
        """Returns (filesystem, path inside it) of the file ``name`` in the store's folder."""
        fs, root = self.filesystem()
        return fs, f"{root.rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        """Returns True when the store's folder holds the file ``name``."""
        fs, path = self.file(name)
        with remote_errors(self):
            return bool(fs.exists(path))

    def read_bytes(self, name: str) -> bytes:
        """Returns the bytes of the file ``name`` in the store's folder (FileNotFoundError if absent)."""
        fs, path = self.file(name)
        with remote_errors(self, missing_ok=True):
            return fs.cat_file(path)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Writes ``data`` to the file ``name`` in the store's folder; returns nothing."""
        fs, path = self.file(name)
        with remote_errors(self):
            fs.pipe_file(path, data)

    def __str__(self) -> str:
        return self.text


def location_text(store_or_location: Any) -> str:
    """Returns the canonical text of a store's place (absolute path or URL) for a run record."""
    loc = getattr(store_or_location, "location", store_or_location)
    return StoreLocation.parse(loc).text


class remote_errors:
    """Context manager: turns a filesystem's connection / permission / missing-bucket errors into
    one-line StoreErrors naming the location (a FileNotFoundError passes through when ``missing_ok``)."""

    def __init__(self, location: StoreLocation, missing_ok: bool = False) -> None:
        self.location = location
        self.missing_ok = missing_ok

    def __enter__(self) -> "remote_errors":
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: Any) -> bool:
        if err is None or isinstance(err, StoreError) or not self.location.is_url:
            return False
        if isinstance(err, FileNotFoundError) and self.missing_ok:
            return False
        raise StoreError(f"{self.location.text}: {describe_remote_error(err)}") from None


def describe_remote_error(err: BaseException) -> str:
    """Returns a one-line reason for a failed object-storage call (bucket missing, access denied,
    endpoint unreachable, ...)."""
    name = type(err).__name__
    text = first_line(err)
    lowered = f"{name} {text}".lower()
    if "nosuchbucket" in lowered or "bucket does not exist" in lowered or "specified bucket" in lowered:
        return f"the bucket does not exist ({text})"
    if isinstance(err, PermissionError) or any(w in lowered for w in ("accessdenied", "forbidden", "invalidaccesskey",
                                                                        "signaturedoesnotmatch", "credentials")):
        return f"access denied: check the credentials ({text})"
    if any(w in lowered for w in ("connect", "endpoint", "timeout", "timed out", "name resolution")):
        return f"cannot reach the storage endpoint ({text})"
    if isinstance(err, FileNotFoundError):
        return f"not found ({text})"
    return f"storage error {name} ({text})"
