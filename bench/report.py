"""The benchmark's results as rows: printed as a table, and written into README.md
between two markers, so that no figure there is typed by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.table import Table

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    measure: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.met]


def rows(results: dict[str, Any]) -> list[Row]:
    return [*_large(results["large_tenant"]), *_tenants(results["many_tenants"]),
            *_engine(results["engine"])]  # fmt: skip


def _large(r: dict[str, Any]) -> list[Row]:
    first, again, changed = r["first"], r["resync"], r["changed"]
    naive_first, naive_again = r["naive_first"], r["naive_resync"]
    minimum_calls = r["minimum_writes"] + r["minimum_reads"]
    floor = minimum_calls / (r["budget_per_minute"] / 60)
    objects = ", ".join(f"{n:,} {kind}s" for kind, n in r["objects"].items())
    writes = first["edusign_writes"] / r["minimum_writes"]
    wall = first["wall"] / floor
    one = "1. First sync"
    return [
        Row(one, "objects in Edusign afterwards", objects),
        Row(one, "Edusign writes vs minimum (one per object)",
            f"{first['edusign_writes']:,} / {r['minimum_writes']:,} = {writes:.3f}x",
            "<= 1.05x", writes <= 1.05),
        Row(one, "Edusign reads vs minimum (one listing per kind)",
            f"{first['edusign_reads']:,} / {r['minimum_reads']:,}"),
        Row(one, "CELCAT calls (reads) vs the API's minimum",
            f"{first['celcat_calls']:,} / {r['celcat_minimum']:,}"
            f" = {first['celcat_calls'] / r['celcat_minimum']:.3f}x"),
        Row(one, f"wall time vs floor ({minimum_calls:,} calls at {r['budget_per_minute']:,}/min)",
            f"{first['wall']:.1f} s / {floor:.1f} s = {wall:.2f}x", "<= 1.2x", wall <= 1.2),
        Row(one, "requests Edusign had to slow down", f"{first['edusign_slowed']:,}"),
        Row("2. Re-sync, nothing changed", "Edusign writes", f"{again['edusign_writes']:,}",
            "0", again["edusign_writes"] == 0),
        Row("2. Re-sync, nothing changed", "Edusign calls, CELCAT calls, wall time",
            f"{again['edusign_calls']:,}, {again['celcat_calls']:,}, {again['wall']:.1f} s"),
        Row("2. Re-sync, 2% changed", "Edusign writes vs sheets changed",
            f"{changed['edusign_writes']:,} / {r['changed_sheets']:,}"
            f" = {changed['edusign_writes'] / r['changed_sheets']:.2f}x"),
        Row("2. Re-sync, 2% changed", "Edusign reads, wall time",
            f"{changed['edusign_reads']:,}, {changed['wall']:.1f} s"),
        Row("3. Naive sync, first", "Edusign calls: naive / passerelle",
            _ratio(naive_first["edusign_calls"], first["edusign_calls"])),
        Row("3. Naive sync, first", "wall time: naive / passerelle",
            f"{naive_first['wall']:.1f} s / {first['wall']:.1f} s"
            f" = {naive_first['wall'] / first['wall']:.1f}x"),
        Row("3. Naive sync, re-sync", "Edusign calls: naive / passerelle",
            _ratio(naive_again["edusign_calls"], again["edusign_calls"]), ">= 10x",
            naive_again["edusign_calls"] >= 10 * again["edusign_calls"]),
        Row("3. Naive sync, re-sync", "wall time: naive / passerelle",
            f"{naive_again['wall']:.1f} s / {again['wall']:.1f} s"
            f" = {naive_again['wall'] / again['wall']:.1f}x"),
    ]  # fmt: skip


def _tenants(r: dict[str, Any]) -> list[Row]:
    four = f"4. {r['tenants']} tenants, one worker"
    ratio = r["wall"] / r["slowest_alone"]
    return [
        Row(four, "total wall vs slowest tenant alone",
            f"{r['wall']:.1f} s / {r['slowest_alone']:.1f} s = {ratio:.2f}x", "< 1.5x",
            ratio < 1.5),
        Row(four, "slowest tenant within the batch", f"{r['slowest_in_batch']:.1f} s"),
        Row(four, "objects that failed", f"{r['objects_failed']:,}", "0", r["objects_failed"] == 0),
        Row(four, "peak memory (before the batch)",
            f"{r['peak_rss_mib']:.0f} MiB ({r['peak_rss_before_mib']:.0f} MiB)"),
        Row(four, "CPU per 1,000 objects written",
            f"{r['cpu_per_1000_objects']:.2f} s ({r['objects_written']:,} objects, "
            f"{r['cpu']:.1f} s)"),
    ]  # fmt: skip


def _engine(runs: list[dict[str, Any]]) -> list[Row]:
    five = "5. Engine, HTTP stubbed"
    return [
        row
        for r in runs
        for row in (
            Row(five, f"{r['occurrences']:,} occurrences: records per second",
                f"{r['records_per_second']:,.0f} ({r['records']:,} in {r['wall']:.1f} s)"),
            Row(five, f"{r['occurrences']:,} occurrences: peak memory (before the run)",
                f"{r['peak_rss_mib']:.0f} MiB ({r['peak_rss_before_mib']:.0f} MiB)"),
        )
    ]  # fmt: skip


def _ratio(naive: int, ours: int) -> str:
    if ours == 0:
        return f"{naive:,} / 0 (passerelle made no call)"
    return f"{naive:,} / {ours:,} = {naive / ours:.1f}x"


def table(results: dict[str, Any]) -> Table:
    view = Table(title="passerelle benchmarks", caption=_caption(results))
    for column in ("scenario", "measure", "measured", "target", ""):
        view.add_column(column)
    for row in rows(results):
        view.add_row(row.scenario, row.measure, row.value, row.target, row.verdict)
    return view


def _caption(results: dict[str, Any]) -> str:
    s, m = results["settings"], results["machine"]
    return (
        f"size {s['size']}, {s['latency_ms']:g} ms per request, Edusign budget x{s['rate_scale']:g}"
        f" (large tenant), x{s['tenants_rate_scale']:g} (tenants); {m['cpus']} CPUs"
        f" ({m['processor']}), {m['memory_gib']} GiB, Python {m['python']}, {m['system']}"
    )


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | measure | measured | target |",
        "|---|---|---|---|",
        *(
            f"| {r.scenario} | {r.measure} | {r.value} | {r.target} {r.verdict} |".replace(
                "  |", " |"
            )
            for r in rows(results)
        ),
        "",
        f"_{_caption(results)}._",
    ]
    return "\n".join(lines)


def readme_with(readme: str, results: dict[str, Any]) -> str:
    """``readme`` with the text between the markers replaced by the results' table."""
    block = f"{BEGIN}\n{markdown(results)}\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README.md has no {BEGIN} ... {END} block to fill")
    return pattern.sub(lambda _: block, readme)
