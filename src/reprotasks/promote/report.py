"""The promotion dashboard: one static HTML page, no server, built from the verified ledger.

It answers a release manager's questions first: per environment, what runs there, since when,
how long before it may move on (the next environment's soak), whether its bytes were reproduced,
which commit it was built from and who signed the decision; a rollback says what it replaced.
Then a time-scaled timeline, the entries newest first, and the releases. Beyond
``SHOWN`` rows the older ones fold into ``<details>`` so a ledger of hundreds stays readable.

The page is a function of the ledger (and the committed policy) alone, so the same ledger gives
the same bytes: ages and countdowns, which depend on when it is read, are computed by the small
inline script from the timestamps in the page. Every value is escaped (a version or identity
could hold markup), and nothing is loaded from elsewhere.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass

from reprotasks.errors import Finding
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import Entry, Ledger

SHOWN = 50  # rows (entries, releases) shown before the rest fold away


@dataclass(frozen=True)
class ReleaseView:
    version: str
    commit: str
    sums: str
    artifacts: dict[str, str]
    images: dict[str, str]
    reproduced: bool
    signers: tuple[str, ...]


@dataclass(frozen=True)
class DrillView:
    """The last reproducibility drill of one release (``drill``'s signed record, verified)."""

    version: str
    tag: str
    sums: str  # sha256 of the SHA256SUMS it checked
    when: str  # UTC, the record's certificate time
    who: str
    result: str  # identical | differs | cannot rebuild
    reason: str


def releases(ledger: Ledger, levels: Mapping[int, list[str]]) -> list[ReleaseView]:
    """Every release the ledger names, oldest first."""
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


def replaced_versions(ledger: Ledger) -> dict[int, str | None]:
    """Entry number -> the version its environment held just before it (None: nothing)."""
    holding: dict[str, str] = {}
    replaced: dict[int, str | None] = {}
    for entry in ledger.entries:
        replaced[entry.seq] = holding.get(entry.environment)
        holding[entry.environment] = entry.version
    return replaced


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _commit(commit: str, repository_url: str | None) -> str:
    short = _e(commit[:12])
    if repository_url:
        return f'<a href="{_e(repository_url)}/commit/{_e(commit)}"><code>{short}</code></a>'
    return f"<code>{short}</code>"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render(
    *,
    project: str,
    environments: tuple[str, ...],
    ledger: Ledger,
    findings: list[Finding],
    levels: Mapping[int, list[str]],
    soaks: Mapping[str, int] | None = None,
    repository_url: str | None = None,
    drills: Mapping[str, DrillView] | None = None,
    drill_problems: int = 0,
) -> bytes:
    """``soaks``: each environment's `soak` in seconds (the time a release must spend in the one
    before it); ``repository_url``: https://github.com/OWNER/REPO, for links to commits; ``drills``:
    the last drill of each version; ``drill_problems``: drill records that did not verify."""
    soaks = soaks or {}
    drills = drills or {}
    views = releases(ledger, levels)
    reproduced = {view.version: _proven(view, drills.get(view.version)) for view in views}
    replaced = replaced_versions(ledger)
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
    for index, env in enumerate(environments):
        following = environments[index + 1] if index + 1 < len(environments) else None
        parts.append(_card(ledger, env, following, soaks, reproduced, replaced, repository_url, drills))
    parts.append("</div>")
    parts += _drills_section(drills, drill_problems)
    parts.append("<h2>Promotions over time</h2>")
    parts.append(
        '<div class="scroll"><svg id="timeline" role="img" aria-label="promotions per environment over time">'
        "</svg></div>"
    )
    newest = list(reversed(ledger.entries))
    parts.append(f"<h2>Ledger entries, newest first ({len(newest)})</h2>")
    parts += _folded(
        [_entry_row(entry, levels, replaced) for entry in newest],
        header="<tr><th>#</th><th>when (UTC)</th><th>action</th><th>environment</th><th>version</th>"
        "<th>signed by</th><th>checks</th><th>VSA sha256</th></tr>",
        what="older entries",
    )
    parts.append(f"<h2>Releases, newest first ({len(views)})</h2>")
    sections = [_release(view, repository_url, drills.get(view.version)) for view in reversed(views)]
    parts += sections[:SHOWN]
    if len(sections) > SHOWN:
        parts.append(f"<details><summary>older releases ({len(sections) - SHOWN})</summary>")
        parts += sections[SHOWN:]
        parts.append("</details>")
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


def _card(
    ledger: Ledger,
    env: str,
    following: str | None,
    soaks: Mapping[str, int],
    reproduced: Mapping[str, bool],
    replaced: Mapping[int, str | None],
    repository_url: str | None,
    drills: Mapping[str, DrillView],
) -> str:
    entry = ledger.current(env)
    if entry is None:
        return f'<div class="env" data-env="{_e(env)}"><h3>{_e(env)}</h3><p class="version">-</p></div>'
    if entry.action == "rollback":
        before = replaced.get(entry.seq)
        how = f"rolled back here from {_e(before or '-')} (restores #{entry.restores})"
    else:
        how = "promoted"
    lines = [
        f'{how} <time datetime="{_e(entry.when)}" class="since">{_e(entry.when)}</time>',
        f"{'&#10003; reproduced' if reproduced.get(entry.version) else '&#10007; reproduction not proven'}",
        f"built from {_commit(entry.commit, repository_url)}",
        f"signed by {_e(entry.who)} (entry #{entry.seq})",
        _drill_line(drills.get(entry.version)),
    ]
    if following is not None:
        soak = soaks.get(following, 0)
        moved = ledger.current(following)
        if moved is not None and moved.version == entry.version and moved.sums == entry.sums:
            lines.append(f"in {_e(following)} too")
        else:
            lines.append(
                f'<span class="soak" data-when="{_e(entry.when)}" data-soak="{soak}" data-next="{_e(following)}">'
                f"{_e(following)} after {_e(_duration(soak))} here</span>"
            )
    reproduced_class = "yes" if reproduced.get(entry.version) else "no"
    return (
        f'<div class="env" data-env="{_e(env)}" data-reproduced="{reproduced_class}"><h3>{_e(env)}</h3>'
        f'<p class="version">{_e(entry.version)}</p><p>{"<br>".join(lines)}</p></div>'
    )


def _entry_row(entry: Entry, levels: Mapping[int, list[str]], replaced: Mapping[int, str | None]) -> str:
    action = entry.action
    if entry.restores is not None:
        action = f"rollback to #{entry.restores}, replacing {replaced.get(entry.seq) or '-'}"
    return (
        f'<tr class="{_e(entry.action)}"><td>{entry.seq}</td><td>{_e(entry.when)}</td><td>{_e(action)}</td>'
        f"<td>{_e(entry.environment)}</td><td>{_e(entry.version)}</td><td>{_e(entry.who)}</td>"
        f"<td>{_e(', '.join(levels.get(entry.seq, [])))}</td><td><code>{_e(entry.vsa[:16])}</code></td></tr>"
    )


def _folded(rows: list[str], *, header: str, what: str) -> list[str]:
    table = f'<div class="scroll"><table><thead>{header}</thead><tbody>'
    parts = [table, *rows[:SHOWN], "</tbody></table></div>"]
    if len(rows) > SHOWN:
        parts += [f"<details><summary>{what} ({len(rows) - SHOWN})</summary>", table, *rows[SHOWN:]]
        parts.append("</tbody></table></div></details>")
    return parts


def _drilled_identical(drill: DrillView | None, sums: str) -> bool:
    return drill is not None and drill.result == "identical" and drill.sums == sums


def _proven(view: ReleaseView, drill: DrillView | None) -> bool:
    """Reproduced: by a promotion's rebuild or a drill, unless the newest drill of these very bytes failed."""
    if drill is not None and drill.sums == view.sums and drill.result != "identical":
        return False
    return view.reproduced or _drilled_identical(drill, view.sums)


def _drill_line(drill: DrillView | None) -> str:
    """What the last drill says of a release, for its card and section."""
    if drill is None:
        return '<span class="drill none">never drilled (`reprotasks drill`)</span>'
    when = f'<time datetime="{_e(drill.when)}" class="since">{_e(drill.when)}</time>'
    if drill.result == "identical":
        return f'<span class="drill ok">last independently reproduced {when} by {_e(drill.who)}</span>'
    return (
        f'<span class="drill failed">last drill {when} by {_e(drill.who)}: <strong>{_e(drill.result)}</strong>'
        f" ({_e(drill.reason[:300])})</span>"
    )


def _drills_section(drills: Mapping[str, DrillView], problems: int) -> list[str]:
    if not drills and not problems:
        return []
    rows = [
        f'<tr class="drill-{_e(d.result.replace(" ", "-"))}"><td>{_e(d.tag)}</td><td>{_e(d.when)}</td>'
        f"<td>{_e(d.result)}</td><td>{_e(d.who)}</td><td>{_e(d.reason[:300])}</td></tr>"
        for d in sorted(drills.values(), key=lambda d: d.when, reverse=True)
    ]
    parts = [f"<h2>Reproducibility drills: the last of each release ({len(drills)})</h2>"]
    if problems:
        parts.append(f'<p class="broken">{problems} drill record(s) did not verify and are not counted.</p>')
    return parts + _folded(
        rows, header="<tr><th>tag</th><th>when (UTC)</th><th>result</th><th>by</th><th>why</th></tr>", what="older"
    )


def _release(view: ReleaseView, repository_url: str | None, drill: DrillView | None = None) -> str:
    proven = _proven(view, drill)
    rows = [
        f"<tr><td>{_e(name)}</td><td><code>{_e(digest)}</code></td></tr>"
        for name, digest in sorted(view.artifacts.items())
    ]
    rows += [
        f"<tr><td>image {_e(name)}</td><td><code>{_e(digest)}</code></td></tr>"
        for name, digest in sorted(view.images.items())
    ]
    return (
        f'<section class="release" id="release-{_e(view.version)}"><h3>{_e(view.version)}</h3>'
        f"<p>commit {_commit(view.commit, repository_url)}; SHA256SUMS <code>{_e(view.sums)}</code><br>"
        f"reproduced: <strong>{'yes (rebuilt, same bytes)' if proven else 'not proven'}</strong>; "
        f"decisions signed by {_e(', '.join(view.signers))}<br>{_drill_line(drill)}</p>"
        '<div class="scroll"><table><thead><tr><th>artifact</th><th>sha256</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;padding:0 1rem;color:#1b1f24;max-width:72rem}
h1{font-size:1.5rem;overflow-wrap:anywhere}h2{margin-top:2rem;font-size:1.2rem}
.ok{background:#e6f4ea;border-left:4px solid #1a7f37;padding:.5rem 1rem;overflow-wrap:anywhere}
.broken{background:#fdecea;border-left:4px solid #cf222e;padding:.5rem 1rem;font-weight:bold;overflow-wrap:anywhere}
.envs{display:flex;gap:1rem;flex-wrap:wrap}
.env{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;flex:1 1 15rem;min-width:0;overflow-wrap:anywhere}
.env .version{font-size:1.6rem;font-weight:bold;margin:.2rem 0}
.env[data-reproduced=no] .version{color:#9a6700}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
tr.rollback td{background:#fff1f0}
code{font-size:.85em;overflow-wrap:anywhere;word-break:break-all}
details{margin:.5rem 0}summary{cursor:pointer;color:#0969da}
#timeline{display:block;min-width:40rem;width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}
#timeline circle{cursor:default}
"""

# Ages, soak countdowns (relative to when the page is read) and the time-scaled timeline.
_SCRIPT: str = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var now = Date.now();
  function span(ms) {
    var minutes = Math.max(0, Math.round(ms / 60000));
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.round(minutes / 60);
    if (hours < 48) { return hours + " h"; }
    return Math.round(hours / 24) + " days";
  }
  Array.prototype.forEach.call(document.querySelectorAll("time.since"), function (node) {
    var at = Date.parse(node.getAttribute("datetime"));
    if (!isNaN(at)) { node.textContent = span(now - at) + " ago (" + node.getAttribute("datetime") + ")"; }
  });
  Array.prototype.forEach.call(document.querySelectorAll(".soak"), function (node) {
    var at = Date.parse(node.getAttribute("data-when"));
    var left = at + 1000 * Number(node.getAttribute("data-soak")) - now;
    var next = node.getAttribute("data-next");
    if (isNaN(at)) { return; }
    node.textContent = left > 0 ? next + " in " + span(left) + " (soak)" : "ready for " + next;
  });
  var svg = document.getElementById("timeline");
  var ns = "http://www.w3.org/2000/svg";
  var lane = 40, left = 90, width = 900;
  svg.setAttribute("viewBox", "0 0 " + (width + left + 70) + " " + (lane * data.environments.length + 40));
  function add(parent, tag, attrs, text) {
    var node = document.createElementNS(ns, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) { node.textContent = text; }
    parent.appendChild(node);
    return node;
  }
  var times = data.entries.map(function (entry) { return Date.parse(entry.when); }).filter(function (t) {
    return !isNaN(t);
  });
  var first = Math.min.apply(null, times.length ? times : [0]), last = Math.max.apply(null, times.length ? times : [0]);
  function xOf(when) {
    var t = Date.parse(when);
    if (isNaN(t) || last === first) { return left + width / 2; }
    return left + ((t - first) * width) / (last - first);
  }
  var bottom = 20 + lane * data.environments.length;
  data.environments.forEach(function (env, row) {
    var y = 20 + row * lane;
    add(svg, "text", {x: 4, y: y + 4, "font-size": 13}, env);
    add(svg, "line", {x1: left, y1: y, x2: left + width, y2: y, stroke: "#d0d7de"});
  });
  if (times.length) {
    add(svg, "text", {x: left, y: bottom + 10, "font-size": 11}, new Date(first).toISOString().slice(0, 10));
    add(svg, "text", {x: left + width, y: bottom + 10, "font-size": 11, "text-anchor": "end"},
        new Date(last).toISOString().slice(0, 10));
  }
  var labelled = {};
  data.entries.forEach(function (entry) {
    var row = data.environments.indexOf(entry.environment);
    if (row < 0) { return; }
    var x = xOf(entry.when), y = 20 + row * lane;
    var dot = add(svg, "circle", {cx: x, cy: y, r: 5, fill: entry.action === "rollback" ? "#cf222e" : "#1a7f37"});
    dot.setAttribute("data-version", entry.version);
    add(dot, "title", {}, "#" + entry.seq + " " + entry.action + " " + entry.version + " to " +
        entry.environment + ", " + entry.when);
    if (labelled[row] === undefined || x - labelled[row] > 70) {
      add(svg, "text", {x: x + 7, y: y - 8, "font-size": 11}, entry.version);
      labelled[row] = x;
    }
  });
  var page = document.documentElement;
  document.body.setAttribute("data-overflow", String(page.scrollWidth > page.clientWidth));
  document.body.setAttribute("data-rendered", String(data.entries.length));
})();
"""
