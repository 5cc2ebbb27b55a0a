"""The bottom line as report sections: one table per threshold rule, then the ranking across data sets."""

from __future__ import annotations

import math

from hfa.report.bottom import TEST, BottomLine, Line
from hfa.report.stats import ALPHA
from hfa.report.tables import Section, format_key, format_number, format_p, header, p_equals


def bottom_sections(bottom: BottomLine, split_words: dict[str, str]) -> list[Section]:
    """Per rule: a row per block naming the choice, its test estimate and the methods it cannot be told from."""
    out = []
    metric = bottom.metric
    for rule in dict.fromkeys(line.rule for line in bottom.lines):
        lines = [line for line in bottom.lines if line.rule == rule]
        head = [header(k) for k in bottom.block_keys]
        head += ["choice", "ties", f"val {metric}", f"test {metric} [95% CI]", "runs"]
        rows = [
            [*(format_key(k, v) for k, v in zip(bottom.block_keys, line.block, strict=True)), *_cells(line)]
            for line in lines
        ]
        notes = [
            f"choice: the method ({' x '.join(bottom.method_keys)}) with the best mean validation {metric} under "
            "this rule; test numbers play no part in it. Interval: 95% percentile bootstrap of the mean test "
            f"{metric}. ties: the other methods not distinguishable from the choice ({TEST}, p >= {ALPHA})."
        ]
        notes += [_detail(bottom, line) for line in lines]
        ranked = [r for r in bottom.rankings if r.rule == rule]
        for r in ranked:
            ranks = ", ".join(f"{m} {format_number(v, 2)}" for m, v in r.mean_rank.items())
            friedman = "Friedman: needs 3 methods"
            if not math.isnan(r.friedman_p):
                cd = format_number(r.critical_difference, 2)
                friedman = f"Friedman {p_equals(r.friedman_p)}; Nemenyi critical difference {cd}"
            notes.append(f"across {r.blocks} blocks, mean rank of test {metric} (1 = best): {ranks}; {friedman}")
        title = f"Bottom line · {split_words.get(rule, rule)}"
        out.append(Section(title, head, rows, numeric=3, notes=notes))
    return out


def _block(bottom: BottomLine, line: Line) -> str:
    return ", ".join(format_key(k, v) for k, v in zip(bottom.block_keys, line.block, strict=True)) or "all runs"


def _cells(line: Line) -> list[str]:
    ci = f"{format_number(line.test_mean)} [{format_number(line.ci_low)}, {format_number(line.ci_high)}]"
    tied, others = int(line.others["tied"].sum()), len(line.others)
    ties = "none" if not tied else "all" if tied == others else f"{tied} of {others}"
    return [line.best, ties, format_number(line.best_val), ci, str(line.n)]


def _detail(bottom: BottomLine, line: Line) -> str:
    """The choice's setting, its ties with their Holm p, and why nothing could be told apart (when so)."""
    text = f"{_block(bottom, line)}: {line.best}"
    if line.setting:
        text += " (" + ", ".join(f"{_short(k)}={format_key(k, _plain(v))}" for k, v in line.setting.items()) + ")"
    tied = line.others[line.others["tied"]]
    if len(tied):
        text += "; ties (Holm p): " + ", ".join(
            f"{m} {format_p(p)}" for m, p in zip(tied["method"], tied["p_holm"], strict=True)
        )
    return text + (f"; {line.why}" if line.why else "")


def _short(key: str) -> str:
    return "loss" if key == "loss.name" else header(key)


def _plain(value: object) -> object:
    """A numpy scalar as a Python number, so ``format_key`` prints 0.0129 rather than a repr."""
    return value.item() if hasattr(value, "item") else value
