"""DynamoDB's documented limits on what one record can hold, as code.

From the DynamoDB developer guide ("Service, account, and table quotas" and "Data types"):

- an item is at most 400 KB, attribute names and values together (UTF-8);
- a number has at most 38 significant digits, and a non-zero one lies between 1E-130 and
  9.9999999999999999999999999999999999999E+125 in magnitude.

boto3's serializer enforces the number rules (its decimal context traps anything it would have
to round or that is out of range), so a value breaking them raises on every write of the record.
The submit Lambda checks job options against them first, so such an upload is rejected with a
reason instead (tests/unit/lambdas/test_dynamo_limits.py checks these against boto3).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_ITEM_BYTES = 400 * 1024
NUMBER_MAX_DIGITS = 38
NUMBER_MIN_MAGNITUDE = Decimal("1E-130")
NUMBER_MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")


def number_problem(value: int | float) -> str | None:
    """Why DynamoDB cannot store `value` as a number (as the Lambdas write it: through its JSON
    text), or None when it can."""
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return "is not a finite number"
    if not exact.is_finite():
        return "is not a finite number"
    if exact.is_zero():
        return None
    # Significant digits, counted exactly (normalize() would round to the context's precision);
    # boto3 writes a whole number with all its digits, trailing zeros included.
    shown = "".join(map(str, exact.as_tuple().digits))
    digits = len(shown.lstrip("0")) if isinstance(value, int) else len(shown.strip("0"))
    if digits > NUMBER_MAX_DIGITS:
        return f"has {digits} significant digits; at most {NUMBER_MAX_DIGITS} can be stored"
    magnitude = abs(exact)
    if magnitude < NUMBER_MIN_MAGNITUDE or magnitude > NUMBER_MAX_MAGNITUDE:
        return "is outside the storable range (0, or 1e-130 to 1e125 in magnitude)"
    return None
