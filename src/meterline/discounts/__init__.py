"""Coupons: their catalog, their association with subscriptions and their application to
invoices (discounts are taken before tax)."""
