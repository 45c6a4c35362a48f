"""invoicer: invoices from orders (bulk discounts, coupons, VAT, text rendering)."""

from .catalog import Product, load_catalog
from .invoice import Invoice, LineItem, build_invoice, load_order
from .render import render

__version__ = "0.4.1"
__all__ = ["Product", "load_catalog", "Invoice", "LineItem", "build_invoice", "load_order", "render"]
