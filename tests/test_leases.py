"""Concurrent runs of one suite on one store split the work: item leases (benchbed.leases)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from benchbed.leases import Leases, utc_now
from benchbed.store.engine import open_store
from benchbed.store.models import Item, Lease, Run, RunItem

# Fusers for the concurrent runs. `rendezvous` holds each process at its first fusion until the
# other run has reached its own, so both runs have claimed work before either can finish (the
# split cannot depend on start-up timing); `hang` never returns while LEASE_HANG is set.
PLUGIN = """
import os, time
from pathlib import Path
from benchbed import FuserSpec, hookimpl

class Rendezvous:
    first = True

    def fuse(self, inputs):
        probe = Path(os.environ["LEASE_PROBE_DIR"])
        (probe / f"fuse-{os.getpid()}-{time.monotonic_ns()}").touch()
        if Rendezvous.first:
            Rendezvous.first = False
            (probe / f"started-{os.getpid()}").touch()
            deadline = time.monotonic() + 120
            while len(list(probe.glob("started-*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(0.3)
        return (inputs.images[0] + inputs.images[1]) / 2

class Hang:
    def fuse(self, inputs):
        if os.environ.get("LEASE_HANG"):
            Path(os.environ["LEASE_PROBE_DIR"], "hanging").touch()
            time.sleep(300)
        return (inputs.images[0] + inputs.images[1]) / 2

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="rendezvous", version="1", summary="waits for a second run", factory=Rendezvous),
            FuserSpec(name="hang", version="1", summary="hangs on demand", factory=Hang)]
"""


def _suite(path: Path, method: str) -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: lease_{method}
        seed: 3
        datasets: [{{name: demo, split: test, limit: 4}}]
        degradations:
          - {{name: gaussian_noise, severities: [1, 2, 3]}}
        methods: [{method}]
        metrics: [EN]
        """))
    return path


def _env(tmp_path: Path, db: str | None = None) -> dict[str, str]:
    probe = tmp_path / "probe"
    probe.mkdir(exist_ok=True)
    plugin = tmp_path / "lease_plugins.py"
    plugin.write_text(PLUGIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHBED_")}
    env.update(BENCHBED_PLUGINS=str(plugin), LEASE_PROBE_DIR=str(probe),
               BENCHBED_CACHE=str(tmp_path / "cache"),
               BENCHBED_DB=db or f"sqlite:///{tmp_path / 'store.db'}")
    return env


def _run(env: dict[str, str], suite: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchbed.cli", "run", str(suite), "--no-progress",
                             "--no-show", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _counts(output: str) -> dict[str, int]:
    m = re.search(r"items: (\d+) planned, (\d+) computed, (\d+) skipped \(already in the store\), "
                  r"(?:(\d+) computed by other runs, )?(\d+) failed", output)
    assert m, output
    planned, computed, skipped, others, failed = (int(g or 0) for g in m.groups())
    return {"planned": planned, "computed": computed, "skipped": skipped, "others": others,
            "failed": failed}


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "workers"), [("sqlite", ["1", "1"]), ("sqlite", ["2", "1"]),
                                                  ("postgresql", ["2", "1"])],
                         ids=["sqlite-inprocess", "sqlite-pool+inprocess", "postgresql-pool+inprocess"])
def test_two_concurrent_runs_compute_each_item_once(tmp_path: Path, backend: str, workers: list[str],
                                                    request: pytest.FixtureRequest) -> None:
    """Two runs started together split the 12 items: each is computed by exactly one of them,
    each run's board links all 12, and each summary counts what the other computed."""
    db = request.getfixturevalue("cluster").new_database() if backend == "postgresql" else None
    env = _env(tmp_path, db)
    suite = _suite(tmp_path / "s.yaml", "rendezvous")
    procs = [_run(env, suite, "--workers", w) for w in workers]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    counts = [_counts(o) for o in outs]
    fusions = len(list((tmp_path / "probe").glob("fuse-*")))
    assert fusions == 12, (fusions, outs)  # no item was fused twice
    assert counts[0]["computed"] + counts[1]["computed"] == 12, counts
    assert min(c["computed"] for c in counts) >= 1, counts  # both took part (the rendezvous)
    for mine, other in ((counts[0], counts[1]), (counts[1], counts[0])):
        assert mine["computed"] + mine["skipped"] + mine["others"] == 12, counts
        assert mine["others"] + mine["skipped"] == other["computed"], counts
    sessions = open_store(env["BENCHBED_DB"])
    with sessions() as s:
        per_run = dict(s.execute(select(Item.run_id, func.count()).group_by(Item.run_id)).all())
        runs = list(s.scalars(select(Run.id).order_by(Run.id)))
        linked = {r: s.scalar(select(func.count()).select_from(RunItem).where(RunItem.run_id == r))
                  for r in runs}
        leases_left = s.scalar(select(func.count()).select_from(Lease))
    assert sorted(per_run.values()) == sorted(c["computed"] for c in counts), (per_run, counts)
    assert list(linked.values()) == [12, 12], linked
    assert leases_left == 0


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_a_killed_runs_claims_are_taken_over(tmp_path: Path) -> None:
    """kill -9 leaves the run's lease behind; the next run on this host sees its process is gone
    and computes the item instead of waiting for the lease to expire."""
    env = _env(tmp_path)
    suite = _suite(tmp_path / "s.yaml", "hang")
    victim = _run({**env, "LEASE_HANG": "1"}, suite)
    deadline = time.monotonic() + 120
    while not (tmp_path / "probe" / "hanging").exists():
        assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()[0]
        time.sleep(0.1)
    victim.kill()
    victim.wait()
    sessions = open_store(env["BENCHBED_DB"])
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Lease)) >= 1  # left behind by the kill
    rerun = _run({**env, "BENCHBED_LEASE_SECONDS": "3600"}, suite)
    out = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, out
    assert _counts(out) == {"planned": 12, "computed": 12, "skipped": 0, "others": 0, "failed": 0}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Lease)) == 0


# --- the lease rules, on one store in this process ----------------------------------------------------


def _runs(sessions, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    now = utc_now()
    with sessions.begin() as s:
        rows = [Run(suite="s", plan_hash="h", plan={}, benchbed_version="0", packages={},
                    device="cpu", host="elsewhere", workers=1, started_at=now, status="running",
                    n_computed=0, n_skipped=0, n_failed=0) for _ in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def test_a_live_lease_excludes_others_until_released(store_url: str) -> None:
    sessions = open_store(store_url)
    a, b = (Leases(sessions, "s", r, ttl=60) for r in _runs(sessions, 2))
    assert a.claim(["k1", "k2"]) == {"k1", "k2"}
    assert b.claim(["k1", "k3"]) == {"k3"}
    assert a.claim(["k1", "k3"]) == {"k1"}  # re-claiming one's own is a no-op; k3 is b's
    assert b.busy(["k1", "k2", "k3", "k4"]) == {"k1", "k2"}
    a.release(["k1"])
    assert b.claim(["k1"]) == {"k1"}
    a.release_all()
    assert b.busy(["k2"]) == set() and b.claim(["k2"]) == {"k2"}
    assert Leases(sessions, "other-suite", a.run_id).claim(["k1"]) == {"k1"}  # per suite


def test_an_expired_lease_or_a_finished_owner_can_be_taken_over(store_url: str) -> None:
    """A lease of another host's run is only known dead by its expiry; a run that is no longer
    `running` (finished, interrupted) holds nothing."""
    sessions = open_store(store_url)
    ra, rb, rc = _runs(sessions, 3)
    a, b, c = Leases(sessions, "s", ra, ttl=60), Leases(sessions, "s", rb), Leases(sessions, "s", rc)
    assert a.claim(["k1", "k2"]) == {"k1", "k2"}
    assert b.claim(["k1", "k2"]) == set()
    with sessions.begin() as s:  # a stopped renewing (a dead host) ten minutes ago
        s.execute(update(Lease).where(Lease.item_key == "k1")
                  .values(expires_at=utc_now() - timedelta(minutes=10)))
    assert b.claim(["k1", "k2"]) == {"k1"}
    a.renew()  # renewal only touches a's own leases: k1 stays b's
    assert a.claim(["k1"]) == set()
    with sessions.begin() as s:
        s.execute(update(Run).where(Run.id == rb).values(status="interrupted"))
    assert c.claim(["k1", "k2"]) == {"k1"}  # b's run is over; k2 is still a's live lease


def test_renewal_keeps_a_lease_past_its_first_expiry(store_url: str) -> None:
    sessions = open_store(store_url)
    ra, rb = _runs(sessions, 2)
    a, b = Leases(sessions, "s", ra, ttl=0.4), Leases(sessions, "s", rb, ttl=0.4)
    with a.kept():
        assert a.claim(["k"]) == {"k"}
        time.sleep(1.0)  # 2.5 lease lengths: only the heartbeat (every 0.1 s) keeps it
        assert b.claim(["k"]) == set()
    assert b.claim(["k"]) == {"k"}  # kept() released it
