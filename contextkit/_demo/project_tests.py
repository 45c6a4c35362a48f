"""The `invoicer` project's test suite (standard-library unittest), as the demo writes it.

`tests/test_invoice.py` fails on the bug; `tests/test_render.py` fails next, once only
`discounts.py` is fixed (see project.py).
"""

from __future__ import annotations

TESTS: dict[str, str] = {}

TESTS["tests/__init__.py"] = ""

TESTS["tests/test_money.py"] = '''\
import unittest
from decimal import Decimal

from invoicer.money import format_money, percent, round_cents, to_money


class MoneyTests(unittest.TestCase):
    def test_rounds_half_up(self):
        self.assertEqual(round_cents(Decimal("0.125")), Decimal("0.13"))
        self.assertEqual(round_cents(Decimal("2.675")), Decimal("2.68"))

    def test_floats_are_parsed_exactly(self):
        self.assertEqual(to_money(0.1), Decimal("0.1"))
        self.assertEqual(to_money("12.90"), Decimal("12.90"))

    def test_format(self):
        self.assertEqual(format_money(Decimal("1234.5")), "1,234.50 EUR")
        self.assertEqual(format_money(Decimal("-6.45")), "-6.45 EUR")

    def test_percent(self):
        self.assertEqual(percent(Decimal("0.05")), "5%")
        self.assertEqual(percent(Decimal("0.055")), "5.5%")


if __name__ == "__main__":
    unittest.main()
'''

TESTS["tests/test_discounts.py"] = '''\
import unittest
from decimal import Decimal

from invoicer.discounts import InvalidCoupon, bulk_rate, coupon_rate, line_discount


class BulkTests(unittest.TestCase):
    def test_small_quantities_pay_full_price(self):
        self.assertEqual(bulk_rate(1), Decimal("0"))
        self.assertEqual(bulk_rate(9), Decimal("0"))

    def test_tiers(self):
        self.assertEqual(bulk_rate(11), Decimal("0.05"))
        self.assertEqual(bulk_rate(21), Decimal("0.10"))
        self.assertEqual(bulk_rate(51), Decimal("0.15"))
        self.assertEqual(bulk_rate(500), Decimal("0.15"))

    def test_line_discount_rounds_half_up(self):
        # 13 x 0.35 = 4.55; 5% = 0.2275 -> 0.23
        self.assertEqual(line_discount(Decimal("0.35"), 13), Decimal("0.23"))

    def test_ineligible_products_get_nothing(self):
        self.assertEqual(line_discount(Decimal("39.00"), 60, eligible=False), Decimal("0.00"))


class CouponTests(unittest.TestCase):
    def test_known_codes_any_case(self):
        self.assertEqual(coupon_rate("WELCOME10"), Decimal("0.10"))
        self.assertEqual(coupon_rate(" spring5 "), Decimal("0.05"))

    def test_no_coupon(self):
        self.assertEqual(coupon_rate(None), Decimal("0"))

    def test_unknown_code(self):
        with self.assertRaises(InvalidCoupon):
            coupon_rate("FREESTUFF")


if __name__ == "__main__":
    unittest.main()
'''

TESTS["tests/test_invoice.py"] = '''\
import unittest
from decimal import Decimal
from pathlib import Path

from invoicer.catalog import UnknownProduct, load_catalog
from invoicer.invoice import build_invoice

DATA = Path(__file__).resolve().parent.parent / "data"


class InvoiceTotals(unittest.TestCase):
    def setUp(self):
        self.catalog = load_catalog(DATA / "catalog.json")

    def invoice(self, *lines, region="DE", coupon=None):
        order = {
            "number": "T-1",
            "customer": "Test GmbH",
            "region": region,
            "coupon": coupon,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        }
        return build_invoice(order, self.catalog)

    def test_small_order_has_no_discount(self):
        inv = self.invoice(("WID-100", 3))
        self.assertEqual(inv.subtotal, Decimal("12.00"))
        self.assertEqual(inv.total, Decimal("14.28"))

    def test_bulk_discount_at_threshold(self):
        # ticket #4127: 10 x WID-100 must get the 5% tier (docs/pricing.md: "10 or more")
        inv = self.invoice(("WID-100", 10))
        self.assertEqual(inv.lines[0].discount, Decimal("2.00"))
        self.assertEqual(inv.total, Decimal("45.22"))

    def test_second_tier(self):
        inv = self.invoice(("WID-100", 25))
        self.assertEqual(inv.lines[0].discount, Decimal("10.00"))
        self.assertEqual(inv.total, Decimal("107.10"))

    def test_lamps_never_get_bulk_discounts(self):
        inv = self.invoice(("LMP-300", 12))
        self.assertEqual(inv.lines[0].discount, Decimal("0.00"))
        self.assertEqual(inv.total, Decimal("556.92"))

    def test_coupon_after_bulk_and_before_tax(self):
        inv = self.invoice(("ORG-010", 3), coupon="WELCOME10")
        self.assertEqual(inv.coupon_discount, Decimal("3.87"))
        self.assertEqual(inv.total, Decimal("41.45"))

    def test_reduced_rate_and_other_regions(self):
        self.assertEqual(self.invoice(("BK-0042", 2)).total, Decimal("51.36"))
        self.assertEqual(self.invoice(("WID-100", 1), region="FR").total, Decimal("4.80"))

    def test_unknown_sku(self):
        with self.assertRaises(UnknownProduct):
            self.invoice(("NOPE-1", 1))


if __name__ == "__main__":
    unittest.main()
'''

TESTS["tests/test_render.py"] = '''\
import re
import unittest
from decimal import Decimal
from pathlib import Path

from invoicer.catalog import load_catalog
from invoicer.invoice import build_invoice, load_order
from invoicer.render import render

DATA = Path(__file__).resolve().parent.parent / "data"
AMOUNT = re.compile(r"(-?[0-9,]+[.][0-9]{2}) EUR$")


def amount(line: str) -> Decimal:
    return Decimal(AMOUNT.search(line).group(1).replace(",", ""))


class RenderTests(unittest.TestCase):
    def setUp(self):
        catalog = load_catalog(DATA / "catalog.json")
        self.invoice = build_invoice(load_order(DATA / "sample_order.json"), catalog)
        self.text = render(self.invoice)
        self.lines = self.text.splitlines()

    def test_header(self):
        self.assertEqual(self.lines[0], "INVOICE INV-2024-0117")
        self.assertIn("Hartmann Werkstatt GmbH", self.lines[1])

    def test_rendered_amounts_add_up(self):
        # every amount printed above the subtotal must add up to it: a reader checks the sum
        rows = [line for line in self.lines[3:] if line.startswith(" ")]
        subtotal = amount(next(line for line in self.lines if line.startswith("Subtotal")))
        self.assertEqual(sum(amount(r) for r in rows), subtotal, self.text)

    def test_total_line(self):
        total = amount(next(line for line in self.lines if line.startswith("Total")))
        self.assertEqual(total, self.invoice.total)


if __name__ == "__main__":
    unittest.main()
'''
