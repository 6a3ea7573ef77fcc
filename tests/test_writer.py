"""ResultWriter: finished items stored in batches, with the per-item path for stored items and
collisions, leases released in the storing transaction, counts as the run reports them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from benchbed import writer as writer_module
from benchbed.leases import Leases
from benchbed.registry import Registry
from benchbed.runner import RunSummary, enumerate_items
from benchbed.store import open_store
from benchbed.store.models import Item, Lease, Run, RunItem, Score
from benchbed.suites import load_plan
from benchbed.work import ItemResult, WorkItem
from benchbed.writer import ResultWriter

SUITE = """\
name: wtest
seed: 3
datasets: [{name: demo, split: test, limit: 2}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [1]}
methods: [average, laplacian, maxabs]
metrics: [EN, SD]
"""


@pytest.fixture
def env(tmp_path: Path) -> dict:
    (tmp_path / "wtest.yaml").write_text(SUITE)
    plan = load_plan(tmp_path / "wtest.yaml", Registry())
    items = enumerate_items(plan, Registry())
    sessions = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    now = datetime(2025, 1, 1)
    with sessions.begin() as s:
        run = Run(suite=plan.name, plan_hash=plan.hash, plan=plan.as_dict(), benchbed_version="x",
                  git_commit=None, packages={}, device="cpu", host="test", pid=None, workers=1,
                  started_at=now, finished_at=None, status="running", n_computed=0, n_skipped=0,
                  n_failed=0)
        s.add(run)
        s.flush()
        run_id = run.id
    return {"plan": plan, "items": items, "sessions": sessions, "run_id": run_id}


def _result(item: WorkItem, value: float = 1.0, status: str = "done") -> ItemResult:
    scores = [] if status != "done" else [
        {"metric": m.name, "profile": m.profile, "version": m.version, "value": value}
        for m in item.metrics]
    return ItemResult(key=item.key, status=status, seconds=0.25, scores=scores,
                      error=None if status == "done" else "boom")


def _writer(env: dict, overwrite: str = "never", leases: Leases | None = None) -> ResultWriter:
    return ResultWriter(env["sessions"], "wtest", env["run_id"], overwrite,  # type: ignore[arg-type]
                        RunSummary(run_id=env["run_id"]), leases)


def _count(env: dict, model: type) -> int:
    with env["sessions"]() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_a_batch_is_stored_in_one_flush(env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FLUSH_SECONDS", 1e9)
    items = env["items"]
    assert len(items) == 2 * 2 * 3
    w = _writer(env)
    for item in items:
        w.add(item, _result(item))
    assert _count(env, Item) == 0 and len(w.pending) == len(items)  # queued, not yet written
    w.flush()
    assert w.pending == []
    assert _count(env, Item) == len(items)
    assert _count(env, Score) == 2 * len(items)  # EN and SD of every item
    assert _count(env, RunItem) == len(items)
    assert (w.summary.computed, w.summary.failed, w.summary.by_others) == (len(items), 0, 0)
    with env["sessions"]() as s:
        stored = {r.item_key: r for r in s.scalars(select(Item))}
        assert set(stored) == {i.key for i in items}
        one = items[4]
        row = stored[one.key]
        assert (row.pair_id, row.method, row.seed, row.seconds) == (
            one.pair_id, one.method.label, one.seed, 0.25)


def test_size_and_age_limits_trigger_the_write(env: dict, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    monkeypatch.setattr(writer_module, "FLUSH_SECONDS", 1e9)
    monkeypatch.setattr(writer_module, "FLUSH_ITEMS", 5)
    w = _writer(env)
    for item in env["items"][:7]:
        w.add(item, _result(item))
    assert _count(env, Item) == 5 and len(w.pending) == 2
    monkeypatch.setattr(writer_module, "FLUSH_SECONDS", 0.0)  # every add writes what is queued
    w.add(env["items"][7], _result(env["items"][7]))
    assert _count(env, Item) == 8 and w.pending == []


def test_stored_items_go_through_the_per_item_path(env: dict) -> None:
    items = env["items"]
    first = _writer(env)
    for item in items[:4]:
        first.add(item, _result(item, 1.0))
    first.flush()
    again = _writer(env, overwrite="always")
    for item in items:  # four stored (replaced), eight new (bulk)
        again.add(item, _result(item, 2.0))
    again.flush()
    assert again.summary.computed == len(items)
    with env["sessions"]() as s:
        values = s.execute(select(Score.value)).scalars().all()
    assert len(values) == 2 * len(items) and set(values) == {2.0}  # old scores replaced, none doubled


def test_a_failure_never_replaces_a_stored_result(env: dict) -> None:
    item = env["items"][0]
    w = _writer(env, overwrite="failed")
    w.add(item, _result(item, 1.5))
    w.flush()
    w.add(item, _result(item, status="failed"))
    w.flush()
    assert w.summary.failed == 1 and w.summary.failures[0][1] == "boom"
    with env["sessions"]() as s:
        row = s.scalars(select(Item)).one()
        assert row.status == "done"
        assert sorted(s.scalars(select(Score.value))) == [1.5, 1.5]


def test_a_colliding_batch_is_rolled_back_and_written_item_by_item(
        env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run stored an item between our check and our bulk insert: the batch's unique
    violation rolls it back, and the items are stored one by one (each exactly once)."""
    items = env["items"]
    other = _writer(env)
    other.add(items[2], _result(items[2], 9.0))
    other.flush()
    real_chunks = writer_module.chunks
    calls = {"n": 0}

    def blind_first_check(keys):  # the batch's "already stored?" look-up misses the item
        calls["n"] += 1
        return iter(()) if calls["n"] == 1 else real_chunks(keys)

    monkeypatch.setattr(writer_module, "chunks", blind_first_check)
    alone = []
    real_alone = ResultWriter._store_alone
    monkeypatch.setattr(ResultWriter, "_store_alone",
                        lambda self, item, result: (alone.append(item.key),
                                                    real_alone(self, item, result)))
    w = _writer(env)
    for item in items:
        w.add(item, _result(item, 1.0))
    w.flush()
    assert sorted(alone) == sorted(i.key for i in items)  # the fallback wrote every item
    assert _count(env, Item) == len(items)
    assert _count(env, Score) == 2 * len(items)
    assert w.summary.computed == len(items) and w.summary.failed == 0
    with env["sessions"]() as s:
        assert s.scalar(select(func.count()).select_from(RunItem)
                        .where(RunItem.run_id == env["run_id"])) == len(items)


def test_leases_are_released_with_the_stored_items(env: dict,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FLUSH_SECONDS", 1e9)
    items = env["items"]
    leases = Leases(env["sessions"], "wtest", env["run_id"])
    assert leases.claim([i.key for i in items]) == {i.key for i in items}
    w = _writer(env, leases=leases)
    for item in items[:5]:
        w.add(item, _result(item))
    assert _count(env, Lease) == len(items)
    w.flush()
    with env["sessions"]() as s:
        left = set(s.scalars(select(Lease.item_key)))
    assert left == {i.key for i in items[5:]}  # exactly the stored items' leases are gone
