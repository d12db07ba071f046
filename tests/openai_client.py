"""The official OpenAI Python client against ama's /v1 endpoints (run by tests/http.rs).

Usage: python openai_client.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)
"""
import sys

from openai import OpenAI

base_url = sys.argv[1]
client = OpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=120)

models = client.models.list()
ids = [m.id for m in models.data]
assert ids == ["SmolLM2-135M-Instruct.Q4_1"], ids

question = "Who replaced General Zaluzhny?"
whole = client.chat.completions.create(
    model=ids[0],
    messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": question},
    ],
    temperature=0.2,
)
content = whole.choices[0].message.content
assert "Syrsky" in content, content
assert "Sources:" in content, content
assert whole.choices[0].finish_reason == "stop", whole.choices[0].finish_reason
sources = (whole.model_extra or {}).get("sources")
assert sources and sources[0]["number"] == 1, whole.model_extra
assert whole.usage is not None

stream = client.chat.completions.create(
    model=ids[0],
    messages=[{"role": "user", "content": question}],
    stream=True,
)
pieces = []
roles = []
finish = None
extra_sources = None
chunks = 0
for chunk in stream:
    chunks += 1
    choice = chunk.choices[0]
    if choice.delta.role:
        roles.append(choice.delta.role)
    if choice.delta.content:
        pieces.append(choice.delta.content)
    if choice.finish_reason:
        finish = choice.finish_reason
        extra_sources = (chunk.model_extra or {}).get("sources")
streamed = "".join(pieces)
assert roles == ["assistant"], roles
assert len(pieces) > 3, pieces
assert streamed == content, (streamed, content)
assert finish == "stop", finish
assert extra_sources and extra_sources[0]["quote"], extra_sources

# A follow-up with history, and an off-topic question the article cannot answer.
follow = client.chat.completions.create(
    model=ids[0],
    messages=[
        {"role": "user", "content": "Who spearheaded Ukraine's defense in Kyiv?"},
        {"role": "assistant", "content": "General Zaluzhny [1]."},
        {"role": "user", "content": "Who replaced him?"},
    ],
)
assert "Syrsky" in follow.choices[0].message.content, follow.choices[0].message.content
off = client.chat.completions.create(
    model=ids[0],
    messages=[{"role": "user", "content": "What is the boiling point of mercury?"}],
)
assert (off.model_extra or {}).get("declined") is True, off.model_extra

# Errors come back as the client's own exception types.
try:
    client.chat.completions.create(model=ids[0], messages=[{"role": "user", "content": " "}])
    raise AssertionError("an empty question was accepted")
except Exception as e:  # openai.UnprocessableEntityError
    assert getattr(e, "status_code", None) == 422, e

print("ok: models, chat, stream, follow-up, declined, errors")
