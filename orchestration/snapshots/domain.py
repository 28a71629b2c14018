"""The values a source row may hold: code lists and per-row maxima the extraction's rules test.

Enumerations are the product's (documented in orchestration/source/schema.sql); countries and
currencies are the ISO lists as shipped by `pycountry` (ISO 3166-1 alpha-2, 249 codes; ISO 4217,
every active code), not a subset someone happened to see. Maxima come from settings
(orchestration/settings.py, `ValidationLimits`) so an operator can widen them without a release.
The extraction's rules read all of them as query parameters (`%(name)s`), evaluated by the source
server while it reads.
"""

from __future__ import annotations

import pycountry

from orchestration.settings import get_validation_limits

USER_TYPES = ("individual", "team", "enterprise", "education")
ACQUISITION_CHANNELS = ("organic", "paid_search", "referral", "social", "partner", "direct")
BILLING_PERIODS = ("monthly", "annual")
SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "canceled", "ended")
INVOICE_STATUSES = ("paid", "open", "failed")
EVENT_TYPES = ("api_call", "export", "share_link_created", "share_link_accessed",
               "limit_reached")
EXPORT_FORMATS = ("csv", "pdf", "xlsx", "txt")
TRANSCRIPTION_STATUSES = ("completed", "failed")
COUNTRY_CODES = tuple(sorted(c.alpha_2 for c in pycountry.countries))
CURRENCY_CODES = tuple(sorted(c.alpha_3 for c in pycountry.currencies))


def rule_parameters() -> dict[str, object]:
    """Every `%(name)s` the rules in orchestration/snapshots/tables.py refer to."""
    limits = get_validation_limits()
    return {
        "user_types": list(USER_TYPES),
        "acquisition_channels": list(ACQUISITION_CHANNELS),
        "billing_periods": list(BILLING_PERIODS),
        "subscription_statuses": list(SUBSCRIPTION_STATUSES),
        "invoice_statuses": list(INVOICE_STATUSES),
        "event_types": list(EVENT_TYPES),
        "export_formats": list(EXPORT_FORMATS),
        "transcription_statuses": list(TRANSCRIPTION_STATUSES),
        "country_codes": list(COUNTRY_CODES),
        "currency_codes": list(CURRENCY_CODES),
        "max_event_quantity": limits.max_event_quantity,
        "max_session_audio_minutes": limits.max_session_audio_minutes,
        "max_session_file_size_mb": limits.max_session_file_size_mb,
        "max_storage_mb": limits.max_storage_mb,
        "max_invoice_amount": limits.max_invoice_amount,
    }
