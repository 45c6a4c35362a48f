"""Money helpers. Amounts are Decimal and round half-up to the cent (never binary floats)."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    """A price from JSON (string, int or float) as an exact Decimal."""
    if isinstance(value, float):
        value = repr(value)
    return Decimal(str(value))


def round_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str = "EUR") -> str:
    """1234.5 -> "1,234.50 EUR"; negative amounts keep their sign."""
    return f"{round_cents(amount):,.2f} {currency}"


def percent(rate: Decimal) -> str:
    """Decimal("0.05") -> "5%"."""
    return f"{(rate * 100).normalize():f}%"
