"""Add-ons: optional products a subscription can buy on top of its plan."""
