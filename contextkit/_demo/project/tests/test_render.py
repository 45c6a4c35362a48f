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
