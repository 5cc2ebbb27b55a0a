"""`data.positive` matches the label as the column stores it, whatever YAML made of the text."""

from __future__ import annotations

import numpy as np
import pytest

from hfa.config import load_config
from hfa.data.labels import binarize
from hfa.errors import HfaError


@pytest.mark.parametrize(
    ("override", "labels", "expected"),
    [
        ("data.positive=yes", ["yes", "no", "yes"], [1, 0, 1]),  # YAML: True
        ("data.positive=no", ["yes", "no", "yes"], [0, 1, 0]),  # YAML: False
        ("data.positive=On", ["On", "Off"], [1, 0]),
        ("data.positive=0x1A", ["0x1A", "b"], [1, 0]),  # YAML: 26
        ("data.positive=2024-01-01", ["2024-01-01", "2024-01-02"], [1, 0]),  # YAML: a date
        ('data.positive="yes"', ["yes", "no"], [1, 0]),  # quoted: already the text
        ("data.positive=1", [1.0, 0.0, 1.0], [1, 0, 1]),
    ],
)
def test_the_text_typed_matches_the_stored_label(override, labels, expected):
    positive = load_config(None, [override]).data.positive
    np.testing.assert_array_equal(binarize(labels, positive, what="column 'y'"), expected)


def test_yes_and_on_are_text_not_true():
    # hfa reads YAML booleans as YAML 1.2 does (true/false only), so yes/on stay the labels the user wrote.
    assert load_config(None, ["data.positive=yes"]).data.positive == "yes"
    with pytest.raises(HfaError, match="data.positive=True is not a label .* 'no', 'on', 'yes'"):
        binarize(["yes", "on", "no"], True, what="column 'y'")


def test_two_labels_that_yaml_reads_alike_are_ambiguous():
    with pytest.raises(HfaError, match="several labels.*'032', '0x1A'"):
        binarize(["0x1A", "032", "no"], 26, what="column 'y'")


def test_a_real_boolean_column_still_matches_true():
    np.testing.assert_array_equal(binarize(np.array([True, False]), True, what="column 'y'"), [1, 0])
