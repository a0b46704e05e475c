"""The official `anthropic` Python SDK against haimaker's `POST /v1/messages`.

Run by the Rust test `e2e::providers_messages` (tests/src/e2e/providers_messages.rs), which starts
the mock upstream and the gateway and passes HAIMAKER_BASE_URL and HAIMAKER_KEY. Model groups:
`claude` and `claude-stream` are Anthropic deployments (passed through), `gpt` an OpenAI one
(translated), `claude-overloaded` answers 529. Each check is a function; the script exits
non-zero with the failing checks' names and errors.
"""

import os
import sys
import traceback

import anthropic

BASE = os.environ["HAIMAKER_BASE_URL"]
KEY = os.environ["HAIMAKER_KEY"]
client = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0, timeout=30)
MESSAGES = [{"role": "user", "content": "Hello, Claude"}]


def check_message_passed_through():
    raw = client.messages.with_raw_response.create(model="claude", max_tokens=256, messages=MESSAGES)
    assert raw.headers["x-litellm-model-group"] == "claude", raw.headers
    message = raw.parse()
    assert message.content[0].text == "Hi! My name is Claude.", message
    assert message.stop_reason == "end_turn", message
    assert message.usage.input_tokens == 2095 and message.usage.output_tokens == 503, message.usage


def check_message_translated_from_openai():
    message = client.messages.create(model="gpt", max_tokens=256, system="be brief", messages=MESSAGES)
    assert message.type == "message" and message.role == "assistant", message
    assert message.content[0].type == "text", message
    assert message.content[0].text == "mock upstream reply", message
    assert message.stop_reason == "end_turn", message
    assert message.usage.input_tokens == 9 and message.usage.output_tokens == 5, message.usage


def check_stream_passed_through():
    with client.messages.stream(model="claude-stream", max_tokens=256, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello there", text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 15, final.usage


def check_stream_translated_from_openai():
    with client.messages.stream(model="gpt", max_tokens=256, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "mock upstream reply", text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 5, final.usage


def check_raw_stream_events():
    events = list(client.messages.create(model="gpt", max_tokens=256, messages=MESSAGES, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop", kinds
    assert "content_block_delta" in kinds and "message_delta" in kinds, kinds


def expect(exc_type, fn, status=None):
    try:
        fn()
    except exc_type as e:
        if status is not None:
            assert e.status_code == status, (e.status_code, e)
        return e
    raise AssertionError(f"expected {exc_type.__name__}")


def check_authentication_error():
    bad = anthropic.Anthropic(base_url=BASE, api_key="not-a-key", max_retries=0)
    expect(anthropic.AuthenticationError, lambda: bad.messages.create(model="claude", max_tokens=8, messages=MESSAGES), 401)


def check_unknown_model():
    e = expect(anthropic.BadRequestError, lambda: client.messages.create(model="nope", max_tokens=8, messages=MESSAGES), 400)
    assert "Invalid model name" in str(e), e


def check_overloaded_is_a_server_error():
    e = expect(anthropic.InternalServerError, lambda: client.messages.create(model="claude-overloaded", max_tokens=8, messages=MESSAGES), 500)
    assert "Overloaded" in str(e), e


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
    print(f"anthropic {anthropic.__version__}: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
