"""What the entitlement read model (``entitlements/read_model.py``) reads: declared once.

A key's principal and a customer's snapshot are built from the rows of these tables and
kept in memory while the catalog versions stand still (``db/catalog_version.py``), which
watches exactly these tables, the way each entry says. Usage (events and their
aggregates) is not kept by version: see the read model's docstring.

``db/engine.py`` installs the watch on every engine from this declaration, so this module
imports nothing but the declaration's type: any process that writes (a server, ``meterline
bill``) watches the same tables without loading the read model.

Kept honest by ``tests/entitlements/test_declared_reads.py``: every table a principal or
snapshot build reads is declared here, and nothing writes a declared table around the ORM
(raw SQL text) or outside the modules that own it.
"""

from __future__ import annotations

from meterline.db.catalog_version import CUSTOMER, OF_CUSTOMER, Read

READS: tuple[Read, ...] = (
    Read("api_keys", inserts_matter=False),
    Read("environments", inserts_matter=False),
    Read("customers", inserts_matter=False, scope=CUSTOMER),
    Read("subscriptions", scope=OF_CUSTOMER),
    Read("features", inserts_matter=False),
    Read("meters", inserts_matter=False),
    Read("plans", inserts_matter=False),
    Read("entitlements"),
    Read("addons", inserts_matter=False),
    Read("addon_associations", scope=OF_CUSTOMER),
)
TABLES = frozenset(read.table for read in READS)
