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
