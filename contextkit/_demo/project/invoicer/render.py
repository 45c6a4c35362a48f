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
    return "\n".join(out)


def _row(label: str, amount) -> str:
    money = format_money(amount)
    return label + " " * max(1, WIDTH - len(label) - len(money)) + money


def _bulk_label(quantity: int):
    """The tier's label, e.g. "bulk discount 5%" (the tiers of discounts.BULK_TIERS)."""
    for threshold, rate in BULK_TIERS:
        if quantity > threshold:
            return f"bulk discount {percent(rate)}"
    return None
