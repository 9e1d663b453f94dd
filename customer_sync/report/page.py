"""The HTML data-quality report: one self-contained page built from the run's metadata.

Every number on the page is read from the metadata object that the JSON output holds
(``render_report(metadata, ...)``), so the page and the file cannot disagree. The page
needs nothing from the network: inline CSS, inline SVG charts (:mod:`.charts`), no
scripts. Headline numbers carry ``data-metric`` attributes so a test can read them back.

Rejection examples are the one thing not in the metadata (the JSON output holds no raw
records): the first raw record of each top reason, its emails' local parts masked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .. import jsoncodec
from ..models import Rejection
from ..quality import ABSENT_SHARE_LIMIT, format_share

__all__ = ["TOP_REASONS", "mask_emails", "rejection_examples", "render_report"]

#: Rejection reasons listed (the most frequent first).
TOP_REASONS: Final = 10
_EXAMPLE_CHARS: Final = 240
_EMAIL_LOCAL: Final = re.compile(r"[^\s\"'<>@,;:()\[\]{}\\]+@(?=[^\s\"'<>@]+)")

_CSS: Final = """
:root { --ink:#1f2933; --muted:#7b8794; --line:#e4e7eb; --warn:#c23030; --ok:#2e8540; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
  margin: 0; background: #f5f7fa; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 12px; }
.run { color: var(--muted); margin: 0 0 16px; }
.run b { color: var(--ink); font-weight: 600; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 0 0 16px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 12px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.tile .n { display: block; font-size: 22px; font-weight: 700; }
.tile .l { color: var(--muted); font-size: 12px; }
.identity { font-size: 15px; }
.identity .ok { color: var(--ok); font-weight: 600; }
.identity .bad { color: var(--warn); font-weight: 600; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.grid > * { flex: 1 1 320px; min-width: 0; }
.grid.wide > * { flex-basis: 460px; }
svg.chart { max-width: 100%; height: auto; display: block; }
.alert { background: #fdecea; border: 2px solid var(--warn); border-radius: 8px;
  padding: 12px 16px; margin: 0 0 16px; }
.alert h2 { color: var(--warn); }
.alert ul { margin: 0; padding-left: 20px; }
ul.alert { padding-left: 32px; }
.note { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
"""


def mask_emails(text: str) -> str:
    """``janet.weaver@reqres.in`` -> ``***@reqres.in``, wherever an email appears."""
    return _EMAIL_LOCAL.sub("***@", text)


def _example_text(record: Any) -> str:
    """The record as compact JSON (the one codec; a record nested too deeply becomes a
    note), every email's local part masked, then cut to a short line."""
    line = jsoncodec.dumps_line({"record": record}).decode("utf-8").rstrip("\n")
    text = mask_emails(line.removeprefix('{"record":').removesuffix("}"))
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def rejection_examples(rejected: Iterable[Rejection]) -> dict[str, str]:
    """The first rejected record of each reason, as short masked JSON text."""
    examples: dict[str, str] = {}
    for rejection in rejected:
        if rejection.reason not in examples:
            examples[rejection.reason] = _example_text(rejection.record)
    return examples


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _tile(label: str, value: Any, metric: str | None = None) -> str:
    attribute = f' data-metric="{metric}"' if metric else ""
    return (
        f'<div class="tile"><span class="n"{attribute}>{_e(_n(value))}</span>'
        f'<span class="l">{_e(label)}</span></div>'
    )


def _header(metadata: Mapping[str, Any]) -> str:
    source = metadata.get("source", {})
    accounting = metadata.get("accounting", {})
    durations = metadata.get("stage_durations_seconds", {})
    seconds = sum(float(v) for v in durations.values())
    simulated = " (built-in simulator)" if source.get("simulated") else ""
    verdict = (
        '<span class="ok">✓ balanced</span>'
        if accounting.get("balanced", False)
        else '<span class="bad">✗ unbalanced</span>'
    )
    return (
        "<header><h1>Customer sync: data-quality report</h1>"
        f'<p class="run">source <b data-metric="source">{_e(source.get("url", "?"))}</b>'
        f"{simulated} · as of "
        f'<b>{_e(metadata.get("as_of", "?"))}</b> · exported '
        f'<b>{_e(metadata.get("export_timestamp", "?"))}</b> · fetch and transform '
        f'<b data-metric="duration">{seconds:.2f} s</b> · pipeline '
        f'{_e(metadata.get("pipeline_version", "?"))}</p></header>'
        "<section><h2>Records</h2><div class=\"tiles\">"
        + _tile("records in", accounting.get("records_in", 0), "records_in")
        + _tile("exported", accounting.get("exported", 0), "exported")
        + _tile("duplicates merged", accounting.get("duplicates_merged", 0), "duplicates_merged")
        + _tile("rejected", accounting.get("rejected", 0), "rejected")
        + "</div>"
        f'<p class="identity">{_n(accounting.get("records_in", 0))} in = '
        f'{_n(accounting.get("exported", 0))} exported + '
        f'{_n(accounting.get("duplicates_merged", 0))} merged + '
        f'{_n(accounting.get("rejected", 0))} rejected {verdict}</p></section>'
    )


def _alert(warnings: Sequence[Mapping[str, Any]]) -> str:
    if not warnings:
        return ""
    items = "".join(f'<li data-warning="">{_e(w["message"])}</li>' for w in warnings)
    return (
        '<div class="alert" role="alert"><h2>The source lacks fields the business rules '
        f"need</h2><ul>{items}</ul></div>"
    )


def _warning_list(warnings: Sequence[Mapping[str, Any]]) -> str:
    items = "".join(f"<li>{_e(w['message'])}</li>" for w in warnings)
    return f'<ul class="alert">{items}</ul>' if items else ""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _missing(what: str) -> str:
    return f'<p class="note">{_e(what)} is not in this run\'s metadata.</p>'


def _quality(metadata: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    from . import charts

    bands = metadata.get("data_quality_summary", {})
    band_chart = charts.bar_chart(
        {
            "high (≥ 90)": bands.get("high_quality", 0),
            "medium (70–89)": bands.get("medium_quality", 0),
            "low (< 70)": bands.get("low_quality", 0),
        },
        title="Quality bands",
        label="customers per quality band",
        colors=(charts.GREEN, charts.ORANGE, charts.RED),
    )
    histogram = details.get("score_histogram")
    histogram_chart = (
        charts.bar_chart(histogram, title="Data-quality score", label="score histogram",
                         width=5.4)
        if histogram
        else _missing("The score histogram")
    )
    tiles = (
        _tile("high quality", bands.get("high_quality", 0), "high_quality")
        + _tile("medium quality", bands.get("medium_quality", 0), "medium_quality")
        + _tile("low quality", bands.get("low_quality", 0), "low_quality")
    )
    return (
        f'<section id="quality"><h2>Quality</h2><div class="tiles">{tiles}</div>'
        f'<div class="grid"><div>{band_chart}</div><div>{histogram_chart}</div></div></section>'
    )


def _fields(details: Mapping[str, Any]) -> str:
    from . import charts

    fields = details.get("fields")
    if not fields:
        return _section("fields", "Scored fields", _missing("Per-field quality"))
    chart = charts.field_quality_chart(fields, label="missing and invalid values per field")
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class=\"num\">{_n(c.get('present', 0))}</td>"
        f"<td class=\"num\">{_n(c.get('missing', 0))}</td>"
        f"<td class=\"num\">{_n(c.get('invalid', 0))}</td></tr>"
        for name, c in fields.items()
    )
    table = (
        '<table><tr><th>field</th><th class="num">present</th><th class="num">missing</th>'
        f'<th class="num">invalid</th></tr>{rows}</table>'
    )
    return (
        '<section id="fields"><h2>Scored fields (exported customers)</h2>'
        f'<div class="grid"><div>{chart}</div><div>{table}</div></div></section>'
    )


def _coverage(metadata: Mapping[str, Any]) -> str:
    from . import charts

    coverage = metadata.get("source_field_coverage")
    warnings = metadata.get("source_field_warnings", [])
    if not coverage:
        return _section("coverage", "Source field coverage", _missing("Coverage"))
    warned = [name for w in warnings for name in w["fields"]]
    chart = charts.coverage_chart(
        coverage, warned, ABSENT_SHARE_LIMIT, label="share of records that carried each field"
    )
    note = (
        f'<p class="note">Share of raw records in which the source sent the field at all. '
        f"Red: absent from more than {format_share(ABSENT_SHARE_LIMIT)} of records.</p>"
    )
    return (
        f'<section id="coverage"><h2>Source field coverage</h2>{_warning_list(warnings)}'
        f"{note}{chart}</section>"
    )


def _values(summary: Mapping[str, Any], details: Mapping[str, Any], name: str) -> list[str]:
    """The values of a derived field: every allowed one in the transform's order when the
    quality details list them, else those the customers took; ``unknown`` last."""
    values = list((details.get("distributions") or {}).get(name) or summary.get(name, {}))
    return [v for v in values if v != "unknown"] + [v for v in values if v == "unknown"]


def _count(summary: Mapping[str, Any], details: Mapping[str, Any], field: str, value: str) -> int:
    counts = (details.get("distributions") or {}).get(field) or summary.get(field, {})
    return int(counts.get(value, 0))


def _transposed(table: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    flipped: dict[str, dict[str, int]] = {}
    for row, cells in table.items():
        for column, count in cells.items():
            flipped.setdefault(column, {})[row] = count
    return flipped


def _derived(summary: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    from . import charts

    segments = _values(summary, details, "market_segment")
    tiers = _values(summary, details, "customer_tier")
    levels = _values(summary, details, "engagement_level")
    channels = _values(summary, details, "acquisition_channel")
    segment_tier = summary.get("market_segment_by_customer_tier", {})
    engagement_channel = _transposed(summary.get("engagement_level_by_acquisition_channel", {}))
    parts = []
    if segments and tiers:
        parts.append(
            charts.heat_map(segment_tier, segments, tiers,
                            title="Market segment by customer tier",
                            label="customers by market segment and customer tier")
        )
    if levels and channels:
        parts.append(
            charts.stacked_bars(engagement_channel, channels, levels,
                                title="Engagement by acquisition channel",
                                label="engagement level per acquisition channel")
        )
    activity = {name: _count(summary, details, "activity_status", name)
                for name in _values(summary, details, "activity_status")}
    if activity:
        parts.append(
            charts.bar_chart(activity, title="Activity status", label="customers per activity "
                             "status", width=3.6)
        )
    body = "".join(f"<div>{part}</div>" for part in parts) or _missing("The derived fields")
    return _section("derived", "Derived fields", f'<div class="grid wide">{body}</div>')


def _fetch(stats: Mapping[str, Any]) -> str:
    from . import charts

    retries = stats.get("retries", {})
    tiles = (
        _tile("pages", stats.get("pages", 0), "pages")
        + _tile("requests", stats.get("requests", 0), "requests")
        + _tile("retries", stats.get("retries_total", sum(retries.values())), "retries")
        + _tile("429 answers", stats.get("rate_limited", 0), "rate_limited")
        + _tile("waited (s)", f"{float(stats.get('waited_seconds', 0.0)):.2f}", "waited")
    )
    retry_chart = (
        charts.bar_chart(retries, title="Retries by cause", label="retries by cause",
                         color=charts.ORANGE, width=3.8)
        if retries
        else '<p class="note">No retries.</p>'
    )
    timeline = stats.get("page_timeline")
    timeline_chart = (
        charts.timeline_chart(timeline, label="pages received over time")
        if timeline
        else _missing("The page timeline")
    )
    events = stats.get("drift_events", [])
    drift = (
        "<ul>" + "".join(f"<li>{_e(event)}</li>" for event in events) + "</ul>"
        if events
        else '<p class="note">No drift detected: the data did not change during the sync.</p>'
    )
    return (
        f'<section id="fetch"><h2>Fetch</h2><div class="tiles">{tiles}</div>'
        f'<div class="grid"><div>{retry_chart}</div><div>{timeline_chart}</div></div>'
        f"<h2>Drift</h2>{drift}</section>"
    )


def _rejections(details: Mapping[str, Any], examples: Mapping[str, str]) -> str:
    reasons = details.get("rejection_reasons")
    if reasons is None:
        return _section("rejections", "Rejections", _missing("Rejection reasons"))
    if not reasons:
        return _section("rejections", "Rejections", '<p class="note">None.</p>')
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    rows = "".join(
        f'<tr><td>{_e(reason)}</td><td class="num">{_n(count)}</td>'
        f"<td><code>{_e(_example_for(reason, examples))}</code></td></tr>"
        for reason, count in top
    )
    more = len(reasons) - len(top)
    tail = f'<p class="note">…and {more:,} more reasons in the metadata.</p>' if more > 0 else ""
    return (
        '<section id="rejections"><h2>Top rejection reasons</h2>'
        '<table><tr><th>reason</th><th class="num">records</th><th>example (emails masked)</th>'
        f"</tr>{rows}</table>{tail}</section>"
    )


def _example_for(reason: str, examples: Mapping[str, str]) -> str:
    if reason in examples:
        return examples[reason]
    for full, text in examples.items():  # reasons may be grouped ("invalid_id: 'x'")
        if full.split(":", 1)[0] == reason:
            return text
    return "(no example kept)"


def render_report(metadata: Mapping[str, Any], examples: Mapping[str, str] | None = None) -> str:
    """The whole report page as HTML text."""
    details = metadata.get("data_quality_details") or {}
    summary = metadata.get("summary", {})
    body = "".join(
        (
            _header(metadata),
            _alert(metadata.get("source_field_warnings", [])),
            _quality(metadata, details),
            _fields(details),
            _coverage(metadata),
            _derived(summary, details),
            _fetch(metadata.get("run_stats", {})),
            _rejections(details, examples or {}),
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="run-id" content="{_e(metadata.get("run_id", ""))}">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        "<title>Customer sync: data-quality report</title>"
        f"<style>{_CSS}</style></head><body><main>{body}</main></body></html>\n"
    )
