"""All churn feature and label SQL, in one place, written once in engine-neutral SQL (DuckDB and Spark).

Only window functions (NTILE, ROW_NUMBER), CASE, COUNT/SUM and GROUP BY are used; the one
engine-specific expression (days between two timestamps) is rendered by the engine's Dialect, which
also binds the parameters as TIMESTAMP literals. `ts` is a TIMESTAMP column, so every row at or after
`:end` (the day after the as-of date) is invisible to the features: nothing after the as-of date can
leak in. Fractions are computed in DOUBLE (never a DECIMAL literal, which Spark would round to 6 places),
so both engines give the same IEEE numbers.

Parameters: :end (as-of date + 1 day), :d7 / :d30 / :d90 / :d180 (end minus that many days),
:label_end (end + horizon days, labels only).
"""
from __future__ import annotations

from warehouse.engine import Dialect

ENGAGEMENT_CATEGORY_EVENTS = ("product_view", "add_to_cart", "wishlist_add", "order")


def _count(condition: str) -> str:
    return f"COUNT(CASE WHEN {condition} THEN 1 END)"


def _real(number: str) -> str:
    """A DOUBLE constant (a bare 7.0 is DECIMAL in both engines)."""
    return f"CAST({number} AS DOUBLE)"


def _total(condition: str, value: str = "amount") -> str:
    return f"SUM(CASE WHEN {condition} THEN {value} ELSE 0 END)"


def _aggregates() -> list[str]:
    """The per-user GROUP BY columns over history (all conditions see only ts < :end)."""
    o = "event_type = 'order'"
    cols = [
        "MIN(ts) AS first_ts", "MAX(ts) AS last_ts", "COUNT(*) AS events",
        f"MIN(CASE WHEN {o} THEN ts END) AS first_order_ts", f"MAX(CASE WHEN {o} THEN ts END) AS last_order_ts",
        f"{_count(o)} AS orders", f"{_total(o)} AS spend",
        f"MAX(CASE WHEN {o} THEN amount END) AS max_order_value",
        f"COUNT(DISTINCT CASE WHEN {o} THEN CAST(ts AS DATE) END) AS order_days",
    ]
    for days in (7, 30, 90, 180):
        cols.append(f"{_count(f'{o} AND ts >= :d{days}')} AS orders_{days}")
    for days in (30, 90, 180):
        cols.append(f"{_total(f'{o} AND ts >= :d{days}')} AS spend_{days}")
    s = "event_type = 'session_start'"
    cols.append(f"{_count(s)} AS sessions")
    for days in (7, 30, 90):
        cols.append(f"{_count(f'{s} AND ts >= :d{days}')} AS sessions_{days}")
        cols.append(f"{_count(f'ts >= :d{days}')} AS events_{days}")
    windowed = {
        "product_view": ("views", (30, 90)), "search": ("searches", (30,)), "add_to_cart": ("carts", (30, 90)),
        "begin_checkout": ("checkouts", (30,)), "login": ("logins", (30,)), "wishlist_add": ("wishlists", (90,)),
        "share": ("shares", (90,)), "push_open": ("push_opens", (30, 90)), "email_open": ("email_opens", (30, 90)),
        "return_request": ("returns", (90,)), "refund": ("refunds", (90,)), "complaint": ("complaints", (90,)),
        "service_chat": ("chats", (90,)), "coupon_claim": ("coupon_claims", (90,)),
        "coupon_redeem": ("coupon_redeems", (90,)), "review": ("reviews", (90,)),
    }
    for event, (name, windows) in windowed.items():
        cols.append(f"{_count(f'event_type = {_quote(event)}')} AS {name}")
        for days in windows:
            cols.append(f"{_count(f'event_type = {_quote(event)} AND ts >= :d{days}')} AS {name}_{days}")
    refund, redeem, rating = (f"event_type = {_quote(e)}" for e in ("refund", "coupon_redeem", "rating"))
    cols += [
        f"{_total(f'{refund} AND ts >= :d90')} AS refund_amount_90",
        f"{_total(redeem)} AS discount",
        f"{_count(rating)} AS ratings",
        f"{_total(rating)} AS rating_sum",
        f"{_count(f'{rating} AND amount <= 2 AND ts >= :d90')} AS low_ratings_90",
        "MAX(CASE WHEN event_type = 'push_unsubscribe' THEN 1 ELSE 0 END) AS push_unsubscribed",
        "MAX(CASE WHEN event_type = 'email_unsubscribe' THEN 1 ELSE 0 END) AS email_unsubscribed",
    ]
    return cols


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def features_sql(dialect: Dialect) -> str:
    """One query: a row per user with history before :end, RFM with quintile scores and every signal."""
    days = dialect.days_between
    category_events = ", ".join(_quote(e) for e in ENGAGEMENT_CATEGORY_EVENTS)
    aggregates = ",\n    ".join(_aggregates())
    r304, one, big = _real("30.4"), _real("1"), _real("1e9")
    return f"""
WITH agg AS (
  SELECT user_id,
    {aggregates}
  FROM events WHERE ts < :end GROUP BY user_id
),
cats AS (
  SELECT user_id, category,
    COUNT(CASE WHEN ts >= :d90 THEN 1 END) AS recent,
    COUNT(CASE WHEN ts < :d90 THEN 1 END) AS earlier
  FROM events WHERE ts < :end AND category IS NOT NULL AND event_type IN ({category_events})
  GROUP BY user_id, category
),
ranked AS (
  SELECT user_id, recent, earlier,
    ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY earlier DESC, category) AS rank_earlier
  FROM cats
),
drift AS (
  SELECT user_id,
    SUM(recent) AS category_events_90,
    SUM(CASE WHEN earlier = 0 THEN recent ELSE 0 END) AS new_category_events_90,
    SUM(CASE WHEN rank_earlier = 1 AND earlier > 0 THEN recent ELSE 0 END) AS top_category_events_90,
    SUM(CASE WHEN recent > 0 THEN 1 ELSE 0 END) AS categories_90,
    SUM(CASE WHEN earlier > 0 THEN 1 ELSE 0 END) AS categories_before_90
  FROM ranked GROUP BY user_id
),
base AS (
  SELECT a.*,
    {days('a.last_order_ts', ':end')} AS recency_days,
    {days('a.last_ts', ':end')} AS days_since_last_event,
    {days('a.first_ts', ':end')} AS tenure_days,
    {days('a.first_order_ts', ':end')} AS customer_days,
    CASE WHEN a.orders > 1 THEN {days('a.first_order_ts', 'a.last_order_ts')} / (a.orders - 1) END AS ipt_days,
    d.category_events_90, d.new_category_events_90, d.top_category_events_90, d.categories_90, d.categories_before_90
  FROM agg a LEFT JOIN drift d ON d.user_id = a.user_id
),
feat AS (
  SELECT b.*,
    CASE WHEN b.orders > 0 THEN b.spend / b.orders END AS avg_order_value,
    CASE WHEN b.ipt_days > 0 THEN b.recency_days / b.ipt_days END AS overdue_ratio,
    b.orders_7 / {_real('7')} - (b.orders - b.orders_7) * {one} / CASE WHEN b.tenure_days > 14 THEN b.tenure_days - 7 ELSE 7 END AS order_trend_7,
    b.orders_30 / {_real('30')} - (b.orders - b.orders_30) * {one} / CASE WHEN b.tenure_days > 60 THEN b.tenure_days - 30 ELSE 30 END AS order_trend_30,
    b.orders_90 / {_real('90')} - (b.orders - b.orders_90) * {one} / CASE WHEN b.tenure_days > 180 THEN b.tenure_days - 90 ELSE 90 END AS order_trend_90,
    b.sessions_7 / {_real('7')} - (b.sessions - b.sessions_7) * {one} / CASE WHEN b.tenure_days > 14 THEN b.tenure_days - 7 ELSE 7 END AS session_trend_7,
    b.sessions_30 / {_real('30')} - (b.sessions - b.sessions_30) * {one} / CASE WHEN b.tenure_days > 60 THEN b.tenure_days - 30 ELSE 30 END AS session_trend_30,
    b.sessions_90 / {_real('90')} - (b.sessions - b.sessions_90) * {one} / CASE WHEN b.tenure_days > 180 THEN b.tenure_days - 90 ELSE 90 END AS session_trend_90,
    b.spend_180 * {r304} / CASE WHEN b.tenure_days < 180 THEN (CASE WHEN b.tenure_days > {r304} THEN b.tenure_days ELSE {r304} END) ELSE 180 END AS monthly_spend,
    CASE WHEN b.orders > 0 THEN b.returns * {one} / b.orders END AS return_rate,
    CASE WHEN b.orders > 0 THEN b.coupon_redeems * {one} / b.orders END AS coupon_share,
    CASE WHEN b.spend > 0 THEN b.discount / b.spend END AS discount_share,
    b.coupon_claims_90 - b.coupon_redeems_90 AS coupons_unused_90,
    CASE WHEN b.ratings > 0 THEN b.rating_sum / b.ratings END AS avg_rating,
    CASE WHEN b.category_events_90 > 0 THEN b.new_category_events_90 * {one} / b.category_events_90 END AS new_category_share_90,
    CASE WHEN b.category_events_90 > 0 THEN b.top_category_events_90 * {one} / b.category_events_90 END AS top_category_share_90
  FROM base b
)
SELECT feat.*,
  NTILE(5) OVER (ORDER BY COALESCE(recency_days, {big}) DESC, user_id) AS r_score,
  NTILE(5) OVER (ORDER BY orders, user_id) AS f_score,
  NTILE(5) OVER (ORDER BY spend, user_id) AS m_score
FROM feat
ORDER BY user_id
"""


def labels_sql() -> str:
    """Churn labels: 1 when a user with history before :end places no order in [:end, :label_end)."""
    return """
SELECT p.user_id, CASE WHEN o.user_id IS NULL THEN 1 ELSE 0 END AS churned
FROM (SELECT DISTINCT user_id FROM events WHERE ts < :end) p
LEFT JOIN (
  SELECT DISTINCT user_id FROM events WHERE event_type = 'order' AND ts >= :end AND ts < :label_end
) o ON o.user_id = p.user_id
ORDER BY p.user_id
"""


def orders_sql() -> str:
    """Every order before `:end`, one row each (user_id, ts, amount): the transaction log BG/NBD fits on."""
    return "SELECT user_id, ts, amount FROM events WHERE event_type = 'order' AND ts < :end ORDER BY user_id, ts"
