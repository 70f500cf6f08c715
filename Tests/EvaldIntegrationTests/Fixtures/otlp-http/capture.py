#!/usr/bin/env python3
"""OTLP/HTTP request bodies from the REAL OpenTelemetry Python SDK exporters.

    python3 Tests/EvaldIntegrationTests/Fixtures/otlp-http/capture.py
        writes the committed fixtures (the CI tests post them to evald; `swift test` never
        runs this script):
          openai-v2.pb       opentelemetry-exporter-otlp-proto-http, application/x-protobuf
          openai-v2.pb.gz    the same exporter with compression=gzip (the body as sent)
          openai-v2.json     opentelemetry-exporter-otlp-json-http, application/json
        each from its own run (its own trace ids), each one export request.

    python3 Tests/EvaldIntegrationTests/Fixtures/otlp-http/capture.py --post http://127.0.0.1:4318 [--token T]
        live: the same three exporters send to a running evald's OTLP receiver; prints one
        line per exporter with its export result (OTLPLiveSDKTests runs this, opt-in).

What each run does is what ../../../EvaldCoreTests/Fixtures/otlp/generate.py does for the
committed OTLP/JSON file fixture openai-v2-latest-content.jsonl: the official `openai`
client against generate.py's stub, instrumented by the official
opentelemetry-instrumentation-openai-v2 with OTEL_SEMCONV_STABILITY_OPT_IN=
gen_ai_latest_experimental and message content on the span, two chat calls each inside a
non-LLM "handle_request" span with a "load_customer" child (6 spans, 2 of them LLM calls).
So the records evald makes of these bodies must equal those it makes of that file, but for
ids and times.

Two virtualenvs are made in ./.venv/ (git-ignored), from requirements-protobuf.txt and
requirements-json.txt: the JSON exporter 0.66b1 pins exporter packages the protobuf exporter
1.45.2 refuses.
"""

import os
import subprocess
import sys
import threading
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATOR = HERE.parent.parent.parent / "EvaldCoreTests" / "Fixtures" / "otlp"
VENV = HERE / ".venv"
RUNS = {  # fixture file -> (exporter, gzip)
    "openai-v2.pb": ("protobuf", False),
    "openai-v2.pb.gz": ("protobuf", True),
    "openai-v2.json": ("json", False),
}


def ensure_venv(kind: str) -> Path:
    path = VENV / kind
    python = path / "bin" / "python"
    stamp = path / ".requirements"
    wanted = (HERE / f"requirements-{kind}.txt").read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"[capture] creating venv {path}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(HERE / f"requirements-{kind}.txt")], check=True)
    stamp.write_text(wanted)
    return python


def main() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    post = sys.argv[sys.argv.index("--post") + 1] if "--post" in sys.argv else None
    token = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else ""
    for name, (exporter, gzip) in RUNS.items():
        python = ensure_venv(exporter)
        out = "" if post else str(HERE / name)
        subprocess.run([str(python), __file__, "--run", exporter, "gzip" if gzip else "plain", out, post or "", token],
                       check=True, env=env)
        if not post:
            print(f"[capture] {name}: {Path(out).stat().st_size} bytes", flush=True)


# ---------------------------------------------------------------- inside the venv

def start_capture(out: str, expect_type: str, expect_gzip: bool):
    """A stand-in OTLP receiver that keeps the one request body it gets."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            assert self.path == "/v1/traces", self.path
            assert self.headers.get("content-type") == expect_type, self.headers.get("content-type")
            assert (self.headers.get("content-encoding") == "gzip") == expect_gzip, self.headers.get("content-encoding")
            assert not Path(out).exists(), "one export request per run"
            Path(out).write_bytes(body)
            answer = b"" if expect_type == "application/x-protobuf" else b"{}"
            self.send_response(200)
            self.send_header("content-type", expect_type)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(exporter_kind: str, compression: str, out: str, target: str, token: str) -> None:
    sys.path.insert(0, str(GENERATOR))
    import generate  # the stub and the constants of the file fixtures
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    gzip = compression == "gzip"
    capture = None
    if not target:
        if Path(out).exists():
            Path(out).unlink()
        capture = start_capture(out, "application/x-protobuf" if exporter_kind == "protobuf" else "application/json", gzip)
        target = f"http://127.0.0.1:{capture.server_address[1]}"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    if exporter_kind == "protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter(endpoint=target + "/v1/traces", headers=headers,
                                    compression=Compression.Gzip if gzip else Compression.NoCompression)
    else:
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter(endpoint=target + "/v1/traces", headers=headers)

    results = []

    class Recording:
        """The exporter as it is, its results kept for the live mode's report."""

        def export(self, spans):
            result = exporter.export(spans)
            results.append((len(spans), result))
            return result

        def shutdown(self):
            exporter.shutdown()

        def force_flush(self, timeout_millis=30000):
            return True

    provider = TracerProvider(resource=Resource.create({"service.name": generate.SERVICE_NAME, "service.version": generate.SERVICE_VERSION}))
    provider.add_span_processor(BatchSpanProcessor(Recording()))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("support-chat.app")
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

    stub = generate.start_stub()
    base = f"http://127.0.0.1:{stub.server_address[1]}"
    import openai
    client = openai.OpenAI(base_url=base + "/v1", api_key="sk-stub", max_retries=0)

    def request(name, call):
        with tracer.start_as_current_span("handle_request", attributes={"app.request": name}):
            with tracer.start_as_current_span("load_customer"):
                pass
            call()

    request("order-status", lambda: client.chat.completions.create(
        model=generate.OPENAI_MODEL, temperature=0.2,
        messages=[{"role": "system", "content": generate.SYSTEM_PROMPT}, {"role": "user", "content": generate.QUESTION_1}]))
    request("refund", lambda: client.chat.completions.create(
        model=generate.OPENAI_MODEL,
        messages=[{"role": "user", "content": generate.QUESTION_2}],
        tools=[{"type": "function", "function": {
            "name": generate.TOOL_NAME, "description": "Refund an order.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]))
    provider.shutdown()
    stub.shutdown()
    if capture:
        capture.shutdown()
    for count, result in results:
        print(f"[capture] {exporter_kind}{' gzip' if gzip else ''}: {count} spans -> {result.name}", flush=True)
    assert results and all(r == SpanExportResult.SUCCESS for _, r in results), results


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--run":
        run(*sys.argv[2:7])
    else:
        main()
