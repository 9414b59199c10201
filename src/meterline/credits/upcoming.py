"""Upcoming grant applications: for each grant that applies to a subscription, the next
period it will be credited for (``schedule.due_periods`` after the last one applied, with
no end in time). A period already due that the job has not run for yet is upcoming too:
it is pending until the job's next tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.credits import repository, schedule
from meterline.credits.apply import grant_terms, subscription_terms
from meterline.customers import service as customers
from meterline.kernel.calendar import NEVER_ENDS
from meterline.subscriptions import repository as subscription_repository
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import Subscription
from meterline.subscriptions.repository import LIVE_STATUSES


@dataclass(frozen=True)
class Upcoming:
    environment_id: str
    credit_grant_id: str
    subscription_id: str
    credits: Decimal
    period_start: datetime
    period_end: datetime | None
    reason: str  # onetime_credit_grant | first_time_recurring_credit_grant | recurring_...


def _of(session: Session, sub: Subscription) -> list[Upcoming]:
    if sub.subscription_status not in LIVE_STATUSES:
        return []
    found = []
    for grant in repository.grants_for_subscription(session, sub):
        last = repository.last_applied(session, grant.id).get(sub.id)
        terms = grant_terms(grant)
        nexts = schedule.due_periods(
            terms, subscription_terms(sub), NEVER_ENDS, after=last, limit=1
        )
        if not nexts:
            continue
        if grant.cadence == "ONETIME":
            reason = "onetime_credit_grant"
        else:
            reason = "recurring_credit_grant" if last else "first_time_recurring_credit_grant"
        period = nexts[0]
        found.append(
            Upcoming(
                environment_id=grant.environment_id,
                credit_grant_id=grant.id,
                subscription_id=sub.id,
                credits=grant.credits,
                period_start=period.start,
                period_end=period.end if period.end > period.start else None,
                reason=reason,
            )
        )
    return found


def of_subscription(session: Session, principal: Principal, subscription_id: str) -> list[Upcoming]:
    return _of(session, subscriptions.get_subscription(session, principal, subscription_id))


def of_customer(session: Session, principal: Principal, customer_id: str) -> list[Upcoming]:
    customer = customers.get_customer(session, principal, customer_id)
    live = subscription_repository.live_for_customer(session, principal.environment_id, customer.id)
    return [u for sub in live for u in _of(session, sub)]
