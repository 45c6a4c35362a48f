"""Discount rules (docs/pricing.md).

Bulk: 10 or more units of one product get 5% off that line, 20 or more 10%, 50 or more 15%.
Coupons apply to the subtotal after bulk discounts; one per order.
"""

from decimal import Decimal

from .money import round_cents

# (minimum quantity, rate), highest first: the first tier the quantity reaches applies.
BULK_TIERS = [
    (50, Decimal("0.15")),
    (20, Decimal("0.10")),
    (10, Decimal("0.05")),
]

COUPONS = {
    "WELCOME10": Decimal("0.10"),
    "SPRING5": Decimal("0.05"),
}


class InvalidCoupon(ValueError):
    """The order names a coupon code that does not exist."""


def bulk_rate(quantity: int) -> Decimal:
    """The bulk discount rate for `quantity` units of one product."""
    for threshold, rate in BULK_TIERS:
        if quantity > threshold:
            return rate
    return Decimal("0")


def line_discount(unit_price: Decimal, quantity: int, eligible: bool = True) -> Decimal:
    """The bulk discount of one line, rounded half-up to the cent."""
    if not eligible:
        return Decimal("0.00")
    return round_cents(unit_price * quantity * bulk_rate(quantity))


def coupon_rate(code) -> Decimal:
    if not code:
        return Decimal("0")
    try:
        return COUPONS[code.strip().upper()]
    except KeyError:
        raise InvalidCoupon(code) from None
