"""/api/feature-flags, the OpenFeature manifest, and OFREP evaluation of one flag.

Flag bodies are snake_case, as the contract's are. The default variant and each targeting
rule are discriminated unions by ``type`` (``basic``, ``rollout_percentage``,
``rollout_date``), as in the SDK's models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field, StrictBool

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject, FreeValue
from meterline.api.json import json_response
from meterline.api.kaiten.common import SLUG, Body, Page, scope
from meterline.api.kaiten.ids import wire_id
from meterline.kernel.errors import NotFound
from meterline.kernel.instants import AwareInstant
from meterline.licensing import feature_flags as service
from meterline.licensing import flag_rules
from meterline.licensing.feature_flags import FlagTerms
from meterline.licensing.flag_models import FeatureFlag
from meterline.licensing.flag_rules import Rule, Serve, Step

router = APIRouter(tags=["feature flags"])

ReadFlags = Annotated[Principal, Depends(scope("read", "feature_flags"))]
WriteFlags = Annotated[Principal, Depends(scope("write", "feature_flags"))]

VariantName = Annotated[str, Field(min_length=1, max_length=100)]
Weight = Annotated[int, Field(gt=0, le=1_000_000)]
Distribution = Annotated[dict[VariantName, Weight], Field(min_length=1, max_length=50)]
RuleName = Annotated[str, Field(min_length=1, max_length=255)]
Expression = Annotated[str, Field(min_length=1, max_length=flag_rules.MAX_EXPRESSION)]


class VariantIn(Body):
    name: VariantName
    value: FreeValue
    description: str = Field(default="", max_length=2000)


class StepIn(Body):
    variant: VariantName
    percentage: int = Field(ge=0, le=100)
    date: AwareInstant

    def step(self) -> Step:
        return Step(self.variant, self.percentage, self.date)


class BasicDefault(Body):
    type: Literal["basic"]
    value: VariantName

    def serve(self) -> Serve:
        return Serve("basic", variant=self.value)


class SplitDefault(Body):
    type: Literal["rollout_percentage"]
    distribution: Distribution

    def serve(self) -> Serve:
        return Serve("rollout_percentage", distribution=tuple(self.distribution.items()))


class ScheduleDefault(Body):
    type: Literal["rollout_date"]
    start: StepIn
    end: StepIn

    def serve(self) -> Serve:
        return Serve("rollout_date", start=self.start.step(), end=self.end.step())


class BasicRule(Body):
    type: Literal["basic"]
    name: RuleName
    rule: Expression
    variant: VariantName

    def of(self) -> Rule:
        return Rule(self.name, self.rule, Serve("basic", variant=self.variant))


class SplitRule(Body):
    type: Literal["rollout_percentage"]
    name: RuleName
    rule: Expression
    distribution: Distribution

    def of(self) -> Rule:
        serve = Serve("rollout_percentage", distribution=tuple(self.distribution.items()))
        return Rule(self.name, self.rule, serve)


class ScheduleRule(Body):
    type: Literal["rollout_date"]
    name: RuleName
    rule: Expression
    start: StepIn
    end: StepIn

    def of(self) -> Rule:
        serve = Serve("rollout_date", start=self.start.step(), end=self.end.step())
        return Rule(self.name, self.rule, serve)


DefaultIn = Annotated[BasicDefault | SplitDefault | ScheduleDefault, Field(discriminator="type")]
TargetingIn = Annotated[BasicRule | SplitRule | ScheduleRule, Field(discriminator="type")]


class FlagFields(Body):
    name: str = Field(min_length=1, max_length=255)
    type: Literal["boolean", "string", "number", "object"]
    variants: list[VariantIn] = Field(min_length=1, max_length=50)
    default_variant: DefaultIn
    targetings: list[TargetingIn] = Field(default_factory=list, max_length=50)
    enabled: StrictBool = True
    description: str | None = Field(default=None, max_length=2000)
    metadata: FreeObject = Field(default_factory=dict, max_length=100)
    event_name: str = Field(default="", max_length=255)

    def terms(self) -> FlagTerms:
        return FlagTerms(
            name=self.name,
            type=self.type,
            variants=tuple(
                flag_rules.Variant(v.name, v.value, v.description) for v in self.variants
            ),
            default=self.default_variant.serve(),
            rules=tuple(t.of() for t in self.targetings),
            enabled=self.enabled,
            description=self.description,
            metadata=self.metadata,
            event_name=self.event_name,
        )


class FlagIn(FlagFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


def flag_out(flag: FeatureFlag) -> dict[str, Any]:
    return {
        "id": wire_id(flag.id),
        "slug": flag.slug,
        "name": flag.name,
        "description": flag.description,
        "type": flag.type,
        "enabled": flag.enabled,
        "event_name": flag.event_name,
        "variants": flag.variants,
        "default_variant": flag.default_variant,
        "targetings": flag.targetings,
        "metadata": flag.metadata_ or {},
    }


@router.get("/feature-flags")
def list_flags(principal: ReadFlags, session: ReadSession, page: Page = Depends()) -> Response:
    return page.answer(service.list_flags(session, principal, page.limit, page.offset), flag_out)


@router.post("/feature-flags", status_code=201)
def create_flag(body: FlagIn, principal: WriteFlags, session: WriteSession) -> Response:
    created = service.create_flag(session, principal, body.terms(), slug=body.slug)
    return json_response(flag_out(created), 201)


@router.get("/feature-flags/{featureFlagSlug}")
def get_flag(featureFlagSlug: str, principal: ReadFlags, session: ReadSession) -> Response:
    return json_response(flag_out(service.get_flag(session, principal, featureFlagSlug)))


@router.put("/feature-flags/{featureFlagSlug}", status_code=204)
def update_flag(
    featureFlagSlug: str, body: FlagFields, principal: WriteFlags, session: WriteSession
) -> Response:
    service.update_flag(session, principal, featureFlagSlug, body.terms())
    return Response(status_code=204)


@router.delete("/feature-flags/{featureFlagSlug}", status_code=204)
def delete_flag(featureFlagSlug: str, principal: WriteFlags, session: WriteSession) -> Response:
    service.delete_flag(session, principal, featureFlagSlug)
    return Response(status_code=204)


@router.get("/openfeature/v0/manifest")
def manifest(principal: ReadFlags, session: ReadSession) -> Response:
    flags = [
        {
            "key": entry.key,
            "type": entry.type,
            "defaultValue": entry.default_value,
            "name": entry.name,
            **({"description": entry.description} if entry.description is not None else {}),
        }
        for entry in service.manifest(session, principal)
    ]
    return json_response({"flags": flags})


class EvaluationIn(Body):
    """The subject, as OFREP sends it: ``context.targetingKey`` buckets splits and (without
    ``context.instance``) names a customer by slug; ``context.instance`` names an instance
    by slug, whose license, customer and deployment zone fill ``__kaiten``. Any other key is
    the caller's, read by rules as given."""

    context: FreeObject = Field(default_factory=dict, max_length=100)


@router.post("/ofrep/v1/evaluate/flags/{flagKey}")
def evaluate(
    flagKey: str, body: EvaluationIn, principal: ReadFlags, session: ReadSession
) -> Response:
    subject = service.subject_of(session, principal, body.context)
    try:
        found = service.evaluate_flag(session, principal, flagKey, subject)
    except NotFound:
        return json_response(
            {"key": flagKey, "errorCode": "FLAG_NOT_FOUND", "errorDetails": f"no flag {flagKey}"},
            404,
        )
    answer: dict[str, Any] = {
        "key": flagKey,
        "value": found.value,
        "variant": found.variant,
        "reason": found.reason,
    }
    if found.rule is not None:
        answer["metadata"] = {"matchedRule": found.rule}
    return json_response(answer)
