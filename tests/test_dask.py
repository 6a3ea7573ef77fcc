"""Dask on a cluster that shares nothing with the client: two worker processes with their own
working directories and caches, settings and a local plugin file shipped with the run, every
artifact back in the client's cache, environment mistakes and a lost cluster as one error."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed", reason="dask.distributed not installed")

from benchbed.cache import artifact_path, store_references  # noqa: E402
from benchbed.errors import BenchbedError  # noqa: E402
from benchbed.registry import Registry  # noqa: E402
from benchbed.runner import DaskExecutor, InProcessExecutor, run_plan  # noqa: E402
from benchbed.store import open_store  # noqa: E402
from benchbed.store.models import Item, Run, Score  # noqa: E402
from benchbed.suites import load_plan  # noqa: E402

PLUGIN = """
import os, time
from benchbed import FuserSpec, hookimpl

class Slow:
    def fuse(self, inputs):
        time.sleep(float(os.environ.get("DASK_TEST_SLEEP", "0")))
        return 0.25 * inputs.images[0] + 0.75 * inputs.images[1]

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="dask_test_weighted", version="1", summary="3:1 blend", factory=Slow)]
"""

SUITE = """\
name: dasktest
seed: 4
datasets: [{name: folder, params: {path: pairs}}]
degradations:
  - {name: gaussian_noise, severities: [1, 3]}
methods: [average, {restore: auto, fuse: laplacian}, dask_test_weighted]
metrics: [EN, QABF]
"""


# a lambda travels by value (cloudpickle); os.environ.__setitem__ would set a copy's item
_setenv = lambda key, value: os.environ.__setitem__(key, value)  # noqa: E731


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[distributed.LocalCluster]:
    """Two worker processes, each in its own working directory with its own BENCHBED_CACHE, and
    no view of the client's settings beyond what the run ships."""
    root = tmp_path_factory.mktemp("workers")
    env = {k: "" for k in os.environ if k.startswith("BENCHBED_")}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, local_directory=str(root / "dask"),
                                  env=env) as c, distributed.Client(c) as client:
        caches = {}
        for i, worker in enumerate(sorted(client.scheduler_info()["workers"])):
            where = root / f"cwd{i}"
            where.mkdir()
            client.run(os.chdir, str(where), workers=[worker])
            caches[worker] = str(where / "cache")
            client.run(_setenv, "BENCHBED_CACHE", caches[worker], workers=[worker])
        c.test_caches = caches  # type: ignore[attr-defined]
        yield c


def _project(tmp_path: Path) -> Path:
    """A client working directory: a relative folder dataset, a suite, a local plugin file."""
    rng = np.random.default_rng(0)
    for mod in ("ir", "vi"):
        (tmp_path / "pairs" / mod).mkdir(parents=True)
    for i in range(2):
        base = rng.random((40, 48))
        for mod, shift in (("ir", 0.0), ("vi", 0.1)):
            img = np.clip(base * 0.8 + shift, 0, 1)
            Image.fromarray((img * 255).astype(np.uint8)).save(tmp_path / "pairs" / mod / f"{i}.png")
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "dask_test_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


def _scores(db: str) -> list[tuple]:
    with open_store(db)() as s:
        return sorted(s.execute(select(Item.item_key, Score.metric, Score.value)
                                .join(Score, Score.item_id == Item.id)).all())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(_project(tmp_path))
    monkeypatch.delenv("BENCHBED_DATA", raising=False)  # the folder is found relative to the CWD
    monkeypatch.setenv("BENCHBED_PLUGINS", str(tmp_path / "dask_test_plugin.py"))
    return tmp_path


def _plan(project: Path):  # type: ignore[no-untyped-def]
    reg = Registry([str(project / "dask_test_plugin.py")])
    return load_plan(project / "suite.yaml", reg), reg


def test_a_cluster_without_shared_files_gives_the_in_process_numbers_and_every_image(
        project: Path, cluster: distributed.LocalCluster) -> None:
    plan, reg = _plan(project)
    here, there = f"sqlite:///{project / 'local.db'}", f"sqlite:///{project / 'dask.db'}"
    run_plan(plan, reg, open_store(here), cache_dir=project / "cache-local", progress=False,
             echo=lambda _: None, executor=InProcessExecutor())
    summary = run_plan(plan, reg, open_store(there), cache_dir=project / "cache-client",
                       progress=False, echo=lambda _: None,
                       executor=DaskExecutor(2, scheduler=cluster.scheduler_address))
    assert (summary.total, summary.computed, summary.failed) == (12, 12, 0), summary.failures
    assert _scores(here) == _scores(there)
    refs = store_references(open_store(there))
    assert len(refs.users) > 12
    absent = [r for r in refs.users if not artifact_path(project / "cache-client", *r).is_file()]
    assert absent == []  # publish, sites and resumed runs find every file
    worker_pngs = [len(list(Path(c).rglob("*.png"))) for c in cluster.test_caches.values()]  # type: ignore[attr-defined]
    assert min(worker_pngs) > 0, worker_pngs  # both workers computed, each in its own cache
    assert not list((project / "cache-client").glob(".benchbed-probe-*"))

    from benchbed.leaderboard.publish import build_context, publish

    out = project / "site"
    context = build_context(open_store(there), "dasktest", reg, cache_dir=project / "cache-client")
    publish(context, out, [reg.get("publisher", "html")])
    page = (out / "dasktest" / "index.html").read_text()
    assert "were not in the artifact cache" not in page
    # the gallery of the one degradation: 2 clean sources, 2 inputs, 3 fused images
    assert len(list((out / "dasktest" / "images").iterdir())) == 7


def test_a_worker_with_an_unwritable_cache_stops_the_run_before_any_item(
        project: Path, cluster: distributed.LocalCluster) -> None:
    plan, reg = _plan(project)
    with distributed.Client(cluster.scheduler_address) as client:
        client.run(_setenv, "BENCHBED_CACHE", "/proc/benchbed-cannot-write")
        try:
            sessions = open_store(f"sqlite:///{project / 'bad.db'}")
            with pytest.raises(BenchbedError,
                               match=r"its artifact cache .* is not writable .*; no item was run"):
                run_plan(plan, reg, sessions, cache_dir=project / "cache-client", progress=False,
                         echo=lambda _: None,
                         executor=DaskExecutor(2, scheduler=cluster.scheduler_address))
        finally:
            for worker, cache in cluster.test_caches.items():  # type: ignore[attr-defined]
                client.run(_setenv, "BENCHBED_CACHE", cache, workers=[worker])
    with sessions() as s:
        assert s.scalars(select(Item)).all() == []


def test_an_unreachable_scheduler_is_one_error(project: Path) -> None:
    plan, reg = _plan(project)
    with pytest.raises(BenchbedError, match="cannot reach the Dask scheduler"):
        run_plan(plan, reg, open_store(f"sqlite:///{project / 'x.db'}"),
                 cache_dir=project / "c", progress=False, echo=lambda _: None,
                 executor=DaskExecutor(1, scheduler="tcp://127.0.0.1:9"))


def test_a_cluster_lost_mid_run_is_one_error_and_the_run_resumes(project: Path,
                                                                  monkeypatch) -> None:
    """The scheduler goes away after the first items: the run stops with one BenchbedError, its
    finished items stay stored (none as failed), and a rerun on a new cluster computes the rest."""
    monkeypatch.setenv("DASK_TEST_SLEEP", "0.5")
    plan, reg = _plan(project)
    db = f"sqlite:///{project / 'lost.db'}"
    sessions = open_store(db)
    doomed = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      dashboard_address=None)

    def kill_when_started() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sessions() as s:
                if s.scalars(select(Item.id)).first() is not None:
                    break
            time.sleep(0.1)
        doomed.close()

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    with pytest.raises(BenchbedError, match=r"stopped .*every finished item is stored"):
        run_plan(plan, reg, sessions, cache_dir=project / "cache-client", progress=False,
                 echo=lambda _: None, executor=DaskExecutor(1, scheduler=doomed.scheduler_address))
    killer.join()
    with sessions() as s:
        stored = s.scalars(select(Item)).all()
        assert 0 < len(stored) < 12 and {i.status for i in stored} == {"done"}
        assert s.scalars(select(Run.status)).all() == ["interrupted"]
    monkeypatch.setenv("DASK_TEST_SLEEP", "0")
    summary = run_plan(plan, reg, sessions, cache_dir=project / "cache-client", progress=False,
                       echo=lambda _: None, executor=DaskExecutor(1, processes=True))
    assert summary.skipped == len(stored) and summary.computed == 12 - len(stored)
