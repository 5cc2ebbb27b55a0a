"""Reports over run folders: collect -> stats -> tables -> figures.

``load_runs`` reads the runs, ``build_report`` computes the numbers (summaries per threshold rule, paired
tests against the baseline, ranks across data sets), ``render`` / ``sections`` turn them into text, and
``hfa.report.figures`` draws them. The CLI (``hfa report``) is a thin layer over these.
"""

from hfa.report.build import AUTO_BASELINE, Report, build_report
from hfa.report.collect import DEFAULT_RULES, RULES, SPLITS, Runs, load_runs, row_keys
from hfa.report.tables import FORMATS, Section, render, report_notes, sections

__all__ = [
    "AUTO_BASELINE",
    "DEFAULT_RULES",
    "FORMATS",
    "RULES",
    "SPLITS",
    "Report",
    "Runs",
    "Section",
    "build_report",
    "load_runs",
    "render",
    "report_notes",
    "row_keys",
    "sections",
]
