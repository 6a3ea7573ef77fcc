"""Built-in leaderboard publishers: ``markdown``, ``csv`` and ``html`` (a static site).

Each spec's factory builds an object with ``publish(frame, out_dir, context) -> list[Path]``
(see ``benchbed.hookspecs.benchbed_register_publishers``); ``context`` is a
``benchbed.leaderboard.PublishContext``. Every publisher writes under ``out_dir/<suite>/``; the
HTML publisher also rewrites ``out_dir/index.html`` from the ``site.json`` of every suite
published into ``out_dir`` so far. Heavy imports (matplotlib, jinja2) happen on first use.
"""

from __future__ import annotations

from benchbed import PublisherSpec, hookimpl, lazy

__all__ = ["benchbed_register_publishers"]


@hookimpl
def benchbed_register_publishers() -> list[PublisherSpec]:
    """The publishers this package provides."""
    return [
        PublisherSpec(
            name="markdown", version="1", factory=lazy("benchbed_publishers.markdown:MarkdownPublisher"),
            params={"digits": 4},
            summary="<suite>/README.md: provenance, overall ranking, per-condition tables with "
                    "95% CIs, robustness and severity-sweep areas",
        ),
        PublisherSpec(
            name="csv", version="1", factory=lazy("benchbed_publishers.tables:CsvPublisher"), params={},
            summary="<suite>/*.csv (scores per item, summary with CIs and ranks, mean ranks, "
                    "robustness, sweep AUC) and provenance.json, full precision",
        ),
        PublisherSpec(
            name="html", version="1", factory=lazy("benchbed_publishers.site:HtmlPublisher"),
            params={"digits": 4, "dpi": 90},
            summary="static site: index.html + <suite>/index.html with sortable tables, best "
                    "values, CIs, matplotlib plots, example fused images and provenance",
        ),
    ]
