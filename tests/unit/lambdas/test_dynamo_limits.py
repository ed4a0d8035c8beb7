"""DynamoDB's documented number and item limits (lambdas/dynamo_limits.py): every number they
accept, boto3's serializer writes (a number it refuses raises on every write of the record), and
the documented edges (38 digits, 1E-130 .. 9.99E+125) are refused even where boto3's looser
decimal context (Emin -128, Emax 126) would send them for DynamoDB to refuse."""

from __future__ import annotations

import decimal
import json

import pytest
from boto3.dynamodb.types import TypeSerializer

from lambdas import dynamo_limits, jobs


def _boto3_stores(value: float) -> bool:
    try:
        jobs.to_dynamo({"n": value})
    except (decimal.Inexact, decimal.Rounded, decimal.Overflow, decimal.Underflow):
        return False
    return True


@pytest.mark.parametrize(
    "value",
    [
        0,
        0.0,
        1,
        -1,
        0.5,
        1e-130,
        1e-131,
        1e-200,
        9.9e125,
        1e126,
        1e300,
        -1e300,
        10**37,
        10**38 - 1,
        10**38 + 1,
        10**39,
        int("1" * 40),
        1.7976931348623157e308,
        0.1 + 0.2,
    ],
)
def test_every_number_accepted_is_one_boto3_serialises(value: float) -> None:
    if dynamo_limits.number_problem(value) is None:
        assert _boto3_stores(value)
    elif value not in (1e-131, 1e-200, 1e126):  # boto3 sends those; DynamoDB refuses them
        assert not _boto3_stores(value)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1e-130, True),
        (-1e-130, True),
        (1e-131, False),
        (9.9e125, True),
        (1e126, False),
        (1e39, True),  # one significant digit
        (10**39, False),  # a whole number is written with all its 40 digits
        (int("9" * 38), True),
        (int("9" * 39), False),
        (int("1" * 40), False),
    ],
)
def test_the_documented_number_edges(value: float, stored: bool) -> None:
    assert (dynamo_limits.number_problem(value) is None) == stored


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    assert dynamo_limits.number_problem(value) == "is not a finite number"


def test_the_documented_limits() -> None:
    assert dynamo_limits.MAX_ITEM_BYTES == 400 * 1024 == jobs.MAX_ITEM_BYTES
    assert dynamo_limits.NUMBER_MAX_DIGITS == 38
    serializer = TypeSerializer()
    top = dynamo_limits.NUMBER_MAX_MAGNITUDE
    assert serializer.serialize(top) == {"N": str(top)}
    assert serializer.serialize(dynamo_limits.NUMBER_MIN_MAGNITUDE)["N"] == "1E-130"
    assert json.loads(json.dumps(1e-130)) == 1e-130
