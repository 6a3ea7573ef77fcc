"""Replay every row of tests/test_hostile_input.py as a real `benchbed` process and print the
table the issue asks for: case, command, exit code, first line of output, and whether the
store's existing results stayed unchanged.

    python benchmarks/hostile_input_table.py [--benchbed PATH] > table.md

Run it from a fresh clone: it uses only that clone's code and a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from test_hostile_input import BASELINE, CASES  # noqa: E402


def _baseline(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("select i.item_key, s.metric, s.value from items i join scores s "
                           "on s.item_id = i.id where i.suite = 'baseline' order by 1, 2").fetchall()


def main() -> int:
    """Print the markdown table; exit 1 if a case's exit code or message differs."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--benchbed", default=shutil.which("benchbed") or "benchbed")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHBED_")}
    env.update(BENCHBED_DB=f"sqlite:///{root / 'store.db'}", BENCHBED_CACHE=str(root / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [".", env.get("PYTHONPATH")])))
    for key in ("BENCHBED_DATA", "BENCHBED_WEIGHTS"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    (root / "baseline.yaml").write_text(BASELINE)
    subprocess.run([args.benchbed, "run", str(root / "baseline.yaml"), "--no-progress",
                    "--no-show"], env=env, cwd=root, check=True, capture_output=True)
    before = _baseline(root / "store.db")
    print("| case | command | exit | first line of output | store unchanged |")
    print("|---|---|---|---|---|")
    bad = 0
    for case in CASES:
        cwd = root / case.id
        cwd.mkdir()
        if case.setup:
            case.setup(cwd)
        case_env = dict(env)
        for k, v in case.env.items():
            if v:
                case_env[k] = v.replace("{tmp}", str(cwd))
            else:
                case_env.pop(k, None)
        argv = [a.replace("{tmp}", str(cwd)) for a in case.args]
        out = subprocess.run([args.benchbed, *argv], env=case_env, cwd=cwd, capture_output=True,
                             text=True, timeout=600)
        text = out.stderr + out.stdout if out.returncode else out.stdout + out.stderr
        lines = [ln for ln in text.splitlines() if ln.strip()]
        first = next((ln for ln in lines if case.needle in ln), lines[0] if lines else "")
        ok = out.returncode == case.code and case.needle in text and "Traceback" not in text
        same = _baseline(root / "store.db") == before
        bad += not (ok and same)
        shown = " ".join(shlex.quote(a) for a in ["benchbed", *case.args])
        cell = first.replace("|", "\\|")[:160]
        print(f"| {case.id}{'' if ok else ' **MISMATCH**'} | `{shown}` | {out.returncode} | "
              f"{cell} | {'yes' if same else '**no**'} |")
    shutil.rmtree(root, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
