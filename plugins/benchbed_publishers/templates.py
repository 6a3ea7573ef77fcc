# ruff: noqa: E501  (HTML template lines)
"""Jinja2 templates of the static site (autoescaped: every piece of data is HTML-escaped).

Only the constant CSS and JavaScript below are inserted unescaped; no data ever goes into a
``<script>`` or ``<style>`` block.
"""

from __future__ import annotations

CSS = """
:root { --fg:#1d232b; --muted:#5b6673; --line:#d8dee6; --best:#d7f0d8; --bestfg:#14532d;
        --head:#f3f5f8; --accent:#0b5cad; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1280px; padding: 0 1.2rem 3rem; }
header { border-bottom: 2px solid var(--line); margin-bottom: 1rem; }
nav { font-size: 13px; padding-top: .6rem; }
a { color: var(--accent); }
h1 { margin: .4rem 0 .3rem; font-size: 1.7rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { margin: 1.4rem 0 .4rem; font-size: 1.05rem; }
.lede, .note, figcaption, .muted { color: var(--muted); }
.note { font-size: 13px; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); white-space: nowrap; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer;
            color: inherit; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { background: var(--best); color: var(--bestfg); font-weight: 600; }
.ci { display: block; font-size: 11px; color: var(--muted); font-weight: 400; }
td.best .ci { color: var(--bestfg); }
.scroll { overflow-x: auto; }
.cond { display: grid; grid-template-columns: minmax(0, 1fr); gap: .3rem; }
img.plot { max-width: 100%; height: auto; border: 1px solid var(--line); }
.gallery { display: flex; flex-wrap: wrap; gap: .6rem; }
.gallery figure { margin: 0; width: 200px; }
.gallery img { width: 200px; height: auto; border: 1px solid var(--line); }
.gallery figcaption { font-size: 12px; word-break: break-all; }
.prov { background: #fafbfc; border: 1px solid var(--line); padding: .4rem .8rem; font-size: 13px; }
.prov table { margin: .3rem 0; }
.prov code { word-break: break-all; }
details summary { cursor: pointer; }
footer { margin-top: 2.5rem; font-size: 12px; color: var(--muted); }
.layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.2rem; }
nav.toc { font-size: 13px; border: 1px solid var(--line); background: #fafbfc; padding: .4rem .7rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.1rem; }
nav.toc li { margin: .1rem 0; }
nav.toc a { text-decoration: none; }
@media (min-width: 1000px) {
  .layout { grid-template-columns: 14rem minmax(0, 1fr); }
  nav.toc { position: sticky; top: .5rem; align-self: start; max-height: calc(100vh - 1rem);
            overflow-y: auto; }
}
/* the first column (the method on the index, the place elsewhere) stays put while the table scrolls */
.scroll tbody td:first-child, .scroll thead th:first-child { position: sticky; left: 0; z-index: 1;
  background: #fff; }
.scroll thead th:first-child { background: var(--head); }
.scroll tbody td.best:first-child { background: var(--best); }
td.method { white-space: nowrap; font-weight: 600; }
@media (max-width: 600px) {
  body { padding: 0 .5rem 2rem; font-size: 13px; }
  .gallery figure, .gallery img { width: 100%; }
  img.plot { width: 100%; }
}
"""

JS = """
(function () {
  'use strict';
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) { return {num: false, v: ''}; }
    var raw = cell.getAttribute('data-value');
    if (raw !== null && raw !== '' && raw !== 'nan' && !isNaN(Number(raw))) {
      return {num: true, v: Number(raw)};
    }
    return {num: false, v: cell.textContent.trim()};
  }
  function compare(a, b) {
    if (a.num && b.num) { return a.v - b.v; }
    if (a.num) { return -1; }
    if (b.num) { return 1; }
    return a.v.localeCompare(b.v, undefined, {numeric: true});
  }
  function sortTable(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    rows.sort(function (r1, r2) { return dir * compare(key(r1, col), key(r2, col)); });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () { sortTable(table, col, th); });
    });
  });
})();
"""

BASE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="benchbed leaderboard publish">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ css | safe }}</style>
</head>
<body>
{% block body %}{% endblock %}
<footer>Generated by <code>benchbed leaderboard publish</code> from the benchbed results store; do not
edit by hand. Means over pairs; CIs are {{ level }}% BCa bootstrap intervals of the mean (none below 5 pairs)
({{ n_boot }} resamples, seed {{ seed }}). Click a column header to sort.</footer>
<script>{{ js | safe }}</script>
</body>
</html>
"""

MACROS = """
{% macro table(t) -%}
<div class="scroll">
<table class="sortable" id="{{ t.id }}"{% for k, v in t.attrs.items() %} data-{{ k }}="{{ v }}"{% endfor %}>
{% if t.caption %}<caption class="muted">{{ t.caption }}</caption>{% endif %}
<thead><tr>{% for c in t.columns %}<th scope="col"{% if c.title %} title="{{ c.title }}"{% endif %}><button type="button">{{ c.label }}</button></th>{% endfor %}</tr></thead>
<tbody>
{% for r in t.rows -%}
<tr{% for k, v in r.attrs.items() %} data-{{ k }}="{{ v }}"{% endfor %}>{% for c in r.cells -%}
<td class="{{ 'num' if c.value is not none else 'text' }}{{ ' best' if c.best else '' }}"{% if c.value is not none %} data-value="{{ c.value }}"{% endif %}{% if c.metric %} data-metric="{{ c.metric }}"{% endif %}{% if c.best %} title="best in this table"{% endif %}>{{ c.text }}{% if c.sub %}<span class="ci">{{ c.sub }}</span>{% endif %}</td>
{%- endfor %}</tr>
{% endfor -%}
</tbody>
</table>
</div>
{%- endmacro %}

{% macro provenance(p, note) -%}
<div class="prov">
<table>
<tr><th scope="row">plan hash</th><td><code>{{ p.plan_hash }}</code></td></tr>
<tr><th scope="row">git commit</th><td><code>{{ p.git_commit }}</code></td></tr>
<tr><th scope="row">benchbed</th><td>{{ p.benchbed_version }}</td></tr>
<tr><th scope="row">device</th><td>{{ p.device }} on {{ p.host }}{% if p.workers and p.workers > 1 %}, {{ p.workers }} workers{% endif %}</td></tr>
<tr><th scope="row">run</th><td>#{{ p.run_id }}, {{ p.status }}, {{ p.started_at }} → {{ p.finished_at or '—' }}</td></tr>
<tr><th scope="row">items</th><td>{% for k, v in p['items'].items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
<tr><th scope="row">packages</th><td>{% for k, v in p.packages.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% if note %}<tr><th scope="row">note</th><td>{{ note }}</td></tr>{% endif %}
</table>
{% set others = p.computed_by | rejectattr('run_id', 'equalto', p.run_id) | list %}
{% if others %}
<details><summary>{{ others | length }} earlier run(s) computed some of these items</summary>
<table><tr><th>run</th><th>git commit</th><th>plan hash</th><th>device</th><th>started</th></tr>
{% for r in others %}<tr><td>#{{ r.run_id }}</td><td><code>{{ r.git_commit }}</code></td><td><code>{{ r.plan_hash[:12] }}</code></td><td>{{ r.device }}</td><td>{{ r.started_at }}</td></tr>
{% endfor %}</table></details>
{% endif %}
</div>
{%- endmacro %}
"""

SUITE = """{% extends "base.html" %}
{% from "macros.html" import table, provenance %}
{% block body %}
<header>
<nav><a href="../index.html">← all suites</a></nav>
<h1>Leaderboard: {{ suite }}</h1>
<p class="lede">{{ lede }}</p>
</header>
<div class="layout">
<nav class="toc" aria-label="contents"><strong>Contents</strong>
<ol>
<li><a href="#overall">Overall ranking</a></li>
<li><a href="#conditions">Results per condition</a>
<ol>{% for c in conditions %}<li><a href="#{{ c.anchor }}">{{ c.label }}</a></li>{% endfor %}</ol></li>
{% if robustness %}<li><a href="#robustness">Robustness</a></li>{% endif %}
{% if sweeps %}<li><a href="#sweeps">Severity sweeps</a></li>{% endif %}
{% if detection %}<li><a href="#detection">Detection</a></li>{% endif %}
<li><a href="#examples">Example images</a></li>
<li><a href="#provenance">Provenance</a></li>
</ol></nav>
<main>
<section id="overall">
<h2>Overall ranking</h2>
<p class="note">Headline: mean rank over every condition and the primary metrics {{ primary | join(', ') }} (1 = best); only methods scored in every condition get a place. Where the suite mixes them, reference-based metrics (the fused image against the sources) and reference-free ones (the fused image alone, which noise can raise) are also ranked apart. Metrics: {% for m in metric_notes %}{{ m }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
{{ table(overall) }}
{% if heatmap %}<img class="plot" src="{{ heatmap }}" alt="Heatmap of the mean rank of each method per condition">{% endif %}
{% if cd %}<h3>Critical-difference diagram</h3>
<p class="note">Friedman test over {{ cd.blocks }} blocks (condition &times; metric; each block ranks the {{ cd.k }} methods scored everywhere by their mean), p = {{ cd.p }}; Nemenyi post-hoc at &alpha; = 0.05: methods joined by a red line do not differ significantly (average ranks within CD = {{ cd.cd }}). Demšar, JMLR 7, 2006.</p>
<img class="plot" src="{{ cd.plot }}" alt="Critical-difference diagram of the average ranks">{% endif %}
</section>

<section id="conditions">
<h2>Results per condition</h2>
<p class="note">Mean over pairs with the {{ level }}% CI below; highlighted: the best method of each metric and every method not significantly worse than it (paired Wilcoxon signed-rank over the pairs, Holm across the condition's methods, &alpha; = 0.05).</p>
{% for c in conditions %}
<div class="cond" id="{{ c.anchor }}">
<h3>{{ c.label }}</h3>
{{ table(c.table) }}
{% if c.plot %}<img class="plot" src="{{ c.plot }}" alt="Mean and confidence interval of each metric per method for {{ c.label }}">{% endif %}
</div>
{% endfor %}
</section>

{% if robustness %}
<section id="robustness">
<h2>Robustness</h2>
<p class="note">Score under degradation divided by the score of the same method on the same pairs with
clean inputs ({{ level }}% paired bootstrap CI below). For ↑ metrics a ratio below 1 is a loss, for ↓
metrics above 1; the highest ratio per column and condition is highlighted (the lowest for ↓ metrics).
Reference-free metrics such as EN, SD and SF can rise under noise, so a ratio above 1 is not always a gain.</p>
{% for t in robustness %}{{ table(t) }}{% endfor %}
</section>
{% endif %}

{% if sweeps %}
<section id="sweeps">
<h2>Severity sweeps</h2>
<p class="note">Normalised area under the mean-score-versus-severity curve over the degradation's physical
parameter (noise &sigma; in /255, blur &sigma; in px, pooling factor; the level index where a degradation declares
none), with the clean input at its clean value when the suite has it, in the metric's units; below it the same area
divided by the clean score. Reference-free metrics get no highlight: noise can raise them.</p>
{% for s in sweeps %}
<h3>{{ s.label }}</h3>
{{ table(s.table) }}
{% if s.plot %}<img class="plot" src="{{ s.plot }}" alt="Severity curves for {{ s.label }}">{% endif %}
{% endfor %}
</section>
{% endif %}

{% if detection %}
<section id="detection">
<h2>Detection</h2>
<p class="note">{{ detection.note }}</p>
{% if detection.plot %}<img class="plot" src="{{ detection.plot }}" alt="mAP@0.5, precision and recall versus degradation">{% endif %}
{% for t in detection.tables %}{{ table(t) }}{% endfor %}
</section>
{% endif %}

<section id="examples">
<h2>Example fused images</h2>
{% if examples %}
{% for e in examples %}
<h3>{{ e.label }}</h3>
<div class="gallery">
{% for f in e.figures %}<figure><a href="{{ f.src }}"><img src="{{ f.src }}" alt="{{ f.alt }}" loading="eager"></a><figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
</div>
{% endfor %}
{% else %}<p class="note">{{ examples_note }}</p>{% endif %}
{% if examples and examples_note %}<p class="note">{{ examples_note }}</p>{% endif %}
</section>

<section id="provenance">
<h2>Provenance</h2>
{{ provenance(prov, note) }}
<p class="note">Data: <a href="scores.csv">scores.csv</a> (every stored value),
<a href="summary.csv">summary.csv</a>, <a href="mean_ranks.csv">mean_ranks.csv</a>,
<a href="robustness.csv">robustness.csv</a>, <a href="sweep_auc.csv">sweep_auc.csv</a>,
<a href="provenance.json">provenance.json</a>; markdown: <a href="README.md">README.md</a>
(present when the csv and markdown publishers ran too).</p>
</section>
</main>
</div>
{% endblock %}
"""

INDEX = """{% extends "base.html" %}
{% from "macros.html" import provenance %}
{% block body %}
<header>
<h1>benchbed leaderboards</h1>
<p class="lede">Image fusion under degradation: published results of the benchmark suites, with
confidence intervals, tied winners, critical-difference diagrams, robustness to degradation and provenance.</p>
</header>
<main>
<section id="suites">
<h2>Suites</h2>
<div class="scroll">
<table class="sortable" id="suites-table">
<thead><tr><th scope="col"><button type="button">suite</button></th><th scope="col"><button type="button">purpose</button></th><th scope="col"><button type="button">datasets (pairs)</button></th><th scope="col"><button type="button">conditions</button></th><th scope="col"><button type="button">methods</button></th><th scope="col"><button type="button">top 3 (headline)</button></th><th scope="col"><button type="button">run finished</button></th></tr></thead>
<tbody>
{% for s in suites %}<tr data-suite="{{ s.suite }}"><td class="text method"><a href="{{ s.href }}">{{ s.suite }}</a></td><td class="text">{{ s.get('description') or '' }}{% if s.get('note') %}<span class="ci">{{ s.note }}</span>{% endif %}</td><td class="text">{% if s.get('pairs_by_dataset') %}{% for d, n in s.pairs_by_dataset.items() %}{{ d }} ({{ n }}){% if not loop.last %}, {% endif %}{% endfor %}{% else %}{{ s.datasets | join(', ') }}{% endif %}</td><td class="num" data-value="{{ s.conditions }}">{{ s.conditions }}</td><td class="num" data-value="{{ s.methods }}">{{ s.methods }}</td><td class="text">{{ (s.get('top3') or [s.get('winner', '')]) | join(', ') }}</td><td class="text">{{ s.provenance.finished_at or '—' }}</td></tr>
{% endfor %}
</tbody>
</table>
</div>
</section>
<section id="provenance">
<h2>Provenance</h2>
{% if shared %}<div class="prov"><table>
{% for k, v in shared.items() %}<tr><th scope="row">{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table></div>{% endif %}
<div class="scroll"><table id="provenance-table">
<thead><tr><th scope="col">suite</th>{% for k in differing %}<th scope="col">{{ k }}</th>{% endfor %}</tr></thead>
<tbody>
{% for s in suites %}<tr><td class="text method"><a href="{{ s.href }}#provenance">{{ s.suite }}</a></td>{% for k in differing %}<td class="text"><code>{{ s.prov_fields.get(k, '') }}</code></td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
<p class="note">Fields equal for every suite are listed once above; each suite page has its full provenance.</p>
</section>
</main>
{% endblock %}
"""

TEMPLATES = {"base.html": BASE, "macros.html": MACROS, "suite.html": SUITE, "index.html": INDEX}
