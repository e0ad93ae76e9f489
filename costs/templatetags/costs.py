"""Money as the cost pages print it."""

from decimal import Decimal

from django import template

from costs.estimate import cents

register = template.Library()


@register.filter
def usd(amount: Decimal | None) -> str:
    """$1,234.56 (cents rounded half up); "<$0.01" for a cost under half a cent (not nothing,
    as "$0.00" would say); "–" for no figure."""
    if amount is None:
        return "–"
    value = cents(Decimal(amount))
    if value == 0 and amount > 0:
        return "<$0.01"
    sign = "−" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


@register.filter
def usd_change(amount: Decimal | None) -> str:
    """+$18.02 or −$5.00 (a difference from today); "no change" at zero; "+<$0.01" for a
    difference under half a cent."""
    if amount is None:
        return "–"
    value = cents(Decimal(amount))
    if value == 0:
        if amount == 0:
            return "no change"
        return ("+" if amount > 0 else "−") + "<$0.01"
    return ("+" if value > 0 else "−") + f"${abs(value):,.2f}"


@register.filter
def quantity(value: Decimal) -> str:
    """A line item's quantity without trailing zeros: 730, 0.6, 180,000."""
    text = f"{Decimal(value):,.4f}".rstrip("0").rstrip(".")
    return text or "0"


@register.filter
def unit_price(value: Decimal) -> str:
    """A unit price as published ($0.0000166667): every digit kept."""
    return f"${Decimal(value).normalize():f}"
