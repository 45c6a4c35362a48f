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
