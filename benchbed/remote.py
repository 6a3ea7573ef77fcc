"""Dask tasks on machines that share nothing with the client but the cluster.

What travels with each task (``Shipment``): the client's ``BENCHBED_*`` settings (relative paths
made absolute, the client's working directory as ``BENCHBED_WORKDIR``), its local plugin files
(uploaded to the workers), and the name of a probe file the client left in its artifact cache.
A worker computes in its own ``BENCHBED_CACHE`` when it has one, else in the client's cache when
it sees the probe there (a shared filesystem), else under its Dask local directory; unless that
cache is the client's, it returns the bytes of every file the group's results name, which the
client writes into its cache, so boards, sites and resumed runs find every image.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from benchbed.cache import KINDS, artifact_path, refs_of, unwritable
from benchbed.errors import BenchbedError

if TYPE_CHECKING:
    from benchbed.work import ItemResult, RunContext, WorkItem

NOT_SHIPPED = ("BENCHBED_CACHE", "BENCHBED_DB", "BENCHBED_PLUGINS", "BENCHBED_LEASE_SECONDS")
"""Client settings a worker does not take: its own cache, no store; plugins travel as modules
(``RunContext.plugin_modules``; the worker's own ``BENCHBED_PLUGINS`` is blanked for the task)."""


@dataclass(frozen=True)
class Shipment:
    """What a Dask task needs from the client besides the context and the items (picklable)."""

    env: tuple[tuple[str, str], ...]
    probe: str
    """File name in the client's cache whose presence tells a worker it shares that cache."""


def _absolute(value: str) -> str:
    """``value`` made absolute when it names an existing relative path here; otherwise as is."""
    p = Path(value).expanduser()
    if value and not p.is_absolute() and os.pathsep not in value and p.exists():
        return str(p.resolve())
    return value


def client_shipment(cache_dir: str) -> Shipment:
    """The client's settings for its tasks, and a fresh probe left in its cache."""
    env = {k: _absolute(v) for k, v in os.environ.items()
           if k.startswith("BENCHBED_") and k not in NOT_SHIPPED}
    env["BENCHBED_WORKDIR"] = str(Path.cwd())
    env["BENCHBED_PLUGINS"] = ""  # a worker's own list would load the shipped modules twice
    from benchbed.work import THREAD_ENV

    env.update(THREAD_ENV)  # set by every task anyway; shipped so that it is undone afterwards
    probe = f".benchbed-probe-{uuid.uuid4().hex}"
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    (Path(cache_dir) / probe).write_text("the run that wrote this is using this cache\n")
    return Shipment(env=tuple(sorted(env.items())), probe=probe)


def remove_probe(cache_dir: str, shipment: Shipment) -> None:
    """The run is over: drop its probe file."""
    (Path(cache_dir) / shipment.probe).unlink(missing_ok=True)


_ENV_LOCK = threading.Lock()
_ENV_TASKS = 0
_ENV_SAVED: dict[str, str | None] = {}


@contextmanager
def shipped_env(shipment: Shipment) -> Iterator[None]:
    """The client's settings while tasks run; the worker's own are back once the last one ends.

    Counted rather than saved per task: the environment is the process's, and a threaded worker
    (or an in-process cluster) runs tasks side by side, whose interleaved restores would leave
    one task's settings behind.
    """
    global _ENV_TASKS
    with _ENV_LOCK:
        for k, _ in shipment.env:
            _ENV_SAVED.setdefault(k, os.environ.get(k))
        os.environ.update(dict(shipment.env))
        _ENV_TASKS += 1
    try:
        yield
    finally:
        with _ENV_LOCK:
            _ENV_TASKS -= 1
            if _ENV_TASKS == 0:
                for k, v in _ENV_SAVED.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                _ENV_SAVED.clear()


def dask_local_directory() -> str | None:
    """The Dask local directory of the worker running this task, or None outside one."""
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except (ImportError, ValueError):
        return None


def task_context(ctx: RunContext, shipment: Shipment, local_directory: str | None = None
                 ) -> tuple[RunContext, bool]:
    """The context a task computes with, and whether its cache is the client's own.

    A worker's own BENCHBED_CACHE wins (the folder its operator chose); without one it writes
    into the client's cache when it can see the client's probe there (a shared filesystem),
    else under its Dask local directory.
    """
    own = os.environ.get("BENCHBED_CACHE")
    if own:
        cache = Path(own).expanduser()
        return replace(ctx, cache_dir=str(cache)), (cache / shipment.probe).is_file()
    if (Path(ctx.cache_dir) / shipment.probe).is_file():
        return ctx, True
    base = local_directory or dask_local_directory() or str(Path.cwd() / ".benchbed")
    return replace(ctx, cache_dir=str(Path(base) / "benchbed-cache")), False


def check_worker(ctx: RunContext, shipment: Shipment, dask_worker: Any = None) -> str | None:
    """A worker's environment problem before any item runs (one line), or None (run on every
    worker by ``Client.run``, which passes the worker as ``dask_worker``)."""
    from benchbed.registry import get_registry

    with shipped_env(shipment):
        local, _ = task_context(ctx, shipment,
                                getattr(dask_worker, "local_directory", None))
        why = unwritable(local.cache_dir)
        if why is not None:
            return f"its artifact cache {Path(local.cache_dir)} is not writable ({why})"
        try:
            get_registry(ctx.plugin_modules)
        except BenchbedError as exc:
            return f"its plugins do not load: {exc.message}"
    return None


def run_group_remote(ctx: RunContext, items: list[WorkItem], shipment: Shipment
                     ) -> tuple[list[ItemResult], dict[str, bytes]]:
    """Dask entry point: a group's results, plus the bytes of the files they name unless this
    worker writes into the client's cache itself."""
    from benchbed.work import run_group_list

    with shipped_env(shipment):
        local, shared = task_context(ctx, shipment)
        results = run_group_list(local, items)
    if shared:
        return results, {}
    blobs: dict[str, bytes] = {}
    for result in results:
        for kind, key in refs_of(result.artifacts, [d.get("payload") for d in result.detections]):
            path = artifact_path(local.cache_dir, kind, key)
            rel = path.relative_to(local.cache_dir).as_posix()
            if rel not in blobs and path.is_file():
                blobs[rel] = path.read_bytes()
    return results, blobs


def receive(cache_dir: str, blobs: dict[str, bytes]) -> int:
    """Write the files a worker returned into the client's cache (atomically, once); how many."""
    root = Path(cache_dir)
    written = 0
    for rel, data in blobs.items():
        parts = PurePosixPath(rel).parts
        if len(parts) != 3 or parts[0] not in KINDS or any(p in ("", ".", "..") for p in parts):
            raise BenchbedError(f"a Dask worker returned the file {rel!r}, which is not a cache "
                                "path", fix="run workers of the same benchbed version")
        path = root.joinpath(*parts)
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written += 1
    return written
