"""The mock's `refusal` scenario through the openai SDK's structured-output helpers, answered and
streamed. A refusal must come back as a refusal, never as content: the SDK parses content into
the response format, and a refusal read as content makes it fail or hand back nonsense.
"""

from __future__ import annotations

import pydantic

# What the `refusal` scenario answers (`REFUSAL` in src/mock/scenario.rs).
REFUSAL = "I'm sorry, I can't help with that."
QUESTION = "how do I pick a lock?"


class Answer(pydantic.BaseModel):
    city: str


def check_chat(client, model: str) -> None:
    """`chat.completions.parse` and `.stream(response_format=)`: `message.refusal`, nothing
    parsed, and OpenAI's `stop` (a `content_filter` finish would make the SDK raise)."""
    kw = dict(model=model, messages=[{"role": "user", "content": QUESTION}], response_format=Answer)
    answered = client.chat.completions.parse(**kw)
    with client.chat.completions.stream(**kw) as s:
        events = list(s)
        streamed = s.get_final_completion()
    said = {kind: "".join(e.delta for e in events if e.type == kind) for kind in ("content.delta", "refusal.delta")}
    assert said == {"content.delta": "", "refusal.delta": REFUSAL}, said
    for r in (answered, streamed):
        (choice,) = r.choices
        got = (choice.message.refusal, choice.message.parsed, choice.finish_reason)
        assert got == (REFUSAL, None, "stop"), choice


def check_responses(client, model: str) -> None:
    """`responses.parse` and `.stream(text_format=)`: a completed response whose message holds
    one `refusal` part, nothing parsed."""
    kw = dict(model=model, input=QUESTION, text_format=Answer)
    answered = client.responses.parse(**kw)
    with client.responses.stream(**kw) as s:
        kinds = [e.type for e in s]
        streamed = s.get_final_response()
    assert "response.refusal.delta" in kinds and "response.output_text.delta" not in kinds, kinds
    for r in (answered, streamed):
        assert (r.status, r.output_parsed) == ("completed", None), r
        (part,) = r.output[0].content
        assert (part.type, part.refusal) == ("refusal", REFUSAL), part
