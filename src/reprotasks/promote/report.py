"""The promotion dashboard: one static HTML page, no server, built from the verified ledger.

The tables are plain HTML (readable without JavaScript); a small inline script draws the
timeline of promotions per environment from the same data, embedded as JSON. Every value is
escaped (a version or identity could hold markup), and the page is a function of the ledger
alone, so the same ledger gives the same bytes.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from reprotasks.errors import Finding
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import Entry, Ledger


@dataclass(frozen=True)
class ReleaseView:
    version: str
    commit: str
    sums: str
    artifacts: dict[str, str]
    images: dict[str, str]
    reproduced: bool
    signers: tuple[str, ...]


def releases(ledger: Ledger, levels: dict[int, list[str]]) -> list[ReleaseView]:
    seen: dict[str, list[Entry]] = {}
    for entry in ledger.entries:
        seen.setdefault(entry.version, []).append(entry)
    views = []
    for version, entries in seen.items():
        first = entries[0]
        views.append(
            ReleaseView(
                version=version,
                commit=first.commit,
                sums=first.sums,
                artifacts=first.artifacts,
                images=first.images,
                reproduced=any(_vsa.REPRODUCED in levels.get(entry.seq, []) for entry in entries),
                signers=tuple(sorted({entry.who for entry in entries})),
            )
        )
    return views


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render(
    *,
    project: str,
    environments: tuple[str, ...],
    ledger: Ledger,
    findings: list[Finding],
    levels: dict[int, list[str]],
) -> bytes:
    current = {env: ledger.current(env) for env in environments}
    intact = not findings
    integrity = (
        f"Ledger verified: {len(ledger.entries)} entries, hash chain unbroken, every VSA signature valid"
        f" (head {ledger.head or '-'})."
        if intact
        else "Ledger BROKEN: " + " ".join(f.render() for f in findings)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(project)}: releases and promotions</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(project)}: releases and promotions</h1>",
        f'<p id="integrity" class="{"ok" if intact else "broken"}">{_e(integrity)}</p>',
        '<h2>Environments</h2><div class="envs">',
    ]
    for env in environments:
        entry = current[env]
        if entry is None:
            parts.append(f'<div class="env" data-env="{_e(env)}"><h3>{_e(env)}</h3><p class="version">-</p></div>')
            continue
        how = "rolled back to it" if entry.action == "rollback" else "promoted"
        parts.append(
            f'<div class="env" data-env="{_e(env)}"><h3>{_e(env)}</h3>'
            f'<p class="version">{_e(entry.version)}</p>'
            f"<p>{_e(how)} at {_e(entry.when)}<br>by {_e(entry.who)}<br>entry {entry.seq}</p></div>"
        )
    parts.append("</div><h2>Promotions over time</h2>")
    parts.append('<svg id="timeline" role="img" aria-label="promotions per environment over time"></svg>')
    parts.append(
        "<table><thead><tr><th>#</th><th>when (UTC)</th><th>action</th><th>environment</th><th>version</th>"
        "<th>signed by</th><th>checks</th><th>VSA sha256</th></tr></thead><tbody>"
    )
    for entry in ledger.entries:
        action = entry.action if entry.restores is None else f"rollback (restores #{entry.restores})"
        parts.append(
            f"<tr><td>{entry.seq}</td><td>{_e(entry.when)}</td><td>{_e(action)}</td><td>{_e(entry.environment)}</td>"
            f"<td>{_e(entry.version)}</td><td>{_e(entry.who)}</td><td>{_e(', '.join(levels.get(entry.seq, [])))}</td>"
            f"<td><code>{_e(entry.vsa[:16])}</code></td></tr>"
        )
    parts.append("</tbody></table><h2>Releases</h2>")
    for view in releases(ledger, levels):
        parts.append(
            f'<section class="release" id="release-{_e(view.version)}"><h3>{_e(view.version)}</h3>'
            f"<p>commit <code>{_e(view.commit)}</code>; SHA256SUMS <code>{_e(view.sums)}</code><br>"
            f"reproduced: <strong>{'yes (rebuilt, same bytes)' if view.reproduced else 'not proven'}</strong>; "
            f"decisions signed by {_e(', '.join(view.signers))}</p>"
            "<table><thead><tr><th>artifact</th><th>sha256</th></tr></thead><tbody>"
        )
        for name, digest in sorted(view.artifacts.items()):
            parts.append(f"<tr><td>{_e(name)}</td><td><code>{_e(digest)}</code></td></tr>")
        for name, digest in sorted(view.images.items()):
            parts.append(f"<tr><td>image {_e(name)}</td><td><code>{_e(digest)}</code></td></tr>")
        parts.append("</tbody></table></section>")
    data = {
        "environments": list(environments),
        "entries": [
            {"seq": e.seq, "when": e.when, "environment": e.environment, "version": e.version, "action": e.action}
            for e in ledger.entries
        ],
    }
    # JSON inside <script>: no "<", ">" or "&" at all ("</script>" would end the element).
    embedded = json.dumps(data, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    parts.append(f'<script type="application/json" id="data">{embedded}</script>')
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return ("\n".join(parts) + "\n").encode("utf-8", errors="backslashreplace")


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:72rem}
h1{font-size:1.5rem}h2{margin-top:2rem;font-size:1.2rem}
.ok{background:#e6f4ea;border-left:4px solid #1a7f37;padding:.5rem 1rem}
.broken{background:#fdecea;border-left:4px solid #cf222e;padding:.5rem 1rem;font-weight:bold}
.envs{display:flex;gap:1rem;flex-wrap:wrap}
.env{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;min-width:12rem}
.env .version{font-size:1.6rem;font-weight:bold;margin:.2rem 0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}
code{font-size:.85em}
#timeline{width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}
"""

# Draws the timeline: one lane per environment, one dot per entry, the version beside it.
_SCRIPT: str = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var svg = document.getElementById("timeline");
  var ns = "http://www.w3.org/2000/svg";
  var lane = 40, left = 90, width = 900, n = Math.max(data.entries.length, 1);
  svg.setAttribute("viewBox", "0 0 " + (width + left + 60) + " " + (lane * data.environments.length + 20));
  function add(tag, attrs, text) {
    var node = document.createElementNS(ns, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    svg.appendChild(node);
    return node;
  }
  data.environments.forEach(function (env, row) {
    var y = 20 + row * lane;
    add("text", {x: 4, y: y + 4, "font-size": 13}, env);
    add("line", {x1: left, y1: y, x2: left + width, y2: y, stroke: "#d0d7de"});
  });
  data.entries.forEach(function (entry, index) {
    var row = data.environments.indexOf(entry.environment);
    if (row < 0) { return; }
    var x = left + (n === 1 ? width / 2 : (index * width) / (n - 1));
    var y = 20 + row * lane;
    var dot = add("circle", {cx: x, cy: y, r: 6, fill: entry.action === "rollback" ? "#cf222e" : "#1a7f37"});
    dot.setAttribute("data-version", entry.version);
    add("title", {}, "#" + entry.seq + " " + entry.action + " " + entry.version + " " + entry.when);
    add("text", {x: x + 8, y: y - 8, "font-size": 11}, entry.version);
  });
  document.body.setAttribute("data-rendered", String(data.entries.length));
})();
"""
