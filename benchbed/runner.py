"""Plan -> work items; resume from the store; executors; each finished item in one transaction."""

from __future__ import annotations

import itertools
import os
import platform
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

import benchbed
import benchbed.work as work
from benchbed.cache import unwritable
from benchbed.detection.worker import check_detection
from benchbed.errors import BenchbedError, DataError
from benchbed.imaging import RANGE_TOLERANCE, check_size, content_hash
from benchbed.leases import Leases, stored_since
from benchbed.memory import tune_allocator
from benchbed.paths import temporary_env
from benchbed.plan import Plan, PluginRef, PrecomputedMethod
from benchbed.registry import Registry
from benchbed.store.models import Detection, Item, PluginRecord, Run, RunItem, Score
from benchbed.types import Kind
from benchbed.work import (
    THREAD_ENV,
    ItemResult,
    RunContext,
    WorkItem,
    compute_group,
    derive_seed,
    item_key,
    item_label,
    pin_torch_threads,
)
from benchbed.work import run_group_list as _run_group_list
from benchbed.writer import Overwrite, ResultWriter

_PACKAGES = ("numpy", "scipy", "pillow", "torch", "pandas", "sqlalchemy", "pywavelets", "bm3d",
             "scikit-image", "ultralytics", "onnxruntime")


# --- executors ------------------------------------------------------------------------------------


class Executor(Protocol):
    """Runs groups of items and yields results as they finish."""

    def run(self, ctx: RunContext, groups: Iterable[list[WorkItem]]) -> Iterator[ItemResult]:
        """Yield one ItemResult per item, in completion order.

        ``groups`` is consumed lazily, at most a few groups ahead of the workers: taking a group
        from it is what claims its items (``benchbed.leases``).
        """


class InProcessExecutor:
    """Default: compute in this process, yielding each item as soon as it is done (torch pinned to
    one thread, as in the pool's workers; the caller's settings are restored afterwards)."""

    def run(self, ctx: RunContext, groups: Iterable[list[WorkItem]]) -> Iterator[ItemResult]:
        """Compute groups one by one."""
        with temporary_env(THREAD_ENV):  # a torch imported by a plugin during the run starts at 1
            before = pin_torch_threads()
            try:
                for group in groups:
                    pin_torch_threads()  # torch may have been imported by the previous group
                    yield from compute_group(ctx, group)
            finally:
                torch = sys.modules.get("torch")
                if torch is not None and before is not None:
                    torch.set_num_threads(before)


PARENT_POLL_S = 0.5
"""How often a pool worker checks that the run that started it is still there."""


def _exit_with_parent_signal() -> bool:
    """Linux: have the kernel SIGKILL this process when its parent dies; False where unavailable.

    The signal follows the parent *thread* that started the worker: the pool's workers are
    started by the thread that iterates the executor, which outlives the pool.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """Portable fallback: a daemon thread that ends this process once ``parent_pid`` is gone
    (the process is then re-parented, so ``os.getppid()`` changes)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)  # no cleanup: the run that wanted the results is gone

    threading.Thread(target=watch, name="benchbed-parent-watch", daemon=True).start()


def _init_worker(env: dict[str, str], parent_pid: int | None = None) -> None:
    """Pool worker set-up: exit with the run (kill -9 included), one thread per BLAS/torch.

    Torch is not imported here: the thread variables are set before any import (a plugin that
    imports torch later gets one thread from the start) and ``run_group_list`` pins torch only
    once it is in ``sys.modules``; a run of classical methods never pays torch's start-up.
    """
    tune_allocator()  # large arrays from the heap, not a fresh zero-filled mmap each (glibc only)
    os.environ.update(env)
    if parent_pid is not None:
        _exit_with_parent_signal()
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(1)
        _watch_parent(parent_pid)
    pin_torch_threads()  # a no-op unless something imported torch already


class ProcessPoolExecutor:
    """A process pool for CPU-bound work (spawned workers; same numbers as in-process).

    Workers end with the run: when it finishes, fails or is interrupted, queued groups are
    cancelled, and when its process is killed (kill -9 included) every worker exits (see
    ``_init_worker``); the multiprocessing resource tracker then sees its last writer go and
    exits too.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, ctx: RunContext, groups: Iterable[list[WorkItem]]) -> Iterator[ItemResult]:
        """Keep every worker busy with one group queued behind it; yield results as groups complete."""
        import concurrent.futures as cf
        import multiprocessing as mp

        env = {k: v for k, v in os.environ.items() if k.startswith("BENCHBED_")}
        env.update({**THREAD_ENV, "BENCHBED_METRIC_THREADS": "1"})
        pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=mp.get_context("spawn"),
            initializer=_init_worker, initargs=(env, os.getpid()),
        )
        source = iter(groups)
        in_flight: set[cf.Future] = set()

        def fill() -> None:
            while len(in_flight) < 2 * self.workers:
                group = next(source, None)
                if group is None:
                    return
                in_flight.add(pool.submit(_run_group_list, ctx, group))

        try:
            fill()
            while in_flight:
                done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                in_flight.difference_update(done)
                fill()  # before the results are stored, so no worker idles meanwhile
                for fut in done:
                    yield from fut.result()
        finally:
            # an interrupted or failed run does not wait for the groups still queued
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Groups as tasks on a Dask cluster (``scheduler`` address), or a local one of ``workers``.

    The cluster only computes; this process still writes every item, so the store keeps one
    writer and the resume/transaction guarantees hold. Workers need benchbed installed, nothing
    else in common with this machine: settings and local plugin files travel with the run and
    the files a worker computes come back into this cache (``benchbed.remote``). Every worker is
    checked before the first task; a cluster lost mid-run ends the run with one line, its
    finished items stored.
    """

    def __init__(self, workers: int, scheduler: str | None = None, processes: bool = True) -> None:
        self.workers = max(1, workers)
        self.scheduler = scheduler
        self.processes = processes

    def _client(self) -> tuple[Any, Any]:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise BenchbedError("the dask executor needs dask.distributed",
                                fix="pip install 'benchbed[dask]'") from exc
        if not self.scheduler:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                   processes=self.processes, dashboard_address=None)
            return Client(cluster), cluster
        try:
            return Client(self.scheduler, timeout=30), None
        except (OSError, TimeoutError) as exc:
            raise BenchbedError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})",
                                fix="start it (`dask scheduler`) or pass its address with "
                                    "--scheduler tcp://HOST:8786") from None

    @staticmethod
    def _ship_plugins(client: Any, ctx: RunContext) -> RunContext:
        """Local plugin files are uploaded and named by module; the env's list joins --plugin."""
        names = list(ctx.plugin_modules) + [m.strip() for m in
                                            os.environ.get("BENCHBED_PLUGINS", "").split(",")
                                            if m.strip()]
        shipped = []
        for name in dict.fromkeys(names):
            if name.endswith(".py") and Path(name).is_file():
                client.upload_file(str(Path(name).resolve()))
                name = Path(name).stem
            shipped.append(name)
        return replace(ctx, plugin_modules=tuple(shipped))

    def run(self, ctx: RunContext, groups: Iterable[list[WorkItem]]) -> Iterator[ItemResult]:
        """Keep each worker thread busy with one group queued behind it; yield results as they
        complete."""
        from benchbed.remote import check_worker, client_shipment, receive, remove_probe, run_group_remote

        client, cluster = self._client()
        shipment = client_shipment(ctx.cache_dir)
        try:
            try:
                from distributed import as_completed

                remote = self._ship_plugins(client, ctx)
                problems = {w: p for w, p in client.run(check_worker, remote, shipment).items() if p}
                if problems:
                    worker, problem = sorted(problems.items())[0]
                    more = f" (and {len(problems) - 1} more workers)" if len(problems) > 1 else ""
                    raise BenchbedError(f"Dask worker {worker}: {problem}{more}; no item was run",
                                        fix="set BENCHBED_CACHE on the workers to a writable "
                                            "folder, or install the plugins there")
                slots = 2 * max(1, sum(w.get("nthreads", 1) for w in
                                       client.scheduler_info().get("workers", {}).values()))
                source = iter(groups)
                pending = as_completed([client.submit(run_group_remote, remote, g, shipment,
                                                      pure=False)
                                        for g in itertools.islice(source, slots)])
                for fut in pending:
                    group = next(source, None)
                    if group is not None:
                        pending.add(client.submit(run_group_remote, remote, group, shipment,
                                                  pure=False))
                    results, blobs = fut.result()
                    receive(ctx.cache_dir, blobs)
                    yield from results
            except (BenchbedError, KeyboardInterrupt, GeneratorExit):
                raise
            except Exception as exc:  # item errors are results: what arrives here is the cluster's
                where = self.scheduler or "the local cluster"
                raise BenchbedError(
                    f"the Dask run on {where} stopped ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200] or 'no detail'}); every finished item "
                    "is stored",
                    fix="restart the scheduler/workers and rerun the same command: it resumes "
                        "where it stopped") from None
        finally:
            remove_probe(ctx.cache_dir, shipment)
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(workers: int, executor: str = "local", scheduler: str | None = None) -> Executor:
    """`local`: in-process for 1 worker, a process pool otherwise; `dask`: a Dask cluster."""
    if executor == "dask":
        return DaskExecutor(workers, scheduler)
    if executor != "local":
        raise BenchbedError(f"unknown executor {executor!r}", fix="use local or dask")
    return InProcessExecutor() if workers <= 1 else ProcessPoolExecutor(workers)


# --- planning ---------------------------------------------------------------------------------------


def enumerate_items(plan: Plan, registry: Registry, limit: int | None = None) -> list[WorkItem]:
    """Every work item of the plan, in a stable order (datasets are read here, not in workers)."""
    items = []
    for ds in plan.datasets:
        dataset = registry.get("dataset", ds.name).build(**ds.params)
        ids = dataset.pair_ids(ds.split)
        split = "all pairs" if ds.split is None else f"split {ds.split!r}"
        if not ids:
            raise DataError(f"dataset {ds.name!r} ({split}) has no pairs",
                            fix="check that its two modality folders hold images with the same "
                                "file names (`benchbed list dataset` shows what is found)")
        if hasattr(dataset, "describe_sizes"):  # headers only: refuse huge pairs before any item
            try:
                _, _, (w, h) = dataset.describe_sizes(ds.split)
            except DataError:
                pass  # an unreadable file fails its own items, not the run
            else:
                check_size(w, h, f"the largest image of dataset {ds.name!r} ({split})")
        for cap in (ds.limit, limit):
            if cap:
                ids = ids[:cap]
        for method in plan.methods:  # fused images made elsewhere: every pair's image is there
            if isinstance(method, PrecomputedMethod):
                lacking = [p for p in ids if method.image_path(p) is None]
                if lacking:
                    raise DataError(
                        f"method {method.label!r}: {len(lacking)} of {len(ids)} pairs of dataset "
                        f"{ds.name!r} have no fused image in {method.folder} (e.g. "
                        f"{', '.join(lacking[:3])})",
                        fix="add them (named by pair id), or restrict the dataset's split")
        for pair_id in ids:
            for deg in plan.degradations:
                for sev in deg.severities:
                    for method in plan.all_methods:
                        if not method.runs_under(deg.label):
                            continue
                        key = item_key(plan.seed, ds, pair_id, deg, sev, method)
                        items.append(WorkItem(
                            key=key, dataset=ds, pair_id=pair_id, degradation=deg,
                            severity=sev, method=method, seed=derive_seed(plan.seed, key),
                            # single-modality rows exist for detection only: no fusion metrics
                            metrics=() if method.source else plan.metrics,
                            detection=plan.detection,
                        ))
    return items


# --- provenance ---------------------------------------------------------------------------------------


def git_commit() -> str | None:
    """The commit of the benchbed checkout itself (an editable install), else None: a wheel
    installed inside some other repository must not record that repository's commit."""
    here = Path(benchbed.__file__).resolve().parent.parent
    try:
        top = subprocess.run(["git", "-C", str(here), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != here:
            return None
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    """Versions of the numeric stack and Python."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def device_name(device: str) -> str:
    """`cpu` or the CUDA card's name."""
    if device.startswith("cuda"):
        try:
            import torch

            return f"{device} ({torch.cuda.get_device_name(device)})"
        except Exception:
            return device
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    """Counts a run reports."""

    run_id: int
    total: int = 0
    computed: int = 0
    skipped: int = 0
    failed: int = 0
    by_others: int = 0
    """Items another run of the suite computed while this one ran (it held their leases)."""
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        c = self.counters
        out = [
            f"items: {self.total} planned, {self.computed} computed, {self.skipped} skipped "
            f"(already in the store), "
            + (f"{self.by_others} computed by other runs, " if self.by_others else "")
            + f"{self.failed} failed",
            f"restorations: {c['restorations_computed']} computed, "
            f"{c['restorations_reused']} reused; fusions: {c['fusions_computed']} computed, "
            f"{c['fusions_reused']} reused"
            + (f", {c['fusions_read']} read from fused folders" if c["fusions_read"] else ""),
        ]
        clipped = {k.split(": ", 1)[1]: v for k, v in c.items() if k.startswith("clipped: ") and v}
        if clipped:
            out.append(f"clipped: {', '.join(f'{w} ({n} outputs)' for w, n in sorted(clipped.items()))}"
                       f" left [0, 1] by at most {RANGE_TOLERANCE} and were clipped to it")
        for label, err in self.failures[:10]:
            out.append(f"  failed {label}: {err}")
        if len(self.failures) > 10:
            out.append(f"  ... and {len(self.failures) - 10} more failures (see the store)")
        if self.failed:
            out.append(f"{self.failed} item(s) failed and are stored as failed: a plain rerun "
                       "keeps them; fix the cause ([transient] ones may need none), then rerun "
                       "with `--overwrite failed` to recompute them")
        return out


def _existing(session: Session, suite: str, keys: list[str]
              ) -> dict[str, tuple[int, str, set, set]]:
    """item_key -> (id, status, stored (metric, profile, version), stored detection config keys)."""
    out: dict[str, tuple[int, str, set, set]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        rows = session.execute(
            select(Item.id, Item.item_key, Item.status).where(Item.suite == suite,
                                                              Item.item_key.in_(chunk))
        ).all()
        ids = {r.id: r for r in rows}
        scored: dict[int, set] = defaultdict(set)
        if ids:
            for s in session.execute(
                select(Score.item_id, Score.metric, Score.profile, Score.version)
                .where(Score.item_id.in_(list(ids)))
            ).all():
                scored[s.item_id].add((s.metric, s.profile, s.version))
        detected: dict[int, set] = defaultdict(set)
        if ids:
            for d in session.execute(
                select(Detection.item_id, Detection.payload)
                .where(Detection.item_id.in_(list(ids)), Detection.class_name == "*")
            ).all():
                detected[d.item_id].add((d.payload or {}).get("config"))
        for r in rows:
            out[r.item_key] = (r.id, r.status, scored[r.id], detected[r.id])
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_stale_runs(sessions: sessionmaker[Session]) -> list[int]:
    """Mark `running` rows of this host whose process is gone as `interrupted`; their ids.

    A run killed with SIGKILL (or by a power cut) cannot close its own row. Rows of other hosts,
    and of this host without a recorded pid (older stores), are left alone: their process cannot
    be checked from here.
    """
    host = socket.gethostname()
    with sessions.begin() as s:
        stale = [r for r in s.execute(select(Run).where(Run.status == "running",
                                                        Run.host == host)).scalars()
                 if r.pid is not None and r.pid != os.getpid() and not _pid_alive(r.pid)]
        for r in stale:
            r.status = "interrupted"
        return [r.id for r in stale]


def preflight(plan: Plan, registry: Registry, *, cache_dir: str | Path, device: str = "cpu") -> None:
    """Environment checks before any item runs: a failure here is one error, never stored items.

    The requested device exists; every optional package a plugin of the plan ``requires`` is
    installed; every weights file a fuser or restorer declares is present with its sha256 (the
    detector's are checked by ``check_detection``); the artifact cache is writable.
    """
    from benchbed.errors import WeightsError
    from benchbed.weights import resolve_weights

    if device.startswith("cuda"):
        try:
            import torch

            ok = bool(torch.cuda.is_available())
        except ImportError:
            ok = False
        if not ok:
            raise BenchbedError(f"--device {device} but no CUDA device is available here",
                                fix="run with --device cpu (the numbers are the same)")
    for kind, ref in _plugins_of(plan):
        spec = registry.get(kind, ref.name)
        spec.check_installed()  # an optional package a plugin needs (bm3d, h5py, ...) is here
        if kind not in ("fuser", "restorer"):
            continue
        for weights in spec.weights:
            try:
                resolve_weights(weights)
            except WeightsError as exc:
                raise WeightsError(f"{kind} {spec.name!r}: {exc.message}", fix=exc.fix) from exc
    why = unwritable(cache_dir)
    if why is not None:
        raise BenchbedError(f"the artifact cache {Path(cache_dir)} is not writable ({why})",
                            fix="set BENCHBED_CACHE or --cache to a writable folder")


class _Progress:
    """The run's progress: a tqdm bar on a terminal (showing the item and stage in flight when
    items run in this process), else one log line per minute (no carriage-return spam)."""

    LOG_EVERY_S = 60.0

    def __init__(self, total: int, *, enabled: bool, echo: Callable[[str], None]) -> None:
        self.total, self.enabled, self.echo = total, enabled, echo
        self.n = self.failed = 0
        self.start = self.last_log = time.monotonic()
        self.bar = tqdm(total=total, unit="item", dynamic_ncols=True, file=sys.stderr) \
            if enabled and sys.stderr.isatty() else None

    @contextmanager
    def in_flight(self, executor: Any) -> Iterator[None]:
        """While the run lasts, in-process stages update the bar's label."""
        if self.bar is None or not isinstance(executor, InProcessExecutor):
            yield
            return
        bar = self.bar
        work.STAGE_HOOK = lambda text: bar.set_postfix_str(text[-70:], refresh=True)
        try:
            yield
        finally:
            work.STAGE_HOOK = None

    def done(self, label: str, status: str) -> None:
        """One item finished."""
        self.n += 1
        self.failed += status != "done"
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"last: {label}"[-70:], refresh=False)
            return
        now = time.monotonic()
        if self.enabled and (now - self.last_log >= self.LOG_EVERY_S or self.n == self.total):
            self.last_log = now
            rate = (now - self.start) / self.n
            self.echo(f"progress: {self.n}/{self.total} items ({100 * self.n / self.total:.0f}%), "
                      f"{self.failed} failed, {now - self.start:.0f} s elapsed, about "
                      f"{rate * (self.total - self.n):.0f} s left; last: {label}")

    def close(self) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()


class _Dispatch:
    """Which pending groups this run computes: each group's items are claimed right before the
    group goes to a worker; items another live run holds are deferred and waited for at the end
    (linked once their owner stores them, computed here if their owner dies)."""

    def __init__(self, sessions: sessionmaker[Session], suite: str, run_id: int, since: datetime,
                 leases: Leases, summary: RunSummary, progress: _Progress) -> None:
        self.sessions, self.suite, self.run_id, self.since = sessions, suite, run_id, since
        self.leases, self.summary, self.progress = leases, summary, progress
        self.deferred: list[WorkItem] = []
        self.poll_s = min(2.0, leases.ttl / 4)

    def _link_stored(self, items: list[WorkItem]) -> list[WorkItem]:
        """Link and count the items another run stored since this one began; the others."""
        if not items:
            return items
        with self.sessions.begin() as s:
            stored = stored_since(s, self.suite, [i.key for i in items], self.since)
            for item_id, _ in stored.values():
                if s.get(RunItem, (self.run_id, item_id)) is None:
                    s.add(RunItem(run_id=self.run_id, item_id=item_id))
            if stored:
                self.leases.release_in(s, stored)
        for item in items:
            if item.key in stored:
                status = stored[item.key][1]
                self.summary.by_others += 1
                if status == "failed":
                    self.summary.failed += 1
                self.progress.done(f"{item_label(item)} (by another run)", status)
        return [i for i in items if i.key not in stored]

    def claimed(self, groups: list[list[WorkItem]]) -> Iterator[list[WorkItem]]:
        """Yield the part of each group this run now holds; the rest waits in ``deferred``."""
        self.deferred = []
        for group in groups:
            held = self.leases.claim([i.key for i in group])
            # checked after claiming: an owner drops its lease in the transaction that stores the
            # item, so a lease we got is either fresh or its item is already visible here
            mine = self._link_stored([i for i in group if i.key in held])
            self.deferred += [i for i in group if i.key not in held]
            if mine:
                yield mine

    def wait_for_others(self, echo: Callable[[str], None]) -> list[list[WorkItem]]:
        """Wait until each deferred item is stored by its owner or free to take; groups to compute."""
        waiting, told = self.deferred, False
        while waiting:
            waiting = self._link_stored(waiting)
            free = {i.key for i in waiting} - self.leases.busy([i.key for i in waiting])
            if free:
                groups: dict[tuple, list[WorkItem]] = defaultdict(list)
                for item in waiting:
                    groups[item.group].append(item)
                return list(groups.values())
            if waiting and not told:
                echo(f"waiting for {len(waiting)} item(s) that another run is computing")
                told = True
            if waiting:
                time.sleep(self.poll_s)
                mark_stale_runs(self.sessions)  # an owner killed on this host frees its leases
        return []


def run_plan(
    plan: Plan,
    registry: Registry,
    sessions: sessionmaker[Session],
    *,
    cache_dir: str | Path,
    limit: int | None = None,
    workers: int = 1,
    overwrite: Overwrite = "never",
    device: str = "cpu",
    plugin_modules: tuple[str, ...] = (),
    progress: bool = True,
    echo: Callable[[str], None] = print,
    executor: Executor | None = None,
    timeout: float | None = None,
    lease_s: float | None = None,
) -> RunSummary:
    """Run every item of ``plan`` that the store does not already hold; resume by default.

    ``timeout``: seconds one item may take before it is stored as failed and the run goes on.
    Concurrent runs of the plan on one store split its items (see ``benchbed.leases``;
    ``lease_s``: how long a claim lasts unrenewed, default ``BENCHBED_LEASE_SECONDS`` or 300).
    """
    if timeout is not None and isinstance(executor, DaskExecutor):
        raise BenchbedError("--timeout works with the local executor only (Dask runs items in "
                            "threads, which cannot be interrupted)",
                            fix="drop --timeout, or use --executor local")
    preflight(plan, registry, cache_dir=cache_dir, device=device)
    items = enumerate_items(plan, registry, limit)
    if plan.detection:
        check_detection(plan, registry, items, plugin_modules)
    stale = mark_stale_runs(sessions)
    if stale:
        echo(f"note: marked run(s) {', '.join(map(str, stale))} interrupted (their process on this "
             "host is gone); their finished items are kept")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    from benchbed.leaderboard.query import plan_versions

    older = {h for _, h in plan_versions(sessions, plan.name)}
    if older - {plan.hash}:
        echo(f"note: suite {plan.name!r} has results under another plan "
             f"({', '.join(sorted(h[:12] for h in older - {plan.hash}))}); this run starts plan "
             f"version {plan.hash[:12]} and its board; the older stay selectable with "
             "`benchbed leaderboard show --plan HASH`")
    with sessions.begin() as s:
        run = Run(suite=plan.name, plan_hash=plan.hash, plan=plan.as_dict(),
                  benchbed_version=benchbed.__version__, git_commit=git_commit(),
                  packages=package_versions(), device=device_name(device),
                  host=socket.gethostname(), pid=os.getpid(), workers=workers, started_at=now,
                  status="running",
                  n_computed=0, n_skipped=0, n_failed=0)
        s.add(run)
        s.flush()
        run_id = run.id
        for kind, ref in _plugins_of(plan):
            spec = registry.get(kind, ref.name)
            s.add(PluginRecord(run_id=run_id, kind=kind, name=spec.name, version=spec.version,
                               provider=spec.provider, params=dict(ref.params),
                               params_hash=content_hash(repr(sorted(ref.params.items()))),
                               weights_hash=",".join(w.sha256 for w in spec.weights) or None))
    summary = RunSummary(run_id=run_id, total=len(items))
    with sessions() as s:
        existing = _existing(s, plan.name, [i.key for i in items])
    todo: list[WorkItem] = []
    skipped_ids: list[int] = []
    for item in items:
        found = existing.get(item.key)
        if found is None or overwrite == "always" or (overwrite == "failed" and found[1] == "failed"):
            todo.append(item)
            continue
        have = found[2]
        missing = tuple(m for m in item.metrics if (m.name, m.profile, m.version) not in have)
        need_det = item.detection is not None and item.detection.key not in found[3]
        if found[1] == "done" and (missing or need_det):
            todo.append(replace(item, metrics=missing,
                                detection=item.detection if need_det else None))
            continue
        skipped_ids.append(found[0])
        if found[1] == "failed":
            summary.failed += 1
    summary.skipped = len(skipped_ids)
    with sessions.begin() as s:
        s.add_all([RunItem(run_id=run_id, item_id=i) for i in skipped_ids])
    groups: dict[tuple, list[WorkItem]] = defaultdict(list)
    for item in todo:
        groups[item.group].append(item)
    ctx = RunContext(suite_seed=plan.seed, cache_dir=str(Path(cache_dir).resolve()),
                     device=device, references=plan.references,
                     plugin_modules=tuple(plugin_modules), timeout=timeout)
    by_key = {i.key: i for i in todo}
    echo(f"run {run_id}: suite {plan.name} (plan {plan.hash[:12]}), {len(items)} items, "
         f"{len(todo)} to compute, {len(skipped_ids)} already in the store")
    progress_bar = _Progress(len(todo), enabled=progress and bool(todo), echo=echo)
    completed = False
    runner = executor or make_executor(workers)
    leases = Leases(sessions, plan.name, run_id, lease_s)
    dispatch = _Dispatch(sessions, plan.name, run_id, now, leases, summary, progress_bar)
    pending = list(groups.values())
    writer = ResultWriter(sessions, plan.name, run_id, overwrite, summary, leases)
    try:
        with leases.kept(), progress_bar.in_flight(runner):
            while pending:
                try:
                    for result in runner.run(ctx, dispatch.claimed(pending)):
                        item = by_key[result.key]
                        writer.add(item, result)
                        for k, v in result.counters.items():
                            summary.counters[k] += v
                        progress_bar.done(item_label(item), result.status)
                finally:  # an interrupted run stores every item that finished
                    writer.flush()
                pending = dispatch.wait_for_others(echo)
        completed = True
    finally:
        progress_bar.close()
        with sessions.begin() as s:
            run_row = s.get(Run, run_id)
            run_row.finished_at = datetime.now(timezone.utc).replace(tzinfo=None)
            run_row.status = "finished" if completed else "interrupted"
            run_row.n_computed = summary.computed
            run_row.n_skipped = summary.skipped + summary.by_others
            run_row.n_failed = summary.failed
    # the board's means for `leaderboard show` (used only while the board is unchanged)
    from benchbed.leaderboard.summary import refresh_summary

    refresh_summary(sessions, plan.name)
    return summary


def _plugins_of(plan: Plan) -> Iterator[tuple[Kind, PluginRef]]:
    """Every plugin the plan uses, once per (kind, name, parameters)."""
    seen = set()
    refs: list[tuple[Kind, PluginRef]] = []
    refs += [("dataset", d) for d in plan.datasets]
    refs += [("degradation", PluginRef(d.name, d.version, d.params)) for d in plan.degradations]
    refs += [("metric", m) for m in plan.metrics]
    for m in plan.all_methods:
        if m.fuse:
            refs.append(("fuser", m.fuse))
        refs += [("restorer", r) for r in (m.restore or {}).values()]
    if plan.detection:
        refs.append(("detector", plan.detection.detector))
    for kind, ref in refs:
        key = (kind, ref.name, repr(sorted(ref.params.items())))
        if key not in seen:
            seen.add(key)
            yield kind, ref


