"""bedrock-runtime's `apply_guardrail` (POST /guardrail/{id}/version/{v}/apply) routes no model,
so Sluice has no target for it: boto3 gets a Bedrock-shaped 400 (not retried) that says so, not
a 404 that reads as a wrong endpoint."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest import bedrock_runtime


@pytest.mark.parametrize("prefix", ["/bedrock", ""])
def test_apply_guardrail_is_refused_in_bedrocks_shape(sluice, prefix):
    c = bedrock_runtime(f"{sluice.base}{prefix}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.apply_guardrail(
            guardrailIdentifier="gr-1",
            guardrailVersion="DRAFT",
            source="INPUT",
            content=[{"text": {"text": "hello"}}],
        )
    r = e.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert r["Error"]["Code"] == "ValidationException"
    assert "ApplyGuardrail is not supported" in r["Error"]["Message"]
