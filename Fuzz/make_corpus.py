#!/usr/bin/env python3
"""Builds the committed seed corpora (Fuzz/corpus/TARGET/) from the repository's fixtures.

Deterministic: the same fixtures give the same files (named by the SHA-1 of their bytes).
Run it again after a fixture changes: python3 Fuzz/make_corpus.py
"""
import hashlib
import json
import pathlib
import shutil

repo = pathlib.Path(__file__).resolve().parent.parent
out = repo / "Fuzz" / "corpus"


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def spool_lines(limit):
    lines = []
    for path in sorted((repo / "examples" / "spool").glob("*.jsonl")):
        with path.open("rb") as f:
            lines += [line.rstrip(b"\n") for _, line in zip(range(limit), f)]
    return lines


if out.exists():
    shutil.rmtree(out)

# line: example spool records (every shape the generator makes), plus hostile ones.
for line in spool_lines(12):
    write("line", line)
for hostile in [
    b"\xef\xbb\xbf" + spool_lines(1)[0],
    b'{"trace_id":"0af7651916cd43dd8448eb211c80319c","timestamp":"2026-11-28T10:00:00Z","route":"r","model":"m","input":[{"role":"user","content":"hi"}],"output":"\\ud800 x","metadata":{"n":1e999}}',
    b'{"trace_id":"0af7651916cd43dd8448eb211c80319c","timestamp":1795000000.5,"model":"m","input":"hi","output":null,"status":"error","error":{"type":"rate_limit"}}\r',
    b"[" * 300 + b"]" * 300,
    b"",
    b"   ",
]:
    write("line", hostile)

# otlp: the real instrumentations' exports.
for path in sorted((repo / "Tests" / "EvaldCoreTests" / "Fixtures" / "otlp").glob("*.jsonl")):
    write("otlp", path.read_bytes().rstrip(b"\n"))

# otlp-protobuf: a real instrumentation's OTLP/HTTP protobuf export, and its first half
# (a truncated body).
for path in sorted((repo / "Tests" / "EvaldIntegrationTests" / "Fixtures" / "otlp-http").glob("*.pb")):
    body = path.read_bytes()
    write("otlp-protobuf", body)
    write("otlp-protobuf", body[: len(body) // 2])
write("otlp-protobuf", b"")

# config: the shipped configs.
for path in [repo / "examples" / "evald.yaml", repo / "systemd" / "evald.yaml"]:
    write("config", path.read_bytes())
write("config", "a: &x [*x]\nstate_dir: /tmp\n")

# rubric: the shipped judges.
for path in sorted((repo / "reference-judges").glob("*.md")):
    write("rubric", path.read_bytes())

# reply: judge replies (first byte: the scale; bit 7: truncated).
for scale, reply in [
    (0, '{"score": 4, "reason": "Answers the question."}'),
    (0, 'Sure! ```json\n{"score": 2, "reason": "off topic"}\n```'),
    (1, '{"score": 7.5, "reason": "ok"}'),
    (2, '{"score": 0.9}'),
    (3, '{"pass": true, "reason": "follows the instructions"}'),
    (3, '{"pass": "<true|false>", "reason": "<one sentence>"}'),
    (0x80, '{"score": 4, "reason": "cut'),
    (0, "The score is 5."),
]:
    write("reply", bytes([scale]) + reply.encode())

# schema: the JSON Schema Test Suite, schema and instance on one line each.
suite = repo / "Tests" / "EvaldCoreTests" / "Fixtures" / "json-schema-test-suite" / "draft2020-12"
for path in sorted(suite.glob("*.json")):
    for group in json.loads(path.read_text())[:2]:
        for test in group["tests"][:2]:
            write("schema", json.dumps(group["schema"], separators=(",", ":")) + "\n" + json.dumps(test["data"], separators=(",", ":")))
for path in sorted((repo / "examples" / "schemas").glob("*.json")):
    write("schema", json.dumps(json.loads(path.read_text()), separators=(",", ":")) + '\n{"order_id":"A-1","items":[]}')

# time: RFC 3339 timestamps and Retry-After values.
for value in [
    "2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123456789+05:30", "2026-02-29T23:59:60Z", "1970-01-01T00:00:00-00:00",
    "120", "1.5", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
]:
    write("time", value)

# pii: clean answers, and text with every kind of PII.
clean = (repo / "Tests" / "EvaldCoreTests" / "Fixtures" / "clean-answers.txt").read_text().splitlines()
for line in clean[:40]:
    write("pii", line)
for value in [
    "Mail jane.doe@example.com or call +1 (415) 555-0132.",
    "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120.",
    "Server 192.168.1.20 and 2001:db8::1; key sk-abcdefghijklmnopqrstuvwxyz012345",
]:
    write("pii", value)
    write("pii-scaling", value)
# pii-scaling: each input is repeated to 4 KiB and 32 KiB; short units that the patterns start
# on again and again (digits and separators, address and token characters).
for unit in ["1", "1 ", "1-", "+1 ", "a@", "a.", "sk-a", "192.168.", "DE89 ", "(0) "]:
    write("pii-scaling", unit)

for folder in sorted(out.iterdir()):
    print(folder.name, len(list(folder.iterdir())))
