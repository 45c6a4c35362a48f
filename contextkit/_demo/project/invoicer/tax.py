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
