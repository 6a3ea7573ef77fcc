"""Hooks that no other test drives through the registry: a local plugin module registers one spec
and the core finds and runs it.

``benchbed_register_publishers``: a publisher from a local ``.py`` file is listed by the
registry next to the built-ins and ``benchbed.leaderboard.publish`` runs it, records the files it
wrote in the suite folder's manifest and, on the next publish, replaces exactly those files.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from benchbed.leaderboard import MANIFEST, PublishContext, publish
from benchbed.paths import slug
from benchbed.registry import Registry

PUBLISHER_MODULE = textwrap.dedent('''
    from pathlib import Path

    from benchbed import PublisherSpec, hookimpl

    class CountPublisher:
        """Writes <out>/<suite>/counts.txt: the number of score rows per method."""

        def __init__(self, header: str = "counts") -> None:
            self.header = header

        def publish(self, frame, out_dir, context):
            folder = Path(out_dir) / context.suite
            folder.mkdir(parents=True, exist_ok=True)
            counts = frame.groupby("method").size()
            path = folder / "counts.txt"
            path.write_text(self.header + "\\n" + "\\n".join(f"{m} {n}" for m, n in counts.items()))
            return [path]

    @hookimpl
    def benchbed_register_publishers():
        return [PublisherSpec(name="hooktest_counts", version="3", summary="row counts",
                              factory=CountPublisher, params={"header": "counts"})]
''')


@pytest.fixture
def publisher_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "hooktest_publisher.py"
    path.write_text(PUBLISHER_MODULE)
    yield path
    sys.modules.pop(f"benchbed_local_{path.stem}", None)


def _context(suite: str, methods: dict[str, int]) -> PublishContext:
    rows = [{"suite": suite, "dataset": "demo", "pair_id": f"p{i}", "degradation": "clean",
             "severity": "0", "method": m, "metric": "EN", "profile": "evaluator",
             "value": float(i), "seconds": 0.1}
            for m, n in methods.items() for i in range(n)]
    return PublishContext(suite=suite, frame=pd.DataFrame(rows), higher_is_better={"EN": True},
                          provenance={})


def test_local_publisher_is_registered_next_to_the_builtins(publisher_file: Path) -> None:
    reg = Registry([str(publisher_file)])
    spec = reg.get("publisher", "hooktest_counts")
    assert spec.kind == "publisher" and spec.version == "3"
    assert spec.provider == str(publisher_file)
    assert {"markdown", "csv", "html", "hooktest_counts"} <= set(reg.names("publisher"))
    assert reg.find("hooktest_counts") == [spec]
    assert callable(spec.build(header="n").publish)


def test_core_publish_runs_the_local_publisher_and_owns_its_files(publisher_file: Path,
                                                                 tmp_path: Path) -> None:
    spec = Registry([str(publisher_file)]).get("publisher", "hooktest_counts")
    out = tmp_path / "site"
    suite = "hooktest"
    assert slug(suite) == suite
    written = publish(_context(suite, {"avg": 3, "max": 2}), out, [spec])
    counts = out / suite / "counts.txt"
    assert written == [counts]
    assert counts.read_text().splitlines() == ["counts", "avg 3", "max 2"]
    assert json.loads((out / suite / MANIFEST).read_text()) == ["counts.txt"]

    # A file the publisher did not write survives the next publish; its own file is replaced.
    (out / suite / "notes.txt").write_text("mine")
    publish(_context(suite, {"avg": 1}), out, [spec])
    assert counts.read_text().splitlines() == ["counts", "avg 1"]
    assert (out / suite / "notes.txt").read_text() == "mine"
