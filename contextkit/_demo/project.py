'''The small project the demo agent works on: `invoicer`, a billing library with one real bug.

Since 0.4.0 the bulk-discount tiers live in one table (`BULK_TIERS`), and the refactor made every
tier start one unit late (`quantity > threshold`): an order of exactly 10 units gets no 5%
discount. `tests/test_invoice.py` catches it. `invoicer/render.py` keeps its own copy of the tier
loop, so fixing only `discounts.py` makes `tests/test_render.py` fail next: a realistic second
round for the agent. Files are text here (not package data) so an installed wheel carries them;
the tests are in project_tests.py.
'''

from __future__ import annotations

from .project_tests import TESTS

FILES: dict[str, str] = {}

FILES["README.md"] = """\
# invoicer

Build invoices from orders: line items, bulk discounts, coupons, VAT per region, and a plain-text
rendering for e-mail. Used by the shop's order service (see `invoicer/__main__.py` for the CLI).

## Layout

- `invoicer/catalog.py`: products, loaded from `data/catalog.json`
- `invoicer/discounts.py`: bulk tiers and coupon codes (rules in `docs/pricing.md`)
- `invoicer/tax.py`: VAT rates per region and tax class
- `invoicer/invoice.py`: `build_invoice(order, catalog)`: lines, subtotal, coupon, tax, total
- `invoicer/render.py`: the invoice as text
- `invoicer/money.py`: Decimal helpers (cents, half-up rounding, formatting)

## Usage

    python -m invoicer data/sample_order.json

## Tests

Standard library only:

    python -m unittest

Amounts are `Decimal` everywhere; never compare money as floats.
"""

FILES["pyproject.toml"] = """\
[project]
name = "invoicer"
version = "0.4.1"
description = "Invoices from orders: bulk discounts, coupons, VAT, text rendering"
requires-python = ">=3.9"

[tool.setuptools]
packages = ["invoicer"]
"""

FILES["CHANGELOG.md"] = """\
# Changelog

## 0.4.1 (2024-03-02)
- render: each discounted line shows its bulk tier ("bulk discount 5%").
- Coupon codes are case-insensitive (`welcome10` works).

## 0.4.0 (2024-02-12)
- Discount tiers moved into one table, `BULK_TIERS`, used by discounts.py and render.py
  (replaces the chain of `if quantity >= 50 / elif quantity >= 20 / elif quantity >= 10`).
- VAT rates for NL and AT.

## 0.3.2 (2024-01-08)
- Tax is computed per line on the amount after the coupon, then rounded once.

## 0.3.0 (2023-11-20)
- Coupons: WELCOME10, SPRING5.
"""

FILES["docs/pricing.md"] = """\
# Pricing rules

## Bulk discounts

A line of an order gets a bulk discount by the quantity of that one product:

| units of one product | discount on the line |
|---|---|
| 10 or more | 5% |
| 20 or more | 10% |
| 50 or more | 15% |

Only the highest tier reached applies. Products marked `bulk_eligible: false` in the catalog
(lamps, gift cards) never get a bulk discount. The discount is rounded half-up to the cent, per line.

## Coupons

One coupon per order, applied to the subtotal after bulk discounts. Codes are case-insensitive.

## VAT

Per line, on the line's amount after the coupon; the invoice's tax is the sum, rounded once.
Rates by region and tax class are in `invoicer/tax.py`.
"""

FILES["data/catalog.json"] = """\
{
  "currency": "EUR",
  "products": [
    {"sku": "WID-100", "name": "Widget, steel", "unit_price": "4.00", "tax_class": "standard"},
    {"sku": "WID-200", "name": "Widget, brass", "unit_price": "6.50", "tax_class": "standard"},
    {"sku": "ORG-010", "name": "Cable organiser", "unit_price": "12.90", "tax_class": "standard"},
    {"sku": "HNG-050", "name": "Wall hanger set", "unit_price": "8.75", "tax_class": "standard"},
    {"sku": "LMP-300", "name": "Desk lamp", "unit_price": "39.00", "tax_class": "standard", "bulk_eligible": false},
    {"sku": "BK-0042", "name": "Handbook of fasteners", "unit_price": "24.00", "tax_class": "reduced"},
    {"sku": "GFT-025", "name": "Gift card", "unit_price": "25.00", "tax_class": "exempt", "bulk_eligible": false}
  ]
}
"""

FILES["data/sample_order.json"] = """\
{
  "number": "INV-2024-0117",
  "customer": "Hartmann Werkstatt GmbH",
  "region": "DE",
  "coupon": null,
  "lines": [
    {"sku": "ORG-010", "quantity": 10},
    {"sku": "WID-200", "quantity": 4},
    {"sku": "BK-0042", "quantity": 1}
  ]
}
"""

FILES["invoicer/__init__.py"] = '''\
"""invoicer: invoices from orders (bulk discounts, coupons, VAT, text rendering)."""

from .catalog import Product, load_catalog
from .invoice import Invoice, LineItem, build_invoice, load_order
from .render import render

__version__ = "0.4.1"
__all__ = ["Product", "load_catalog", "Invoice", "LineItem", "build_invoice", "load_order", "render"]
'''

FILES["invoicer/__main__.py"] = '''\
"""python -m invoicer ORDER.json [--catalog data/catalog.json]: print the invoice."""

import argparse
import sys

from .catalog import load_catalog
from .invoice import build_invoice, load_order
from .render import render


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="invoicer")
    p.add_argument("order")
    p.add_argument("--catalog", default="data/catalog.json")
    args = p.parse_args(argv)
    invoice = build_invoice(load_order(args.order), load_catalog(args.catalog))
    print(render(invoice))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

FILES["invoicer/money.py"] = '''\
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
'''

FILES["invoicer/catalog.py"] = '''\
"""The product catalog: SKU -> Product, loaded from a JSON file (data/catalog.json)."""

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .money import to_money


class UnknownProduct(KeyError):
    """An order names a SKU the catalog does not have."""


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    unit_price: Decimal
    tax_class: str = "standard"  # standard | reduced | exempt (see tax.py)
    bulk_eligible: bool = True  # False: never a bulk discount (docs/pricing.md)


def load_catalog(path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    catalog = {}
    for row in data["products"]:
        product = Product(
            sku=row["sku"],
            name=row["name"],
            unit_price=to_money(row["unit_price"]),
            tax_class=row.get("tax_class", "standard"),
            bulk_eligible=row.get("bulk_eligible", True),
        )
        catalog[product.sku] = product
    return catalog


def lookup(catalog: dict, sku: str) -> Product:
    try:
        return catalog[sku]
    except KeyError:
        raise UnknownProduct(sku) from None
'''

FILES["invoicer/discounts.py"] = '''\
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
'''

FILES["invoicer/tax.py"] = '''\
"""VAT rates by region and tax class."""

from decimal import Decimal

RATES = {
    ("DE", "standard"): Decimal("0.19"),
    ("DE", "reduced"): Decimal("0.07"),
    ("AT", "standard"): Decimal("0.20"),
    ("AT", "reduced"): Decimal("0.10"),
    ("FR", "standard"): Decimal("0.20"),
    ("FR", "reduced"): Decimal("0.055"),
    ("NL", "standard"): Decimal("0.21"),
    ("NL", "reduced"): Decimal("0.09"),
}


class UnknownRegion(ValueError):
    pass


def tax_rate(region: str, tax_class: str) -> Decimal:
    if tax_class == "exempt":
        return Decimal("0")
    try:
        return RATES[(region.upper(), tax_class)]
    except KeyError:
        raise UnknownRegion(f"no VAT rate for {region!r} / {tax_class!r}") from None
'''

FILES["invoicer/invoice.py"] = '''\
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
'''

FILES["invoicer/render.py"] = '''\
"""The invoice as plain text (for e-mail and the CLI)."""

from .discounts import BULK_TIERS
from .money import format_money, percent

WIDTH = 48


def render(invoice) -> str:
    out = [f"INVOICE {invoice.number}", f"{invoice.customer} / {invoice.region}", ""]
    for item in invoice.lines:
        out.append(_row(f"{item.quantity:>4} x {item.product.name}", item.gross))
        label = _bulk_label(item.quantity) if item.product.bulk_eligible else None
        if label:
            out.append(_row(f"         {label}", -item.discount))
    out.append("")
    out.append(_row("Subtotal", invoice.subtotal))
    if invoice.coupon:
        out.append(_row(f"Coupon {invoice.coupon.upper()}", -invoice.coupon_discount))
    out.append(_row("VAT", invoice.tax))
    out.append(_row("Total", invoice.total))
    return "\\n".join(out)


def _row(label: str, amount) -> str:
    money = format_money(amount)
    return label + " " * max(1, WIDTH - len(label) - len(money)) + money


def _bulk_label(quantity: int):
    """The tier's label, e.g. "bulk discount 5%" (the tiers of discounts.BULK_TIERS)."""
    for threshold, rate in BULK_TIERS:
        if quantity > threshold:
            return f"bulk discount {percent(rate)}"
    return None
'''


FILES.update(TESTS)
