"""The artifact cache: what it holds, what the store's items use, and pruning it safely.

Layout (written by ``benchbed.work`` and ``benchbed.detection.worker``): images at
``CACHE/<kind>/<key[:2]>/<key>.png`` for the kinds degraded, restored and fused; detections at
``CACHE/detections/<key[:2]>/<key>.json``. A stored item names its images in ``Item.artifacts``
(``degraded_<modality>``, ``restored_<modality>``, ``fused`` -> key) and its detections in the
payload of its detection rows (``detections``, ``reference_detections`` -> key).

The cache grows with every new plan version, method and code change (a plugin's code hash is
part of its keys), while only the files the store's items name are ever read again by boards,
sites and resumed runs. Pruning keeps every file a *done* item names unless that item's suite
was selected with ``--suite``; a file nobody names that was written in the last hour is kept
too (a running ``benchbed run`` writes its files before it stores the items that name them).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchbed.errors import BenchbedError

if TYPE_CHECKING:  # the layout helpers run in workers, which never open the store
    from sqlalchemy.orm import Session, sessionmaker

KINDS = ("degraded", "restored", "fused", "detections")
"""The artifact kinds, each a folder of the cache."""

SUFFIX = {"degraded": ".png", "restored": ".png", "fused": ".png", "detections": ".json"}

GRACE_SECONDS = 3600.0
"""Files no item names are kept this long after they were written (a run may be storing them)
unless ``--older-than`` sets the age explicitly."""

DETECTION_KEYS = ("detections", "reference_detections")
"""Fields of a detection row's payload that name a detections file."""

Ref = tuple[str, str]
"""(kind, key) of a cached file."""


@dataclass(frozen=True)
class CachedFile:
    """One artifact file of the cache."""

    kind: str
    key: str
    path: Path
    size: int
    mtime: float


def kind_of(name: str) -> str | None:
    """The cache kind of an ``Item.artifacts`` name (``fused``, ``degraded_ir`` -> degraded)."""
    head = name.split("_", 1)[0]
    return head if head in SUFFIX else None


def artifact_path(cache_dir: str | Path, kind: str, key: str) -> Path:
    """Where the cache keeps the ``kind`` file of ``key`` (the one layout writers and readers use)."""
    return Path(cache_dir) / kind / key[:2] / f"{key}{SUFFIX[kind]}"


def unwritable(cache_dir: str | Path) -> str | None:
    """Why ``cache_dir`` cannot take artifacts (created if missing, a probe file written and
    removed), or None when it can."""
    cache = Path(cache_dir)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return str(exc.strerror)
    return None


def refs_of(artifacts: dict | None, detection_payloads: Iterable[dict | None] = ()) -> set[Ref]:
    """The cached files an item names: its artifacts and its detection rows' files."""
    refs = {(kind, str(key)) for name, key in (artifacts or {}).items()
            if key and (kind := kind_of(str(name))) is not None}
    for payload in detection_payloads:
        refs.update(("detections", str(key)) for name in DETECTION_KEYS
                    if (key := (payload or {}).get(name)))
    return refs


def scan(cache_dir: Path) -> list[CachedFile]:
    """Every artifact file under ``cache_dir`` (kind folders, two-character shards, ``<key>`` plus
    the kind's suffix); anything else there (temporary files of a writer) is left out."""
    out: list[CachedFile] = []
    for kind in KINDS:
        top = Path(cache_dir) / kind
        if not top.is_dir():
            continue
        with os.scandir(top) as shards:
            for shard in shards:
                if not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        name = entry.name
                        if not name.endswith(SUFFIX[kind]) or not entry.is_file(follow_symlinks=False):
                            continue
                        st = entry.stat(follow_symlinks=False)
                        out.append(CachedFile(kind, name[: -len(SUFFIX[kind])], Path(entry.path),
                                              st.st_size, st.st_mtime))
    out.sort(key=lambda f: (KINDS.index(f.kind), f.key))
    return out


@dataclass
class References:
    """Which cached files the store's items name: ``(kind, key) -> {(suite, status), ...}``."""

    users: dict[Ref, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    items: int = 0
    """Items in the store."""

    def referenced(self, ref: Ref) -> bool:
        """Whether any stored item names ``ref``."""
        return ref in self.users

    def done_suites(self, ref: Ref) -> set[str]:
        """The suites whose done items name ``ref``."""
        return {suite for suite, status in self.users.get(ref, ()) if status == "done"}

    def suites(self, ref: Ref) -> set[str]:
        """The suites whose items (any status) name ``ref``."""
        return {suite for suite, _ in self.users.get(ref, ())}


def store_references(sessions: sessionmaker[Session]) -> References:
    """The cached files named by every item of the store (artifacts and detection payloads)."""
    from sqlalchemy import func, select

    from benchbed.store.models import Detection, Item

    refs = References()
    with sessions() as s:
        refs.items = int(s.execute(select(func.count()).select_from(Item)).scalar_one())
        for suite, status, artifacts in s.execute(
                select(Item.suite, Item.status, Item.artifacts)).yield_per(10_000):
            for ref in refs_of(artifacts):
                refs.users[ref].add((str(suite), str(status)))
        for suite, status, payload in s.execute(
                select(Item.suite, Item.status, Detection.payload)
                .join(Item, Detection.item_id == Item.id)).yield_per(10_000):
            for ref in refs_of(None, [payload]):
                refs.users[ref].add((str(suite), str(status)))
    return refs


@dataclass(frozen=True)
class KindInfo:
    """Files and bytes of one kind, and the part of them stored items name."""

    kind: str
    files: int
    bytes: int
    referenced_files: int
    referenced_bytes: int


def summarise(files: Sequence[CachedFile], refs: References | None) -> list[KindInfo]:
    """Per-kind totals (referenced counts are 0 without ``refs``)."""
    out = []
    for kind in KINDS:
        mine = [f for f in files if f.kind == kind]
        used = [f for f in mine if refs is not None and refs.referenced((f.kind, f.key))]
        out.append(KindInfo(kind, len(mine), sum(f.size for f in mine), len(used),
                            sum(f.size for f in used)))
    return out


def missing(files: Iterable[CachedFile], refs: References) -> int:
    """How many (kind, key) the store's items name that the cache does not hold."""
    held = {(f.kind, f.key) for f in files}
    return sum(1 for ref in refs.users if ref not in held)


@dataclass(frozen=True)
class PrunePlan:
    """What a prune removes, and what it keeps for safety."""

    remove: list[CachedFile]
    kept_done: int
    """Selected files kept because a done item of another (unselected) suite names them."""
    kept_recent: int
    """Selected files no item names, kept because they were written within the grace period."""


def plan_prune(files: Sequence[CachedFile], refs: References, *, suites: Sequence[str] = (),
               orphans: bool = False, older_than_days: float | None = None,
               now: float | None = None) -> PrunePlan:
    """Select files to remove.

    ``orphans``: files no stored item names. ``suites``: files named by those suites' items.
    Both may be given (their union); with neither, every file is a candidate and
    ``older_than_days`` must say which. ``older_than_days`` keeps only files last written longer
    ago than that. A file a done item of an unselected suite names is never selected; a file no
    item names that was written within :data:`GRACE_SECONDS` is kept unless ``older_than_days``
    is given.
    """
    if not (orphans or suites or older_than_days is not None):
        raise BenchbedError("cache prune needs to be told what to remove",
                            fix="give --orphans, --suite NAME and/or --older-than DAYS "
                                "(add --dry-run to list the files first)")
    if orphans and refs.items == 0:
        raise BenchbedError("the store holds no items, so every cached file would count as an "
                            "orphan", fix="point --db / BENCHBED_DB at the store this cache "
                                          "belongs to")
    now = time.time() if now is None else now
    chosen = set(suites)
    cutoff = None if older_than_days is None else now - older_than_days * 86400.0
    remove, kept_done, kept_recent = [], 0, 0
    for f in files:
        ref = (f.kind, f.key)
        used = refs.referenced(ref)
        selected = (not orphans and not chosen) or (orphans and not used) or \
            bool(chosen & refs.suites(ref))
        if not selected or (cutoff is not None and f.mtime >= cutoff):
            continue
        if refs.done_suites(ref) - chosen:
            kept_done += 1
            continue
        if not used and cutoff is None and f.mtime > now - GRACE_SECONDS:
            kept_recent += 1
            continue
        remove.append(f)
    return PrunePlan(remove, kept_done, kept_recent)


def remove_files(files: Iterable[CachedFile]) -> tuple[int, int]:
    """Delete ``files`` (and shard folders left empty); returns (files removed, bytes freed).
    A file already gone is skipped."""
    count = freed = 0
    shards = set()
    for f in files:
        try:
            f.path.unlink()
        except FileNotFoundError:
            continue
        count += 1
        freed += f.size
        shards.add(f.path.parent)
    for shard in shards:
        try:
            shard.rmdir()  # only when empty
        except OSError:
            pass
    return count, freed


def human(n: int) -> str:
    """Bytes as a short size (``12.3 MB``)."""
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            break
    return f"{size:.1f} {unit}"
