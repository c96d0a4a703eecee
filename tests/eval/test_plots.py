"""The plots' content, read back from the matplotlib figures: titles, labels, bar heights, histogram totals, lines,
stage shading. Files are written too (PNG signature checked), via the functions and the CLI."""

from __future__ import annotations

import json

import pytest
from matplotlib.patches import Rectangle

from verl_score.eval import plots
from verl_score.eval.runner import write_jsonl

from tests.eval.records import record

PNG = b"\x89PNG\r\n\x1a\n"


def eval_records() -> list[dict]:
    return [
        record("a", "gsm8k", [1, 1], texts=["same text", "same text"]),       # c→c, ratio 0
        record("b", "gsm8k", [1, 0], texts=["abcd", "abxy"]),                  # c→i, ratio 0.25
        record("c", "gsm8k", [0, 1], texts=["kitten", "sitting"]),             # i→c, ratio 3/13
        record("d", "gsm8k", [0, 1], texts=["aaaa", "bbbb"]),                  # i→c, ratio 0.5
        record("e", "math", [0, 0], texts=["x", "y"]),                         # i→i, ratio 0.5
        record("f", "math", [0, 0], texts=["q", "q"]),                         # i→i, ratio 0
        record("g", "math", [0, 0], status="generation_failed"),               # not plotted, not counted
    ]


def bar_heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]


def test_transition_chart_bars_are_the_counts(tmp_path):
    fig = plots.plot_transitions(eval_records(), tmp_path / "t.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Attempt 1 → attempt 2 transitions (N=6)"
    assert ax.get_xlabel() == "transition (attempt 1 → last attempt)" and ax.get_ylabel() == "episodes"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c→c", "c→i", "i→c", "i→i"]
    containers = ax.containers
    assert [c.get_label() for c in containers] == ["all", "gsm8k", "math"]
    assert [b.get_height() for b in containers[0]] == [1, 1, 2, 2]
    assert [b.get_height() for b in containers[1]] == [1, 1, 2, 0]
    assert [b.get_height() for b in containers[2]] == [0, 0, 0, 2]
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG


def test_single_source_has_one_group():
    recs = [r for r in eval_records() if r["data_source"] == "gsm8k"]
    ax = plots.plot_transitions(recs).axes[0]
    assert len(ax.containers) == 1 and [b.get_height() for b in ax.containers[0]] == [1, 1, 2, 0]


def test_edit_distance_histograms_split_by_transition_total_n(tmp_path):
    fig = plots.plot_edit_distance(eval_records(), tmp_path / "e.png", bins=4)
    assert fig._suptitle.get_text() == "Edit-distance ratio between attempts (N=6)"
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["c→c (n=1)", "c→i (n=1)", "i→c (n=2)", "i→i (n=2)"]
    assert all(ax.get_xlabel() == "edit-distance ratio" for ax in axes) and axes[0].get_ylabel() == "episodes"
    heights = [bar_heights(ax) for ax in axes]
    assert sum(map(sum, heights)) == 6  # every scored episode exactly once
    # bins [0, .25) [.25, .5) [.5, .75) [.75, 1]: ratios c→c 0 | c→i .25 | i→c 3/13, .5 | i→i .5, 0
    assert heights == [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]]
    assert (tmp_path / "e.png").read_bytes()[:8] == PNG


def write_log(path, rows):
    with path.open("w") as f:
        for step, data in rows:
            f.write(json.dumps({"step": step, "data": data}) + "\n")


def training_log(tmp_path):
    rows = []
    for step in range(1, 9):
        stage = 1 if step <= 3 or step == 7 else 2  # stages may interleave: 1 1 1 2 2 2 1 2
        rows.append((step, {
            "score/stage": stage, "score/acc@t1": 0.1 * step, "score/acc@t2": 0.1 * step + 0.05,
            "score/delta_i2c_uncond": 0.02, "score/reward_t1/mean": 0.3, "score/reward_t2/mean": 0.4,
            "critic/score/mean": 0.35, "score/kl_attempt1": 0.01, "actor/lr": 1e-6, "note": "text is skipped",
            "score/fix_rate_i2c_cond": float("nan") if step == 1 else 0.5,
        }))
    log = tmp_path / "run.jsonl"
    write_log(log, rows)
    return log


def test_history_panels_lines_and_stage_shading(tmp_path):
    series = plots.read_history(training_log(tmp_path))
    assert "note" not in series and series["score/fix_rate_i2c_cond"][0] == list(range(2, 9))  # NaN skipped
    fig = plots.plot_history(series, tmp_path / "h.png", title="run")
    acc, reward, other = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["run: accuracy", "run: reward", "run: other"]
    assert sorted(line.get_label() for line in acc.lines) == [
        "score/acc@t1", "score/acc@t2", "score/delta_i2c_uncond", "score/fix_rate_i2c_cond"]
    assert sorted(line.get_label() for line in reward.lines) == [
        "critic/score/mean", "score/reward_t1/mean", "score/reward_t2/mean"]
    assert [line.get_label() for line in other.lines] == ["score/kl_attempt1"]  # actor/lr is not a score/* key
    line = next(ln for ln in acc.lines if ln.get_label() == "score/acc@t2")
    assert list(line.get_xdata()) == list(range(1, 9)) and line.get_ydata()[0] == pytest.approx(0.15)
    # stage spans 1:[1,3] 2:[4,6] 1:[7] 2:[8] shaded on every panel, one legend entry per stage
    spans = [p for p in acc.patches if isinstance(p, Rectangle) or p.__class__.__name__ == "Polygon"]
    assert len(spans) == 4
    assert plots.stage_spans(*series["score/stage"]) == [(1, 1, 3), (2, 4, 6), (1, 7, 7), (2, 8, 8)]
    legend = [t.get_text() for t in acc.get_legend().get_texts()]
    assert legend.count("stage 1") == 1 and legend.count("stage 2") == 1
    assert fig.axes[-1].get_xlabel() == "step"
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG


def test_cli_writes_all_pngs(tmp_path, capsys):
    samples = tmp_path / "samples.jsonl"
    write_jsonl(eval_records(), samples)
    out = plots.main(["eval", "--samples", str(samples), "--out", str(tmp_path / "p")])
    out += plots.main(["history", "--log", str(training_log(tmp_path)), "--out", str(tmp_path / "p")])
    assert sorted(p.name for p in out) == ["edit_distance_hist.png", "training_history.png", "transitions.png"]
    assert all(p.read_bytes()[:8] == PNG for p in out)
    empty = tmp_path / "empty.jsonl"
    write_log(empty, [(1, {"actor/lr": 1.0})])
    with pytest.raises(SystemExit, match="no score"):
        plots.main(["history", "--log", str(empty), "--out", str(tmp_path / "q")])


def test_compare_draws_one_line_per_run_and_names_a_missing_metric(tmp_path):
    a = plots.read_history(training_log(tmp_path))
    b = {"score/acc@t1": ([1, 2], [0.5, 0.25])}
    fig = plots.plot_compare({"arm_a": a, "arm_b": b}, ["score/acc@t1", "score/acc@t2", "actor/none"], tmp_path / "c.png",
                             title="t")
    t1, t2, none = fig.axes
    assert [ln.get_label() for ln in t1.lines] == ["arm_a", "arm_b"]
    assert list(t1.lines[1].get_ydata()) == [0.5, 0.25]
    assert [ln.get_label() for ln in t2.lines] == ["arm_a"]  # arm_b did not log it
    assert not none.lines and none.get_title() == "t: actor/none (not logged by any run)"
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
