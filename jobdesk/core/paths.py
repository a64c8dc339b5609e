"""Keeping job file access inside the data directory."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from jobdesk.core.errors import InvalidJobData


def resolve_under(root: Path, path: str) -> Path:
    """Resolve `path` (relative to root, or absolute inside it); refuse escapes.

    `..` is refused outright, even where it would land back inside, so a path
    in a job's data means what it says.
    """
    if not path or "\x00" in path:
        raise InvalidJobData(f"invalid path {path!r}")
    if ".." in PurePosixPath(path).parts:
        raise InvalidJobData(f"path {path!r} may not contain '..'")
    base = root.resolve()
    candidate = Path(path)
    full = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if full != base and base not in full.parents:
        raise InvalidJobData(f"path {path!r} is outside the data directory {base}")
    return full
