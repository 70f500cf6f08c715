#!/usr/bin/env python3
"""Regenerates the OTLP/JSON fixtures in this folder from REAL GenAI instrumentations.

    python3 Tests/EvaldCoreTests/Fixtures/otlp/generate.py

`swift test` never runs this: the .jsonl files it writes are committed.

What it does:
  * creates two virtualenvs under ./.venv/ (git-ignored), one per requirements file:
      requirements.txt             official opentelemetry-instrumentation-openai-v2
      requirements-openllmetry.txt OpenLLMetry's opentelemetry-instrumentation-openai/-anthropic
    (separate because both instrument the same `openai` client and pin different
    opentelemetry-instrumentation/semconv versions);
  * re-runs itself inside a venv once per fixture (instrumentation and the
    OTEL_* environment are process-wide), and in that child:
      - starts a stub OpenAI-compatible (POST /v1/chat/completions) and
        Anthropic-compatible (POST /v1/messages) HTTP server on 127.0.0.1, random port;
      - drives the official `openai` / `anthropic` clients against it, each call inside a
        non-LLM parent span "handle_request" (plus a non-LLM "load_customer" sibling);
      - exports the spans with the official OTLP JSON file exporter
        (opentelemetry-exporter-otlp-json-file, FileSpanExporter): one
        {"resourceSpans": ...} per line, hex ids, 64-bit ints as decimal strings.

Fixtures (resource service.name = "support-chat", service.version = "support-v12"):
  openai-v2-latest-content.jsonl  OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental,
                                  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY
  openai-v2-no-content.jsonl      defaults (no content captured)
  openllmetry-openai.jsonl        OpenLLMetry defaults (content captured)
  openllmetry-anthropic.jsonl     OpenLLMetry defaults (content captured); the anthropic SDK
                                  (2.x) also emits its own GenAI span per call (scope
                                  com.anthropic.sdk.python, no content), kept as is

The expected values (prompts sent, stub answers) are the constants below; the Swift test
OTLPRealProducerTests.swift repeats them.
"""

import json
import os
import subprocess
import sys
import threading
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venv"

# name -> (requirements file, fixture runs using it)
ENVIRONMENTS = {
    "official": ("requirements.txt", ["openai-v2-latest-content", "openai-v2-no-content"]),
    "openllmetry": ("requirements-openllmetry.txt", ["openllmetry-openai", "openllmetry-anthropic"]),
}

SERVICE_NAME = "support-chat"
SERVICE_VERSION = "support-v12"

# What the clients send and what the stub answers (the Swift test checks these).
OPENAI_MODEL = "gpt-4o-mini"
OPENAI_RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
OPENAI_FINGERPRINT = "fp_44709d6fcb"
ANTHROPIC_MODEL = "claude-3-5-haiku-latest"
ANTHROPIC_RESPONSE_MODEL = "claude-3-5-haiku-20241022"
SYSTEM_PROMPT = "You are a support agent for Acme. Answer briefly."
QUESTION_1 = "Where is my order 42?"
ANSWER_1 = "Your order 42 shipped yesterday and arrives Friday."
QUESTION_2 = "Please refund order A-1."
TOOL_NAME = "issue_refund"
TOOL_ARGUMENTS = '{"order_id": "A-1"}'
ANTHROPIC_QUESTION = "Summarize ticket 7 in one sentence."
ANTHROPIC_ANSWER = "The customer wants a refund for a damaged kettle."
USAGE = {  # per call: (input, output)
    "openai-1": (812, 164),
    "openai-2": (640, 23),
    "anthropic-1": (120, 18),
    "anthropic-2": (95, 12),
}


# ---------------------------------------------------------------- bootstrap (outer)

def ensure_venv(name: str, requirements: str) -> Path:
    path = VENVS / name
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = (HERE / requirements).read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[generate] creating venv {path}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(HERE / requirements)], check=True)
    stamp.write_text(wanted)
    return python


def main() -> None:
    VENVS.mkdir(exist_ok=True)
    for name, (requirements, runs) in ENVIRONMENTS.items():
        python = ensure_venv(name, requirements)
        for run in runs:
            out = HERE / f"{run}.jsonl"
            if out.exists():
                out.unlink()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_"))}
            if run == "openai-v2-latest-content":
                env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
                env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
            print(f"[generate] {run} -> {out.name}", flush=True)
            subprocess.run([str(python), __file__, "--run", run, str(out)], check=True, env=env)
            lines = out.read_text().splitlines()
            for line in lines:
                assert "resourceSpans" in json.loads(line), line[:200]
            print(f"[generate]   {len(lines)} line(s), valid JSON", flush=True)


# ---------------------------------------------------------------- stub server (inner)

def start_stub():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
            if self.path.endswith("/chat/completions"):
                reply = openai_reply(body)
            elif self.path.endswith("/messages"):
                reply = anthropic_reply(body)
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def openai_reply(body):
    if body.get("tools"):
        usage = USAGE["openai-2"]
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_refund_1", "type": "function",
            "function": {"name": TOOL_NAME, "arguments": TOOL_ARGUMENTS}}]}
        finish = "tool_calls"
        rid = "chatcmpl-stub-2"
    else:
        usage = USAGE["openai-1"]
        message = {"role": "assistant", "content": ANSWER_1}
        finish = "stop"
        rid = "chatcmpl-stub-1"
    return {
        "id": rid, "object": "chat.completion", "created": 1795860000,
        "model": OPENAI_RESPONSE_MODEL, "system_fingerprint": OPENAI_FINGERPRINT,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[0] + usage[1]},
    }


def anthropic_reply(body):
    usage = USAGE["anthropic-1"] if body.get("system") else USAGE["anthropic-2"]
    return {
        "id": "msg_stub_1" if body.get("system") else "msg_stub_2", "type": "message", "role": "assistant",
        "model": ANTHROPIC_RESPONSE_MODEL,
        "content": [{"type": "text", "text": ANTHROPIC_ANSWER}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


# ---------------------------------------------------------------- driving the clients (inner)

def run(kind: str, out: str) -> None:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME, "service.version": SERVICE_VERSION}))
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(out)))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("support-chat.app")

    if kind.startswith("openai-v2"):
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif kind == "openllmetry-openai":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif kind == "openllmetry-anthropic":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        AnthropicInstrumentor().instrument(tracer_provider=provider)

    server = start_stub()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def request(name, call):
        with tracer.start_as_current_span("handle_request", attributes={"app.request": name}):
            with tracer.start_as_current_span("load_customer"):
                pass
            call()

    if kind.startswith("openai") or kind == "openllmetry-openai":
        import openai
        client = openai.OpenAI(base_url=base + "/v1", api_key="sk-stub", max_retries=0)
        request("order-status", lambda: client.chat.completions.create(
            model=OPENAI_MODEL, temperature=0.2,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION_1}]))
        request("refund", lambda: client.chat.completions.create(
            model=OPENAI_MODEL,
            messages=[{"role": "user", "content": QUESTION_2}],
            tools=[{"type": "function", "function": {
                "name": TOOL_NAME, "description": "Refund an order.",
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]))
    else:
        import anthropic
        client = anthropic.Anthropic(base_url=base, api_key="sk-ant-stub", max_retries=0)
        request("ticket-summary", lambda: client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=200, system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": ANTHROPIC_QUESTION}]))
        request("ticket-summary-nosystem", lambda: client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=200,
            messages=[{"role": "user", "content": ANTHROPIC_QUESTION}]))

    provider.shutdown()
    server.shutdown()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--run":
        run(sys.argv[2], sys.argv[3])
    else:
        main()
