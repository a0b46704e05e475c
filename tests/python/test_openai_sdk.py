"""The official `openai` Python SDK against a running haimaker.

Run by the Rust test `e2e::sdk` (tests/src/e2e/sdk.rs), which starts the mock upstream and the
gateway and passes HAIMAKER_BASE_URL and HAIMAKER_KEY. Each check is a function; the script
exits non-zero with the failing check's name and error.
"""

import os
import sys
import traceback

import openai

BASE = os.environ["HAIMAKER_BASE_URL"]
KEY = os.environ["HAIMAKER_KEY"]
client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=30)
MESSAGES = [{"role": "user", "content": "hi"}]


def check_chat():
    raw = client.chat.completions.with_raw_response.create(model="sdk-chat", messages=MESSAGES)
    assert raw.headers["x-litellm-model-group"] == "sdk-chat", raw.headers
    completion = raw.parse()
    assert completion.choices[0].message.content == "mock upstream reply", completion
    assert completion.usage.total_tokens == 14, completion.usage


def check_streaming():
    chunks = list(
        client.chat.completions.create(
            model="sdk-chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "mock upstream reply", text
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].total_tokens == 14, usage


def check_streaming_without_usage():
    chunks = list(client.chat.completions.create(model="sdk-chat", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks), chunks
    assert all(c.choices for c in chunks), "no usage-only chunk unless asked"


def check_embeddings():
    result = client.embeddings.create(model="sdk-embed", input="hello")
    assert len(result.data) == 1 and len(result.data[0].embedding) == 3, result


def check_models():
    ids = [m.id for m in client.models.list()]
    assert "sdk-chat" in ids and "sdk-embed" in ids, ids
    assert client.models.retrieve("sdk-chat").id == "sdk-chat"


def expect(exc_type, fn, status=None):
    try:
        fn()
    except exc_type as e:
        if status is not None:
            assert e.status_code == status, (e.status_code, e)
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


def check_authentication_error():
    bad = openai.OpenAI(base_url=BASE, api_key="not-a-key", max_retries=0)
    expect(openai.AuthenticationError, lambda: bad.chat.completions.create(model="sdk-chat", messages=MESSAGES), 401)


def check_bad_request_error():
    e = expect(openai.BadRequestError, lambda: client.chat.completions.create(model="no-such-model", messages=MESSAGES), 400)
    assert "Invalid model name" in str(e), e


def check_not_found_error():
    expect(openai.NotFoundError, lambda: client.models.retrieve("no-such-model"), 404)
    expect(openai.NotFoundError, lambda: client.chat.completions.create(model="sdk-404", messages=MESSAGES), 404)


def check_rate_limit_error():
    expect(openai.RateLimitError, lambda: client.chat.completions.create(model="sdk-429", messages=MESSAGES), 429)


def check_client_timeout():
    impatient = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=0.5)
    expect(openai.APITimeoutError, lambda: impatient.chat.completions.create(model="sdk-slow", messages=MESSAGES))


def check_gateway_timeout():
    e = expect(
        openai.APIStatusError,
        lambda: client.chat.completions.create(
            model="sdk-slow", messages=MESSAGES, extra_headers={"x-litellm-timeout": "0.3"}
        ),
        408,
    )
    assert "Timeout" in str(e), e


def main():
    checks = [(name, fn) for name, fn in globals().items() if name.startswith("check_")]
    failed = 0
    for name, fn in checks:
        try:
            fn()
            print(f"ok   {name}")
        except Exception:  # report every failing check, not just the first
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"openai {openai.__version__}: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
