"""Payments, refunds, checkout sessions and integration mappings, behind one provider
interface (payments/providers.py) with an offline and a Stripe provider."""
