"""Prepaid wallets: a ledger of credit transactions per customer and currency."""
