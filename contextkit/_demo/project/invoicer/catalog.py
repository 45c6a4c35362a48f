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
