"""Invoices: lines with their bulk discounts, the subtotal, the coupon, VAT and the total."""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .catalog import Product, lookup
from .discounts import coupon_rate, line_discount
from .money import round_cents
from .tax import tax_rate


@dataclass
class LineItem:
    product: Product
    quantity: int

    @property
    def gross(self) -> Decimal:
        return self.product.unit_price * self.quantity

    @property
    def discount(self) -> Decimal:
        return line_discount(self.product.unit_price, self.quantity, self.product.bulk_eligible)

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount


@dataclass
class Invoice:
    number: str
    customer: str
    region: str
    lines: list = field(default_factory=list)
    coupon: str = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))

    @property
    def coupon_discount(self) -> Decimal:
        return round_cents(self.subtotal * coupon_rate(self.coupon))

    @property
    def tax(self) -> Decimal:
        keep = 1 - coupon_rate(self.coupon)
        total = sum(
            (line.net * keep * tax_rate(self.region, line.product.tax_class) for line in self.lines),
            Decimal("0"),
        )
        return round_cents(total)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.coupon_discount + self.tax


def build_invoice(order: dict, catalog: dict) -> Invoice:
    """An Invoice from an order dict (see data/sample_order.json)."""
    lines = []
    for row in order["lines"]:
        quantity = int(row["quantity"])
        if quantity <= 0:
            raise ValueError(f"quantity must be positive, got {quantity} for {row['sku']}")
        lines.append(LineItem(lookup(catalog, row["sku"]), quantity))
    coupon_rate(order.get("coupon"))  # an unknown coupon fails here, not when rendering
    return Invoice(
        number=order["number"],
        customer=order["customer"],
        region=order.get("region", "DE"),
        lines=lines,
        coupon=order.get("coupon"),
    )


def load_order(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
