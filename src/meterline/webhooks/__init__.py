"""Webhooks: endpoints per environment, a transactional outbox and a delivery worker."""
