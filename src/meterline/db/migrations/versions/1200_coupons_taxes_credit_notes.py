"""coupons, taxes and credit notes: coupons (associations, applications), tax rates (associations, taxes applied), customers.tax_treatment, credit notes

Revision ID: 1200
Revises: 1400
Create Date: 2026-12-03 08:05:28.562988
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meterline.db.base

revision: str = "1200"
down_revision: str | Sequence[str] | None = "1400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupon_applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("coupon_id", sa.String(length=40), nullable=False),
        sa.Column("coupon_association_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_item_id", sa.String(length=40), nullable=True),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("discount_type", sa.String(length=20), nullable=False),
        sa.Column(
            "discount_percentage", meterline.db.base.Money(precision=38, scale=12), nullable=True
        ),
        sa.Column(
            "original_price", meterline.db.base.Money(precision=38, scale=12), nullable=False
        ),
        sa.Column(
            "discounted_amount", meterline.db.base.Money(precision=38, scale=12), nullable=False
        ),
        sa.Column("final_price", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("coupon_snapshot", sa.JSON(), nullable=False),
        sa.Column("applied_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_applications")),
    )
    with op.batch_alter_table("coupon_applications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_coupon_applications_association",
            ["coupon_association_id", "invoice_id"],
            unique=False,
        )
        batch_op.create_index("ix_coupon_applications_invoice", ["invoice_id"], unique=False)

    op.create_table(
        "taxes_applied",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("tax_rate_id", sa.String(length=40), nullable=False),
        sa.Column("tax_association_id", sa.String(length=40), nullable=True),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column(
            "taxable_amount", meterline.db.base.Money(precision=38, scale=12), nullable=False
        ),
        sa.Column("tax_amount", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("applied_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxes_applied")),
    )
    with op.batch_alter_table("taxes_applied", schema=None) as batch_op:
        batch_op.create_index("ix_taxes_applied_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "coupons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("coupon_code", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("amount_off", meterline.db.base.Money(precision=38, scale=12), nullable=True),
        sa.Column("percentage_off", meterline.db.base.Money(precision=38, scale=12), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("duration_in_periods", sa.Integer(), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("total_redemptions", sa.Integer(), nullable=False),
        sa.Column("redeem_after", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("redeem_before", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_coupons_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coupons_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_coupons_env_code_published",
            ["environment_id", "coupon_code"],
            unique=True,
            sqlite_where=sa.text("status = 'published' AND coupon_code IS NOT NULL"),
            postgresql_where=sa.text("status = 'published' AND coupon_code IS NOT NULL"),
        )

    op.create_table(
        "tax_rates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("tax_rate_type", sa.String(length=20), nullable=False),
        sa.Column(
            "percentage_value", meterline.db.base.Money(precision=38, scale=12), nullable=False
        ),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("tax_rate_status", sa.String(length=20), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_tax_rates_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
    )
    with op.batch_alter_table("tax_rates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tax_rates_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            "uq_tax_rates_env_code_published",
            ["environment_id", "code"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    op.create_table(
        "tax_associations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("tax_rate_id", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("auto_apply", sa.Boolean(), nullable=False),
        sa.Column("tax_behavior", sa.String(length=20), nullable=False),
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
            name=op.f("fk_tax_associations_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["tax_rate_id"],
            ["tax_rates.id"],
            name=op.f("fk_tax_associations_tax_rate_id_tax_rates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_associations")),
    )
    with op.batch_alter_table("tax_associations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tax_associations_env_entity", ["environment_id", "entity_id"], unique=False
        )

    op.create_table(
        "coupon_associations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("coupon_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("price_id", sa.String(length=40), nullable=True),
        sa.Column("subscription_line_item_id", sa.String(length=40), nullable=True),
        sa.Column("start_date", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("end_date", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_associations_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_coupon_associations_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_coupon_associations_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_associations")),
    )
    with op.batch_alter_table("coupon_associations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_coupon_associations_env_coupon", ["environment_id", "coupon_id"], unique=False
        )
        batch_op.create_index(
            "ix_coupon_associations_env_subscription",
            ["environment_id", "subscription_id"],
            unique=False,
        )

    op.create_table(
        "credit_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=True),
        sa.Column("credit_note_number", sa.String(length=100), nullable=True),
        sa.Column("credit_note_status", sa.String(length=20), nullable=False),
        sa.Column("credit_note_type", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("memo", sa.String(length=2000), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("finalized_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("voided_at", meterline.db.base.UTCDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("updated_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_credit_notes_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_notes_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
    )
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_notes_env_invoice", ["environment_id", "invoice_id"], unique=False
        )
        batch_op.create_index(
            "uq_credit_notes_env_idempotency_key",
            ["environment_id", "idempotency_key"],
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_credit_notes_env_number",
            ["environment_id", "credit_note_number"],
            unique=True,
            sqlite_where=sa.text("credit_note_number IS NOT NULL"),
            postgresql_where=sa.text("credit_note_number IS NOT NULL"),
        )

    op.create_table(
        "credit_note_line_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("credit_note_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_line_item_id", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("amount", meterline.db.base.Money(precision=38, scale=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_credit_note_line_items_credit_note_id_credit_notes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_note_line_items")),
    )
    with op.batch_alter_table("credit_note_line_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_note_line_items_invoice_line", ["invoice_line_item_id"], unique=False
        )
        batch_op.create_index("ix_credit_note_line_items_note", ["credit_note_id"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_treatment", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("tax_treatment")

    with op.batch_alter_table("credit_note_line_items", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_note_line_items_note")
        batch_op.drop_index("ix_credit_note_line_items_invoice_line")

    op.drop_table("credit_note_line_items")
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_credit_notes_env_number",
            sqlite_where=sa.text("credit_note_number IS NOT NULL"),
            postgresql_where=sa.text("credit_note_number IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_credit_notes_env_idempotency_key",
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.drop_index("ix_credit_notes_env_invoice")

    op.drop_table("credit_notes")
    with op.batch_alter_table("coupon_associations", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_associations_env_subscription")
        batch_op.drop_index("ix_coupon_associations_env_coupon")

    op.drop_table("coupon_associations")
    with op.batch_alter_table("tax_associations", schema=None) as batch_op:
        batch_op.drop_index("ix_tax_associations_env_entity")

    op.drop_table("tax_associations")
    with op.batch_alter_table("tax_rates", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_tax_rates_env_code_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_tax_rates_environment_id"))

    op.drop_table("tax_rates")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_coupons_env_code_published",
            sqlite_where=sa.text("status = 'published' AND coupon_code IS NOT NULL"),
            postgresql_where=sa.text("status = 'published' AND coupon_code IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_coupons_environment_id"))

    op.drop_table("coupons")
    with op.batch_alter_table("taxes_applied", schema=None) as batch_op:
        batch_op.drop_index("ix_taxes_applied_entity")

    op.drop_table("taxes_applied")
    with op.batch_alter_table("coupon_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_applications_invoice")
        batch_op.drop_index("ix_coupon_applications_association")

    op.drop_table("coupon_applications")
