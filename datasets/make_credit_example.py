"""Write datasets/credit_example.csv: a small, made-up credit-default table to try the CSV path offline.

    .venv/bin/python datasets/make_credit_example.py      # rewrites the file; same seed, same bytes

It has what real tables have and the named data sets lack: text categories (with a few blanks), missing
numbers, and a yes/no label, so it needs `data.target: default` and `data.positive: "yes"`.
120 of the 800 rows default (~5.7 negatives per positive). The people and numbers are invented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 800
SEED = 20240601
OUT = Path(__file__).with_name("credit_example.csv")


def make(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 76, rows)
    employment = rng.choice(
        ["salaried", "self-employed", "unemployed", "retired", "student"], rows, p=[0.55, 0.15, 0.1, 0.12, 0.08]
    )
    housing = rng.choice(["own", "rent", "mortgage"], rows, p=[0.3, 0.4, 0.3])
    income = np.round(rng.lognormal(mean=3.6, sigma=0.45, size=rows), 1)  # thousands per year
    income[employment == "unemployed"] *= 0.3
    debt_ratio = np.round(rng.gamma(2.0, 0.18, rows), 3)
    late_payments = rng.poisson(0.6, rows)

    # Default risk rises with debt and late payments, falls with income and age; unemployment adds to it.
    logit = (
        -4.4
        + 3.5 * debt_ratio
        + 1.0 * late_payments
        - 0.03 * (income - 40)
        - 0.03 * (age - 45)
        + 1.2 * (employment == "unemployed")
        + 0.4 * (housing == "rent")
    )
    default = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")

    table = pd.DataFrame(
        {
            "age": age,
            "income": np.round(income, 1),
            "debt_ratio": debt_ratio,
            "late_payments": late_payments,
            "employment": employment,
            "housing": housing,
            "default": default,
        }
    )
    # Blanks as real exports have them: a missing number is imputed, a missing category is its own level.
    table["income"] = table["income"].mask(rng.random(rows) < 0.03)
    table["employment"] = table["employment"].mask(rng.random(rows) < 0.02)
    return table


if __name__ == "__main__":
    make().to_csv(OUT, index=False, lineterminator="\n")
