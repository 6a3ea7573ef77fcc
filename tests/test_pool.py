"""The process pool behaves: its workers die with the run (kill -9 included) and start without
torch unless a plugin needs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

SLEEPY_PLUGIN = """
import os, sys, time
from pathlib import Path
from benchbed import FuserSpec, hookimpl

class Sleepy:
    def fuse(self, inputs):
        Path(os.environ["POOL_PROBE_DIR"], f"started-{os.getpid()}").touch()
        time.sleep(120)  # busy until killed
        return (inputs.images[0] + inputs.images[1]) / 2

class Probe:
    def fuse(self, inputs):
        Path(os.environ["POOL_PROBE_DIR"], f"probe-{os.getpid()}").write_text(
            f"{'torch' in sys.modules}")
        return (inputs.images[0] + inputs.images[1]) / 2

class TorchProbe:
    def fuse(self, inputs):
        import torch

        Path(os.environ["POOL_PROBE_DIR"], f"torch-{os.getpid()}").write_text(
            f"{torch.get_num_threads()}")
        return (inputs.images[0] + inputs.images[1]) / 2

@hookimpl
def benchbed_register_fusers():
    return [FuserSpec(name="sleepy", version="1", summary="sleeps", factory=Sleepy),
            FuserSpec(name="torch_probe_off", version="1", summary="probe", factory=Probe),
            FuserSpec(name="torch_probe_on", version="1", summary="imports torch",
                      factory=TorchProbe)]
"""


def _suite(path: Path, method: str, limit: int = 2) -> Path:
    path.write_text(textwrap.dedent(f"""\
        name: pool_{method}
        seed: 1
        datasets: [{{name: demo, split: test, limit: {limit}}}]
        degradations:
          - {{name: gaussian_noise, severities: [2]}}
        methods: [{method}]
        metrics: [EN, SD]
        """))
    return path


# --- the process tree, read from /proc -------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of ``pid``, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _descendants(root: int) -> dict[int, int]:
    """pid -> start time of every process below ``root``."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            children.setdefault(st[1], []).append(int(entry.name))
            starts[int(entry.name)] = st[2]
    out, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out[child] = starts[child]
            todo.append(child)
    return out


def _alive(pids: dict[int, int]) -> list[int]:
    """The pids that still run (a zombie awaiting its reaper, or a reused pid, is gone)."""
    out = []
    for pid, start in pids.items():
        st = _stat(pid)
        if st is not None and st[0] not in "ZX" and st[2] == start:
            out.append(pid)
    return out


def _wait_gone(pids: dict[int, int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- tests ------------------------------------------------------------------------------------------


@linux_only
@pytest.mark.slow
def test_kill_minus_nine_leaves_no_worker_nor_resource_tracker(tmp_path: Path) -> None:
    (tmp_path / "pool_plugin.py").write_text(SLEEPY_PLUGIN)
    probes = tmp_path / "probes"
    probes.mkdir()
    env = {**os.environ, "BENCHBED_DB": f"sqlite:///{tmp_path / 'store.db'}",
           "BENCHBED_CACHE": str(tmp_path / "cache"), "POOL_PROBE_DIR": str(probes),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchbed.cli", "--plugin", "pool_plugin", "run",
         str(_suite(tmp_path / "s.yaml", "sleepy")), "--workers", "2", "--no-progress"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tree: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            tree = _descendants(proc.pid)
            cmds = [_cmdline(p) for p in tree]
            workers = sum("spawn_main" in c for c in cmds)
            if workers == 2 and len(list(probes.glob("started-*"))) == 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
        assert sum("spawn_main" in _cmdline(p) for p in tree) == 2, tree
        assert any("resource_tracker" in _cmdline(p) for p in tree), tree  # it is checked too
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = _wait_gone(tree, 10)
        assert not left, [_cmdline(p) for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill(_alive(tree))
        proc.stderr.close()  # type: ignore[union-attr]


WATCHED_CHILD = """
import os, sys, time
from benchbed.runner import _exit_with_parent_signal, _watch_parent
if sys.argv[1] == "signal":
    assert _exit_with_parent_signal()
else:
    _watch_parent(os.getppid(), 0.05)
print(os.getpid(), flush=True)
time.sleep(120)
"""

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=sys.stdout)
time.sleep(120)
"""


@linux_only
@pytest.mark.parametrize("mechanism", ["signal", "watch"])
def test_each_mechanism_alone_ends_an_orphaned_worker(mechanism: str) -> None:
    """The kernel's parent-death signal (Linux) and the portable polling thread each end a
    process whose parent was killed."""
    if mechanism == "signal" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WATCHED_CHILD, mechanism],
                              stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        start = _stat(child)
        assert start is not None
        parent.kill()
        parent.wait()
        assert not _wait_gone({child: start[2]}, 10), f"{mechanism}: the child outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child and (st := _stat(child)) is not None:
            _kill(_alive({child: st[2]}))
        parent.stdout.close()  # type: ignore[union-attr]


def _pool_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> dict[str, str]:
    """Every item of a 2-group suite of ``method`` through a one-worker ProcessPoolExecutor;
    the probes' reports by file name."""
    from benchbed.registry import Registry
    from benchbed.runner import ProcessPoolExecutor, enumerate_items
    from benchbed.suites import load_plan
    from benchbed.work import RunContext

    (tmp_path / "pool_plugin.py").write_text(SLEEPY_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers get this sys.path
    probes = tmp_path / "probes"
    probes.mkdir()
    monkeypatch.setenv("POOL_PROBE_DIR", str(probes))
    try:
        reg = Registry(["pool_plugin"])
        plan = load_plan(_suite(tmp_path / "s.yaml", method), reg)
        groups: dict[tuple, list] = {}
        for item in enumerate_items(plan, reg):
            groups.setdefault(item.group, []).append(item)
        ctx = RunContext(suite_seed=plan.seed, cache_dir=str(tmp_path / "cache"),
                         plugin_modules=("pool_plugin",))
        results = list(ProcessPoolExecutor(1).run(ctx, list(groups.values())))
    finally:
        sys.modules.pop("pool_plugin", None)
    assert len(results) == 2 and all(r.status == "done" for r in results), results
    reports = {p.name: p.read_text() for p in probes.iterdir()}
    assert reports and all(not n.endswith(f"-{os.getpid()}") for n in reports)  # in workers
    return reports


def test_pool_workers_of_classical_methods_never_import_torch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reports = _pool_run(tmp_path, monkeypatch, "torch_probe_off")
    assert set(reports.values()) == {"False"}, reports


@pytest.mark.slow
def test_torch_imported_by_a_plugin_in_a_worker_runs_on_one_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch is no longer imported up front, yet a plugin that imports it gets one thread."""
    pytest.importorskip("torch")
    reports = _pool_run(tmp_path, monkeypatch, "torch_probe_on")
    assert set(reports.values()) == {"1"}, reports
