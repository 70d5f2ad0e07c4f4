"""The benchmark's report: Markdown, CSV and JSON tables, the terminal table and the PNG plot.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from edgedigits.console import markdown_table
from edgedigits.files import atomic_path, atomic_write, write_json
from edgedigits.runtime.formats import FORMATS

STATUS = {"ok": "✅", "low": "❎", "failed": "❌"}
COLUMNS = ["status", "format", "runtime", "threads", "size MB", "load ms", "first ms", "accuracy %", "reject %",
           "agree %",
           "p50 ms", "p90 ms", "p99 ms", "mean±std ms", "img/s", "RSS MB", "GMAC/s"]


def table_rows(report: dict) -> list[list[str]]:
    out = []
    for r in report["rows"]:
        if r["status"] == "failed":
            out.append([STATUS["failed"], r["format"], r["runtime"], str(r["threads"]), "", "", "", "", "", "", "",
                        "", "", r.get("reason", "")[:70], "", "", ""])
            continue
        lat = r["latency_ms"]
        out.append([STATUS[r["status"]], r["format"], r["backend"], str(r["threads"]), f"{r['size_mb']:.2f}",
                    f"{r['load_ms']:.0f}", f"{r['first_ms']:.1f}", f"{r['accuracy'] * 100:.2f}",
                    f"{r['reject_rate'] * 100:.2f}" if "reject_rate" in r else "",
                    f"{r['agreement'] * 100:.2f}" if "agreement" in r else "", f"{lat['p50']:.3f}",
                    f"{lat['p90']:.3f}", f"{lat['p99']:.3f}", f"{lat['mean']:.3f}±{lat['std']:.3f}",
                    f"{r['throughput_ips']:.0f}", f"{r['rss_mb']:.0f}",
                    f"{r['gmacs']:.1f}" if r.get("gmacs") else ""])
    return out


TERMINAL = ["status", "format", "runtime", "threads", "size MB", "load ms", "accuracy %", "reject %", "agree %",
            "p50 ms",
            "p99 ms", "img/s", "RSS MB", "GMAC/s"]


def terminal_rows(report: dict) -> list[list[str]]:
    """The columns that fit a terminal; the files hold them all."""
    keep = [COLUMNS.index(c) for c in TERMINAL]
    rows = []
    for full in table_rows(report):
        row = [full[i] for i in keep]
        if full[0] == STATUS["failed"]:
            row[5] = full[COLUMNS.index("mean±std ms")]  # the reason, in place of the numbers
        rows.append(row)
    return rows


def write_reports(report: dict, out: Path) -> None:
    write_json(out / "bench.json", report)
    rows = table_rows(report)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    atomic_write(out / "bench.csv", text.getvalue())
    sysinfo = report["system"]
    md = [f"# edgedigits bench ({sysinfo['date']})", "",
          f"{sysinfo['cpu']}, {sysinfo['cores']} cores, {sysinfo['machine']} ({', '.join(sysinfo['isa']) or 'no ISA flags'});"
          f" Python {sysinfo['versions'].get('python')}. Accuracy on {report['samples']:,} MNIST test digits; latency at "
          f"batch 1, throughput at batch {report['options']['batches'][1]}; agreement is top-1 agreement with the "
          f"Keras float model; reject % is the share an 11-class camera model called not a digit (counted wrong). "
          f"Status: ✅ ok, ❎ below {report['floor'] * 100:.2f}%, ❌ failed.", ""]
    md += markdown_table(COLUMNS, rows)
    pipe = [(r, p) for r in report["rows"] for p in r.get("pipeline") or []]
    if pipe:
        md += ["", "## Camera pipeline (generated 640x480 JPEG frames)", ""]
        md += markdown_table(
            ["format", "runtime", "threads", "digits asked", "digits found", "decode ms", "preprocess ms", "infer ms",
             "total ms", "fps"],
            [[r["format"], r["backend"], r["threads"], p["digits"], f"{p['found_per_frame']:.1f}",
              f"{p['decode_ms']:.2f}", f"{p['preprocess_ms']:.2f}", f"{p['infer_ms']:.2f}", f"{p['total_ms']:.2f}",
              f"{p['fps']:.0f}"] for r, p in pipe])
    atomic_write(out / "bench.md", "\n".join(md) + "\n")
    plot(report, out / "bench.png")


def plot(report: dict, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        return  # plots need edgedigits[train]; the tables are written regardless
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in report["rows"] if r["status"] != "failed"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    colours = {fmt: plt.cm.tab10(i) for i, fmt in enumerate(FORMATS)}
    for r in ok:
        left.scatter(r["latency_ms"]["p50"], r["accuracy"] * 100, s=50, color=colours[r["format"]],
                     marker="o" if r["threads"] == 1 else "s", edgecolor="black", linewidth=0.5,
                     label=f"{r['format']} · {r['backend']} · {r['threads']}t")
    if ok:
        accuracies = [r["accuracy"] * 100 for r in ok]
        left.set_ylim(min(accuracies) - 0.3, max(accuracies) + 0.1)  # room for the legend below
        left.legend(fontsize=7, loc="lower right", ncol=2)
    left.set_xscale("log")
    left.set_xlabel("latency p50 at batch 1 (ms, log scale)")
    left.set_ylabel("MNIST test accuracy (%)")
    left.set_title("latency vs accuracy (circles: 1 thread, squares: 2)")
    left.grid(alpha=0.3)
    sizes = {r["format"]: r["size_mb"] for r in ok}
    right.barh(list(sizes), list(sizes.values()), color="tab:blue")
    for i, value in enumerate(sizes.values()):
        right.text(value, i, f" {value:.2f} MB", va="center", fontsize=8)
    right.set_xlabel("file size (MB)")
    right.set_title("model file size per format")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
