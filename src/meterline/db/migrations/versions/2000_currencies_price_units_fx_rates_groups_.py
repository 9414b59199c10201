"""currencies: price units, fx rates, groups, inclusive tax

Revision ID: 2000
Revises: 2100
Create Date: 2026-12-03 15:01:39.075178
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "2000"
down_revision: str | Sequence[str] | None = "2100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("scope_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("start_date", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("end_date", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_fx_rates_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fx_rates_env_pair", ["environment_id", "from_currency", "to_currency"], unique=False
        )

    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lookup_key", sa.String(length=255), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_groups_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_groups_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_groups_env_lookup_key_published",
            ["environment_id", "lookup_key"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    op.create_table(
        "price_units",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column(
            "conversion_rate", meterline.db.base.Money(precision=38, scale=12), nullable=False
        ),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_price_units_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_units")),
    )
    with op.batch_alter_table("price_units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_units_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_price_units_env_code_published",
            ["environment_id", "code"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.String(length=40), nullable=True))

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "inclusive_tax",
                meterline.db.base.Money(precision=38, scale=12),
                nullable=False,
                server_default=sa.text("'0'"),
            )
        )
        batch_op.add_column(
            sa.Column("tax_exemption_reason_code", sa.String(length=40), nullable=True)
        )

    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_unit_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("price_unit", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column(
                "conversion_rate", meterline.db.base.Money(precision=38, scale=12), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "price_unit_amount", meterline.db.base.Money(precision=38, scale=12), nullable=True
            )
        )
        batch_op.add_column(sa.Column("price_unit_tiers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("group_id", sa.String(length=40), nullable=True))

    with op.batch_alter_table("taxes_applied", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "tax_behavior",
                sa.String(length=20),
                nullable=False,
                server_default=sa.text("'exclusive'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("taxes_applied", schema=None) as batch_op:
        batch_op.drop_column("tax_behavior")

    with op.batch_alter_table("prices", schema=None) as batch_op:
        batch_op.drop_column("group_id")
        batch_op.drop_column("price_unit_tiers")
        batch_op.drop_column("price_unit_amount")
        batch_op.drop_column("conversion_rate")
        batch_op.drop_column("price_unit")
        batch_op.drop_column("price_unit_id")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("tax_exemption_reason_code")
        batch_op.drop_column("inclusive_tax")

    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_column("group_id")

    with op.batch_alter_table("price_units", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_price_units_env_code_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_price_units_environment_id"))

    op.drop_table("price_units")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_groups_env_lookup_key_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_groups_environment_id"))

    op.drop_table("groups")
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.drop_index("ix_fx_rates_env_pair")

    op.drop_table("fx_rates")
