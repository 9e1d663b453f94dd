"""The business rules, one module per rule: its scalar form and its columnar form side by side.

Each module holds the reference function (one raw JSON value in, one value out) and the
Polars expression that computes the same thing over a whole batch, next to each other,
so that a change to a rule is one edit. docs/business_rules.md links each row to its
module; the property tests prove the two forms agree.

=================  ===============================================================
``values``         reading raw values as text (shared by every rule)
``customer_id``    ``id`` -> customer id, and the rejection reasons
``names``          ``full_name`` (first and last name parts)
``email``          ``email_domain`` and the email key duplicates match on
``timestamps``     ``created_at``, ``last_login_at``, ``updated_at``
``activity``       ``activity_status``
``counts``         ``sessions_30d``, ``orders_count``
``engagement``     ``engagement_level``
``channel``        ``acquisition_channel`` and the canonical ``signup_source``
``segment``        ``market_segment``, the canonical ``country`` and ``region``
``money``          ``lifetime_value``
``tier``           ``customer_tier`` and the canonical ``plan``
``quality``        ``data_quality_score``, its band, issues and histogram bins
=================  ===============================================================
"""
