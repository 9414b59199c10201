"""What the billing clock does with a schedule due at the period it closes.

A plan change scheduled at a period's end is staged when it is made (``changes.py``): the
old plan's line items end at the boundary and the target plan's start there, so the
period-end invoice bills the old plan's period and the new plan's ADVANCE charges from the
same line items its preview read. The close (``invoicing/cycle.close_periods``) then calls:

* :func:`before_close`: an old-plan line item still running past the boundary (one a
  quantity change started after the change was scheduled) is ended there;
* :func:`after_close`: the subscription moves to the target plan (its entitlements are read
  from it) and the schedule is marked executed; a period that no period follows (a
  cancellation at its end, an end date) cancels the change instead.

Both run in the close's transaction, which also writes the period's invoice under its unique
``billing_key``: a schedule is applied exactly once, whichever clock gets there first, and a
clock killed mid-way leaves it pending with the period unbilled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from meterline.subscriptions import repository, schedule_repository
from meterline.subscriptions.models import Subscription, SubscriptionSchedule
from meterline.webhooks import notify

PLAN_CHANGE = "plan_change"


def before_close(session: Session, subs: Sequence[Subscription]) -> dict[str, SubscriptionSchedule]:
    """The plan changes due at the end of each subscription's current period, by
    subscription id, with the old plan's line items ended at the boundary."""
    due: dict[str, SubscriptionSchedule] = {}
    by_id = {s.id: s for s in subs}
    for found in schedule_repository.pending_for(session, list(by_id), PLAN_CHANGE):
        sub = by_id[found.subscription_id]
        if found.scheduled_at <= sub.current_period_end and sub.id not in due:
            due[sub.id] = found
    if not due:
        return due
    for item in repository.line_items(session, list(due)):
        found = due[item.subscription_id]
        config = found.configuration or {}
        staged = set(config.get("created_items", []))
        boundary = by_id[item.subscription_id].current_period_end
        if (
            item.id not in staged
            and item.entity_type == "plan"
            and item.entity_id == config.get("from_plan_id")
            and (item.end_date is None or item.end_date > boundary)
        ):
            item.end_date = boundary
    session.flush()
    return due


def after_close(
    session: Session,
    due: Mapping[str, SubscriptionSchedule],
    subs: Sequence[Subscription],
    continues: Mapping[str, bool],
    now: datetime,
) -> None:
    """Applies each due change once its period is billed: ``continues`` says, per
    subscription, whether a period follows the one just closed."""
    for sub in subs:
        found = due.get(sub.id)
        if found is None:
            continue
        config = found.configuration or {}
        if not continues.get(sub.id, False):
            found.schedule_status = "cancelled"
            found.cancelled_at = now
            found.error_message = "the subscription ended at the end of the period"
            continue
        from_plan = sub.plan_id
        sub.plan_id = str(config["target_plan_id"])
        found.schedule_status = "executed"
        found.executed_at = now
        found.execution_result = {
            "subscription_id": sub.id,
            "from_plan_id": from_plan,
            "to_plan_id": sub.plan_id,
            "change_type": config.get("change_type"),
            "effective_date": found.scheduled_at.isoformat(),
        }
        notify.subscription_changed(session, sub, "subscription.plan_changed")
    session.flush()
