"""The behaviour-event vocabulary: every event type Winback understands and what its amount means.

One tuple is the single source of truth for the loader's validation, the feature SQL (DuckDB and Spark), the
warehouse metrics and the demo shop. It lives in warehouse/ so every layer that needs it imports it downward.
"""
from __future__ import annotations

# (event type, group, meaning of `amount`); amount is 0 where it does not apply.
EVENT_VOCABULARY: tuple[tuple[str, str, str], ...] = (
    ("signup", "account", "n/a"),
    ("login", "account", "n/a"),
    ("session_start", "browse", "n/a"),
    ("search", "browse", "n/a"),
    ("product_view", "browse", "n/a"),
    ("wishlist_add", "browse", "n/a"),
    ("share", "browse", "n/a"),
    ("add_to_cart", "cart", "item price"),
    ("remove_from_cart", "cart", "item price"),
    ("begin_checkout", "checkout", "basket value"),
    ("payment", "checkout", "amount paid"),
    ("order", "order", "order value (the purchase; churn = no order in the horizon)"),
    ("coupon_claim", "coupon", "coupon face value"),
    ("coupon_redeem", "coupon", "discount granted"),
    ("review", "after_sale", "n/a"),
    ("rating", "after_sale", "stars, 1 to 5"),
    ("return_request", "after_sale", "value of the returned goods"),
    ("refund", "after_sale", "amount refunded"),
    ("complaint", "service", "n/a"),
    ("service_chat", "service", "n/a"),
    ("push_open", "messaging", "n/a"),
    ("push_unsubscribe", "messaging", "n/a"),
    ("email_open", "messaging", "n/a"),
    ("email_unsubscribe", "messaging", "n/a"),
)

EVENT_TYPES: tuple[str, ...] = tuple(name for name, _, _ in EVENT_VOCABULARY)

RATING_EVENT = "rating"

REQUIRED_COLUMNS: tuple[str, ...] = ("user_id", "event_type", "ts")

