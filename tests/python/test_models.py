"""Model listing and lookup with every SDK that has them: the gateway's routing table (each
configured provider's `models`, named `provider/model`) in each format's own shape, and a 404 in
that format for a model it does not have."""

from __future__ import annotations

import pytest

CONFIGURED = ["mock/mock-model", "openai/gpt-4o-mini", "openai/text-embedding-3-small"]


def test_openai_list_and_retrieve(sluice):
    import openai

    c = openai.OpenAI(base_url=f"{sluice.base}/v1", api_key="k", max_retries=0, timeout=30)
    assert [m.id for m in c.models.list()] == CONFIGURED
    m = c.models.retrieve("openai/gpt-4o-mini")
    assert (m.id, m.object, m.owned_by) == ("openai/gpt-4o-mini", "model", "sluice")
    with pytest.raises(openai.NotFoundError, match="not configured"):
        c.models.retrieve("openai/gpt-nope")


def test_anthropic_list_and_retrieve(sluice):
    import anthropic

    c = anthropic.Anthropic(base_url=f"{sluice.base}/anthropic", api_key="k", max_retries=0, timeout=30)
    page = c.models.list()
    assert [m.id for m in page] == CONFIGURED
    assert (page.first_id, page.last_id, page.has_more) == (CONFIGURED[0], CONFIGURED[-1], False)
    m = c.models.retrieve("mock/mock-model")
    assert (m.id, m.type) == ("mock/mock-model", "model")
    with pytest.raises(anthropic.NotFoundError):
        c.models.retrieve("anthropic/claude-nope")


def test_anthropic_sdk_at_the_root_url_lists_in_its_own_shape(sluice):
    """The README points the Anthropic SDK at the root URL too, where `/v1/models` is also
    OpenAI's path: the list came in OpenAI's shape (no `created_at`, `display_name`, `type` or
    `has_more`). The SDK's `anthropic-version` header says which API it speaks."""
    import anthropic

    c = anthropic.Anthropic(base_url=sluice.base, api_key="k", max_retries=0, timeout=30)
    page = c.models.list()
    assert [m.id for m in page] == CONFIGURED
    assert (page.has_more, page.last_id) == (False, CONFIGURED[-1])
    m = c.models.retrieve("openai/gpt-4o-mini")
    assert (m.type, m.display_name, m.created_at.year) == ("model", "openai/gpt-4o-mini", 2025)
    with pytest.raises(anthropic.NotFoundError) as info:
        c.models.retrieve("openai/gpt-nope")
    assert info.value.body["error"]["type"] == "not_found_error"


def test_anthropic_list_pages(sluice):
    """The Models API pages (`limit`, `after_id`, `before_id`): a page of one says there is more,
    and the SDK's auto-paging, which sends the page's `last_id` back as `after_id`, walks the
    whole list once."""
    import anthropic

    c = anthropic.Anthropic(base_url=f"{sluice.base}/anthropic", api_key="k", max_retries=0, timeout=30)
    page = c.models.list(limit=1)
    assert ([m.id for m in page.data], page.has_more) == (CONFIGURED[:1], True)
    assert [m.id for m in c.models.list(limit=2)] == CONFIGURED
    page = c.models.list(limit=1, before_id=CONFIGURED[2])
    assert ([m.id for m in page.data], page.has_more, page.first_id) == (CONFIGURED[1:2], True, CONFIGURED[1])
    page = c.models.list(after_id=CONFIGURED[-1])
    assert (page.data, page.has_more) == ([], False)
    with pytest.raises(anthropic.BadRequestError, match="limit"):
        c.models.list(limit=0)


def test_genai_list_and_get(sluice):
    from google import genai
    from google.genai import errors, types

    c = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{sluice.base}/genai", api_version="v1beta", timeout=30_000)
    )
    assert [m.name for m in c.models.list()] == [f"models/{m}" for m in CONFIGURED]
    m = c.models.get(model="openai/text-embedding-3-small")
    assert m.name == "models/openai/text-embedding-3-small"
    assert "embedContent" in m.supported_actions and "generateContent" in m.supported_actions
    with pytest.raises(errors.ClientError) as info:
        c.models.get(model="gemini/nope")
    assert (info.value.code, info.value.status) == (404, "NOT_FOUND")


def test_cohere_list_and_get(sluice):
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{sluice.base}/cohere", timeout=30)
    assert [m.name for m in c.models.list().models] == CONFIGURED
    m = c.models.get("openai/gpt-4o-mini")
    assert (m.name, m.endpoints) == ("openai/gpt-4o-mini", ["chat", "embed"])
    with pytest.raises(cohere.errors.NotFoundError):
        c.models.get("cohere/nope")


@pytest.mark.parametrize(
    "query, listed",
    [({"endpoint": "chat"}, True), ({"endpoint": "embed"}, True), ({"endpoint": "rerank"}, False),
     ({"endpoint": "chat", "default_only": True}, False)],
)
def test_cohere_list_is_filtered_by_endpoint(sluice, query, listed):
    """`models.list(endpoint=...)` keeps the models that serve the endpoint, as Cohere does (it
    was ignored: a rerank listing named chat models); `default_only` keeps the endpoint's default,
    and Sluice names none."""
    import cohere

    c = cohere.ClientV2(api_key="k", base_url=f"{sluice.base}/cohere", timeout=30)
    names = [m.name for m in c.models.list(**query).models]
    assert names == (CONFIGURED if listed else [])


def test_a_bare_name_is_looked_up_at_the_default_provider(sluice, raw):
    # As a request's `model` routes: `mock-model` has no provider prefix, and the default
    # provider (`mock`) lists it.
    r = raw(sluice.base, "GET", "/v1/models/mock-model")
    assert r.status == 200 and r.json()["id"] == "mock-model"
    assert raw(sluice.base, "GET", "/v1/models/gpt-4o-mini").status == 404


def test_percent_encoded_ids_are_looked_up(sluice, raw):
    r = raw(sluice.base, "GET", "/v1/models/openai%2Fgpt-4o-mini")
    assert r.status == 200 and r.json()["id"] == "openai/gpt-4o-mini"
