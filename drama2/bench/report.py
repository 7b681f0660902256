"""The report of a run directory: report.md, report.html and figures/*.png, rebuilt by ``drama2 report DIR``.

The report is assembled once as a list of blocks (headings, paragraphs,
tables, images) and rendered twice, so the Markdown and the HTML always say
the same thing.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from drama2.bench import summary
from drama2.bench.store import RunStore, write_atomic

TOP_DRAMA_ROWS = 5


@dataclass
class Table:
    """A table to render; ``best`` holds (row, column) cells to mark as the best."""

    headers: list
    rows: list
    best: set = field(default_factory=set)
    caption: str = ""


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _best_cells(values: list[list], columns: list[int], higher_is_better=True) -> set:
    """Cells holding the best value of each column (all of them when tied)."""
    cells = set()
    for c in columns:
        column = [row[c] for row in values if isinstance(row[c], (int, float, np.floating)) and not np.isnan(row[c])]
        if not column:
            continue
        target = _fmt(max(column) if higher_is_better else min(column))
        cells |= {(r, c) for r, row in enumerate(values) if _fmt(row[c]) == target}  # ties as printed
    return cells


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------- figures
def _figure_name(dataset: str) -> str:
    return "heatmap-" + re.sub(r"[^A-Za-z0-9_.-]", "_", dataset) + ".png"


def draw_heatmap(grid: pd.DataFrame, title: str, path: Path) -> None:
    """A DRAMA-style reducer × metric heatmap with the values written in.

    The axes are placed at fixed margins (in inches) rather than by a layout
    engine: laying out costs a second full draw, and a bench draws one figure
    per dataset.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = grid.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    left = 0.25 + 0.075 * max(len(str(i)) for i in grid.index)
    bottom = 0.35 + 0.055 * max(len(str(c)) for c in grid.columns)
    top, right, colorbar = 0.35, 0.9, 0.15
    cell_w, cell_h = 0.75, 0.45
    width, height = left + cell_w * n_cols + colorbar + right, bottom + cell_h * n_rows + top
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((left / width, bottom / height, cell_w * n_cols / width, cell_h * n_rows / height))
    cax = fig.add_axes(((left + cell_w * n_cols + colorbar) / width, bottom / height, 0.15 / width,
                        cell_h * n_rows / height))
    finite = np.isfinite(values)
    image = ax.imshow(values, cmap="viridis", vmin=np.nanmin(values) if finite.any() else 0, vmax=1,
                      aspect="auto")
    ax.set_xticks(range(n_cols), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(n_rows), grid.index)
    best = f"{np.nanmax(values):.2f}" if finite.any() else None
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            shown = f"{v:.2f}"
            ax.text(j, i, shown, ha="center", va="center", fontsize=8,
                    fontweight="bold" if shown == best else "normal", color="black" if v > 0.75 else "white")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, cax=cax, label="AUC")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw_comparison(table: pd.DataFrame, path: Path) -> None:
    """Grouped bars: best DRAMA beside each baseline, per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = summary.score_columns(table)
    values = table[columns].astype(float)
    fig, ax = plt.subplots(figsize=(min(16.0, max(8.0, 0.6 * len(values))), 4.2),
                           constrained_layout=True)
    width = 0.8 / max(1, len(columns))
    x = np.arange(len(values))
    for k, column in enumerate(columns):
        ax.bar(x + (k - (len(columns) - 1) / 2) * width, values[column], width, label=column)
    ax.set_xticks(x, values.index, rotation=45, ha="right")
    ax.set_ylabel("AUC")
    ax.set_ylim(min(0.4, float(np.nanmin(values.to_numpy())) if values.size else 0.4), 1.0)
    ax.axhline(0.5, color="0.5", lw=0.8, ls="--")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("Best DRAMA (chosen with the labels) vs the baselines", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------- blocks
def _comparison_block(table: pd.DataFrame) -> Table:
    columns = summary.score_columns(table)
    headers = ["dataset", *columns] + (["best DRAMA configuration"] if summary.BEST_DRAMA in table else [])
    values = [[dataset, *[row[c] for c in columns]] + ([row["best DRAMA configuration"]]
              if summary.BEST_DRAMA in table else []) for dataset, row in table.iterrows()]
    best = {(r, c) for r, row in enumerate(values) for c in _row_best(row, range(1, len(columns) + 1))}
    stats = summary.mean_and_rank(table)
    values.append(["**mean**", *[stats.loc[c, "mean"] for c in columns]] + ([""] if len(headers) > len(columns) + 1
                                                                               else []))
    values.append(["**average rank**", *[stats.loc[c, "average rank"] for c in columns]]
                  + ([""] if len(headers) > len(columns) + 1 else []))
    n = len(values)
    best |= {(n - 2, c) for c in _row_best(values[-2], range(1, len(columns) + 1))}
    best |= {(n - 1, c) for c in _row_best(values[-1], range(1, len(columns) + 1), higher_is_better=False)}
    note = "AUC; the best of each row in bold. Average rank: 1 = best on every dataset."
    left_out = summary.incomplete_datasets(table)
    if left_out and len(left_out) < len(table):
        note += (f" Mean and average rank are over the {_plural(len(table) - len(left_out), 'dataset')} with a score in every "
                 f"column; left out: {', '.join(map(str, left_out))}.")
    elif left_out:
        note += " No dataset has a score in every column, so each mean is over that column's own datasets."
    return Table(headers, values, best, note)


def _row_best(row, columns, higher_is_better=True) -> list:
    numbers = {c: row[c] for c in columns if isinstance(row[c], (int, float, np.floating)) and not np.isnan(row[c])}
    if not numbers:
        return []
    target = _fmt((max if higher_is_better else min)(numbers.values()))
    return [c for c, v in numbers.items() if _fmt(v) == target]  # ties as printed


def _dataset_block(means: pd.DataFrame, dataset: str) -> Table:
    rows = means[means["dataset"] == dataset]
    # Stable order for ties: by score, then by name.
    drama = rows[summary.is_drama(rows)].sort_values(["auc", "pipeline"], ascending=[False, True],
                                                     kind="stable").head(TOP_DRAMA_ROWS)
    others = rows[~summary.is_drama(rows)]
    others = others.iloc[sorted(range(len(others)), key=lambda i: summary.natural_key(others["pipeline"].iloc[i]))]
    shown = pd.concat([drama, others])
    headers = ["pipeline", "AUC", "MCC", "RWS", "fit s", "seeds"]
    values = [[p, a, m, r, f, int(s)] for p, a, m, r, f, s in
              shown[["pipeline", "auc", "mcc", "rws", "fit_seconds", "seeds"]].itertuples(index=False)]
    return Table(headers, values, _best_cells(values, [1, 2, 3]),
                 f"Top {TOP_DRAMA_ROWS} DRAMA configurations and every other pipeline; best per column in bold. "
                 "MCC flags the top-n scores (n = number of anomalies); RWS weighs hits in the top n by rank, the "
                 "first most (results.csv also has rws_drama, the 2019 code's inverted weighting).")


def _timing_block(frame: pd.DataFrame) -> Table:
    timing = summary.timings(frame)
    values = [[family, int(row["fits"]), row["fit s (total)"], row["fit s (mean)"], row["score s (total)"]]
              for family, row in timing.iterrows()]
    return Table(["pipeline family", "fits", "fit s (total)", "fit s (mean)", "score s (total)"], values)


def _problems_block(frame: pd.DataFrame) -> Table | None:
    problems = frame[frame["status"] != "ok"].drop_duplicates(["job", "status", "error"])
    if problems.empty:
        return None
    problems = problems.assign(shown=np.where(summary.is_drama(problems), "drama-" + problems["reducer"].astype(str)
                                              + " (all metrics)", problems["pipeline"]))
    values = [[r.dataset, r.shown, r.status, r.error] for r in problems.itertuples()]
    return Table(["dataset", "pipeline", "status", "reason"], values)


def assemble(out: Path, frame: pd.DataFrame, manifest: dict) -> list:
    """The report's blocks; draws the figures into ``out/figures`` on the way."""
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    means = summary.pipeline_means(frame)
    counts = summary.status_counts(frame)
    config = manifest.get("config", {})
    blocks = [("h1", "drama2 bench report"),
              ("p", f"Protocol **{config.get('protocol', '?')}**, seeds {config.get('seeds', '?')}, "
                    f"{_plural(len(set(frame['dataset'])), 'dataset')}, {_plural(frame['job'].nunique(), 'fit')}, "
                    f"{_plural(len(frame), 'evaluation')} "
                    f"({', '.join(f'{n} {s}' for s, n in counts.items())}). drama2 "
                    f"{manifest.get('versions', {}).get('drama2', '?')}, device {manifest.get('device', '?')}, "
                    f"run {manifest.get('status', '?')} ({manifest.get('updated', '?')}). "
                    + _drama_settings(config))]
    if means.empty:
        blocks.append(("p", "No evaluation finished successfully; see the problems below."))
    else:
        table = summary.comparison(means)
        blocks += [("h2", "Best DRAMA configuration vs the baselines"),
                   ("p", "**Best DRAMA** is the reducer × metric with the highest AUC on each dataset, chosen with "
                         "the labels, as in the DRAMA paper's Table 6: an upper bound for DRAMA, not a detector you "
                         "could run blind. Scores are means over seeds."),
                   ("table", _comparison_block(table))]
        if len(table) > 0 and len(summary.score_columns(table)) > 0:
            draw_comparison(table, figures / "comparison.png")
            blocks.append(("img", "figures/comparison.png", "Best DRAMA vs baselines per dataset"))
        blocks.append(("h2", "Per dataset"))
        for dataset in dict.fromkeys(means["dataset"]):
            blocks.append(("h3", dataset))
            blocks.append(("table", _dataset_block(means, dataset)))
            grid = summary.heatmap(means, dataset)
            if grid.size:
                name = _figure_name(dataset)
                level = grid.attrs.get("split_level")
                draw_heatmap(grid, f"{dataset}: DRAMA AUC, reducer × metric"
                                   + (f", split level {level}" if level is not None else ""), figures / name)
                blocks.append(("img", f"figures/{name}", f"{dataset} reducer × metric AUC heatmap"))
        blocks += [("h2", "Run time per pipeline"), ("table", _timing_block(frame))]
    problems = _problems_block(frame)
    if problems is not None:
        blocks += [("h2", "Failed and skipped"), ("table", problems)]
    blocks += [("h2", "Provenance"),
               ("p", f"Command: `{' '.join(manifest.get('command', []))}`; git revision "
                     f"{manifest.get('git_revision') or 'unknown'}; full details in manifest.json.")]
    return blocks


def _drama_settings(config: dict) -> str:
    """The drama block's settings in words, so a reader knows which DRAMA (e.g. the faithful 2019 mode) ran."""
    settings = config.get("drama") or {}
    if not config.get("reducers") or not config.get("metrics"):
        return ""
    if not settings:
        return "DRAMA settings: Drama's defaults."
    return "DRAMA settings: " + ", ".join(f"{key}={value!r}" for key, value in sorted(settings.items())) + "."


# ---------------------------------------------------------------- renderers
def _is_text_column(table: Table, i: int) -> bool:
    """Whether column ``i`` holds only text (names, reasons), which reads better aligned left."""
    return all(not isinstance(row[i], (int, float, np.number)) for row in table.rows if row[i] not in ("", None))


def render_markdown(blocks: list) -> str:
    lines = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + " " + block[1], ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "img":
            lines += [f"![{block[2]}]({block[1]})", ""]
        else:
            table = block[1]
            lines.append("| " + " | ".join(table.headers) + " |")
            lines.append("|" + "|".join("---" if i == 0 or _is_text_column(table, i) else "---:"
                                        for i in range(len(table.headers))) + "|")
            for r, row in enumerate(table.rows):
                cells = [_fmt(v) for v in row]
                cells = [f"**{c}**" if (r, i) in table.best else c for i, c in enumerate(cells)]
                lines.append("| " + " | ".join(cells) + " |")
            lines += ["", f"*{table.caption}*", ""] if table.caption else [""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{padding:.25em .7em;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
td.best{font-weight:700;background:#e6f4ea}td.text{text-align:left}caption{caption-side:bottom;color:#666;font-size:.85em;text-align:left}
img{max-width:100%;margin:.5em 0}code{background:#f3f3f3;padding:0 .2em}
"""


def _inline_html(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cell_class(value, best: bool) -> str:
    """Numbers align right (the default), text left; the best cells are highlighted."""
    classes = (["best"] if best else []) + ([] if isinstance(value, (int, float, np.number)) else ["text"])
    return f" class='{' '.join(classes)}'" if classes else ""


def render_html(blocks: list) -> str:
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>drama2 bench report</title>",
             f"<style>{_CSS}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline_html(block[1])}</p>")
        elif kind == "img":
            parts.append(f"<img src='{html.escape(block[1])}' alt='{html.escape(block[2])}'>")
        else:
            table = block[1]
            parts.append("<table>")
            if table.caption:
                parts.append(f"<caption>{html.escape(table.caption)}</caption>")
            parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in table.headers) + "</tr>")
            for r, row in enumerate(table.rows):
                cells = "".join(f"<td{_cell_class(v, (r, i) in table.best)}>{_inline_html(_fmt(v))}</td>"
                                for i, v in enumerate(row))
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(out) -> Path:
    """Write ``report.md``, ``report.html`` and ``figures/*.png`` for the run directory ``out``.

    Returns
    -------
    Path
        The path of report.html.
    """
    out = Path(out)
    store = RunStore(out)
    blocks = assemble(out, store.read_results(), store.read_manifest())
    write_atomic(out / "report.md", render_markdown(blocks).encode())
    write_atomic(out / "report.html", render_html(blocks).encode())
    return out / "report.html"
