"""Exports, imports and scheduled exports: the ``tasks`` and ``scheduled_tasks`` of /v1."""
