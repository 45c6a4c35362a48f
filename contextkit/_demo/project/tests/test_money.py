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
