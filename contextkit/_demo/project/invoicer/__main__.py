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
