"""Steady production-like traffic for the load and soak benchmarks (issue "Production traffic").

20 routes x 3 models. Routes carry Zipf-like traffic shares (the first route 1/1, the k-th 1/k);
`assist-*` routes answer in prose, `extract-*` routes answer with a JSON object. Every
(route, model) series has its own steady failure rates for the checks of `CONFIG_CHECKS`, drawn
once from the seed: about a third of the routes are near-perfect (failures around 0.1%), the
others fail a check between 0.5% and 3% of the time (the `next-step` regex up to 8%). Latency
and cost are lognormal per series (their checks fail in the tails). No drift, no regression:
the same seed gives the same distributions in every stretch, so detectors should stay quiet.

Only the Python standard library; the same seed and stretch give byte-identical lines.
"""
import datetime
import json
import math
import os
import random

MODELS = [
    # model, provider, response_model, system_fingerprint, $ per 1k output tokens
    ("gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", "fp_44709d6fcb", 0.0006),
    ("claude-3-5-haiku", "anthropic", "claude-3-5-haiku-20241022", None, 0.004),
    ("gpt-4o", "openai", "gpt-4o-2024-08-06", "fp_7fcd609668", 0.010),
]

# In order of traffic share (the k-th route gets 1/k of the first one's traffic).
ROUTES = [
    "assist-support", "assist-search", "extract-order", "assist-sales", "assist-billing",
    "assist-orders", "extract-contact", "assist-returns", "assist-shipping", "extract-address",
    "assist-onboarding", "assist-account", "assist-warranty", "extract-invoice", "assist-loyalty",
    "extract-refund", "assist-feedback", "assist-b2b", "extract-ticket", "assist-internal",
]

# The two routes the two judges apply to (one judge each): about 6.6% of the traffic.
JUDGED = {"helpfulness": "assist-orders", "faithfulness": "extract-invoice"}

TENANTS = ["acme", "globex", "initech", "umbrella"]

# 8 checks per route: 6 on every route, 2 by route family. Kinds as docs/configuration.md lists them.
CONFIG_CHECKS = """checks:
  "*":
    - {name: ok, kind: status_ok}
    - {name: no-pii, kind: pii}
    - {name: fast, kind: latency, max_ms: 8000}
    - {name: cheap, kind: cost, max_usd: 0.01}
    - {name: no-refusal, kind: refusal}
    - {name: no-ai-disclaimer, kind: not_contains, values: ["as an AI", "language model"], ignore_case: true}
  "assist-*":
    - {name: concise, kind: length, max: 1200}
    - {name: next-step, kind: regex, pattern: "(?i)\\\\b(you can|we will|please|next step)\\\\b"}
  "extract-*":
    - {name: valid-json, kind: json_valid, allow_fenced: true}
    - {name: few-output-tokens, kind: tokens, max_output: 200}
"""

THINGS = ["order", "parcel", "invoice", "subscription", "return", "refund", "ticket", "account", "warranty claim", "delivery"]
STATES = ["shipped yesterday and should arrive on Thursday", "is being prepared at our warehouse",
          "was approved this morning", "is on hold until we receive the signed form",
          "was updated with the new address", "has been closed as resolved", "is scheduled for Monday"]
NEXT = ["You can follow it from the link in your confirmation e-mail.",
        "Please reply here if anything looks wrong.", "We will send you an update as soon as it changes.",
        "The next step is a short confirmation from your side.", "You can also change it in your account settings."]
NO_NEXT = ["That is all the information available at the moment.", "Nothing else is needed for now.",
           "Thank you for your patience."]
QUESTIONS = ["Where is my {t} {r}?", "Can you check the status of my {t} {r}?", "What happened to {t} {r}?",
             "I still have not heard back about {t} {r}, any news?", "Could you update {t} {r} for me?"]
SKUS = ["TR-2041", "TN-3302", "SB-1180", "HL-0400", "EB-2201", "MN-2740", "KB-8800", "DK-1200", "CH-4410", "SD-1600"]
NAMES = ["emma.smith", "liam.mueller", "olivia.garcia", "noah.rossi", "mia.dubois", "lucas.jansen"]


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _rates(rng, near_perfect):
    """Failure probabilities of one series' checks."""
    def r(lo, hi):
        return rng.uniform(lo, hi) * (0.1 if near_perfect else 1.0)
    return {
        "error": r(0.003, 0.02), "pii": r(0.002, 0.01), "refusal": r(0.003, 0.03), "disclaimer": r(0.001, 0.01),
        "long": r(0.002, 0.02), "no_next": r(0.01, 0.08), "invalid_json": r(0.005, 0.03), "many_tokens": r(0.003, 0.02),
    }


class Traffic:
    """The per-series distributions of one seed; `line(rng, ts_ms)` draws one native record."""

    def __init__(self, seed=42):
        profile = random.Random(seed * 1_000_003 + 17)
        weights = [1.0 / (k + 1) for k in range(len(ROUTES))]
        total = sum(weights)
        self.route_cum = []
        acc = 0.0
        for w in weights:
            acc += w / total
            self.route_cum.append(acc)
        self.series = {}
        self.model_cum = {}
        for route in ROUTES:
            near_perfect = profile.random() < 0.35
            shares = [profile.uniform(0.2, 1.0) for _ in MODELS]
            s = sum(shares)
            acc = 0.0
            cum = []
            for share in shares:
                acc += share / s
                cum.append(acc)
            self.model_cum[route] = cum
            base_latency = profile.uniform(700, 2200)
            for model in MODELS:
                rates = _rates(profile, near_perfect)
                # Latency and cost: lognormal; the check limits (8 s, $0.01) sit in the tails.
                rates["lat_mu"] = math.log(base_latency * profile.uniform(0.8, 1.3))
                rates["lat_sigma"] = profile.uniform(0.35, 0.6) if near_perfect else profile.uniform(0.5, 0.8)
                rates["cost_mu"] = math.log(model[4] * 0.15 * profile.uniform(0.6, 1.4))
                rates["cost_sigma"] = profile.uniform(0.4, 0.7)
                self.series[(route, model[0])] = rates
        self._second, self._stamp = None, ""

    def _pick(self, cum, u):
        for i, c in enumerate(cum):
            if u < c:
                return i
        return len(cum) - 1

    def line(self, rng, ts_ms):
        """One native record (docs/input-formats.md) as a JSON line without its newline."""
        route = ROUTES[self._pick(self.route_cum, rng.random())]
        model, provider, response_model, fingerprint, _ = MODELS[self._pick(self.model_cum[route], rng.random())]
        p = self.series[(route, model)]
        trace_id = "%032x" % rng.getrandbits(128)
        ref = "%s-%04d" % ("ABCDEFGHJK"[int(rng.random() * 10)], int(rng.random() * 10000))
        thing = THINGS[int(rng.random() * len(THINGS))]
        question = QUESTIONS[int(rng.random() * len(QUESTIONS))].format(t=thing, r=ref)
        extract = route.startswith("extract-")
        status, error, output = "ok", None, None
        if rng.random() < p["error"]:
            status, error = "error", ("rate_limit" if rng.random() < 0.6 else "timeout")
        elif extract:
            items = [{"sku": SKUS[int(rng.random() * len(SKUS))], "qty": 1 + int(rng.random() * 4)}
                     for _ in range(40 if rng.random() < p["many_tokens"] else 1 + int(rng.random() * 3))]
            obj = {"order_id": ref, "items": items, "currency": ("EUR", "USD", "GBP")[int(rng.random() * 3)],
                   "total": round(rng.uniform(10, 900), 2)}
            output = json.dumps(obj, separators=(",", ":"))
            if rng.random() < p["invalid_json"]:
                output = output[: len(output) // 2]
        else:
            sentences = ["Thanks for reaching out.", f"Your {thing} {ref} {STATES[int(rng.random() * len(STATES))]}."]
            sentences.append(NO_NEXT[int(rng.random() * len(NO_NEXT))] if rng.random() < p["no_next"] else NEXT[int(rng.random() * len(NEXT))])
            if rng.random() < p["long"]:
                sentences.extend(f"In detail: the {thing} {ref} went through our usual steps, each of them logged and "
                                 f"checked by the team responsible for it, step {i + 1} of the process." for i in range(9))
            output = " ".join(sentences)
        if output is not None and not extract:
            if rng.random() < p["refusal"]:
                output = "I'm sorry, but I can't help with that request."
            elif rng.random() < p["disclaimer"]:
                output += " Note: as an AI model, my answer may contain mistakes."
            if rng.random() < p["pii"]:
                output += f" I have sent the details to {NAMES[int(rng.random() * len(NAMES))]}@example.com."
        elif output is not None and output.endswith("}") and rng.random() < p["pii"]:
            output = output[:-1] + f',"email":"{NAMES[int(rng.random() * len(NAMES))]}@example.com"}}'
        input_tokens = 180 + int(rng.random() * 400)
        output_tokens = 0 if output is None else max(1, len(output) // 4 + int(rng.random() * 8))
        latency = rng.lognormvariate(p["lat_mu"], p["lat_sigma"])
        cost = rng.lognormvariate(p["cost_mu"], p["cost_sigma"]) if status == "ok" else 0.0
        second = ts_ms // 1000
        if second != self._second:
            self._second = second
            self._stamp = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        record = {
            "trace_id": trace_id,
            "timestamp": self._stamp + "%03dZ" % (ts_ms % 1000),
            "route": route, "tenant": TENANTS[int(rng.random() * len(TENANTS))], "provider": provider, "model": model,
            "response_model": response_model, "system_fingerprint": fingerprint, "prompt_version": route + "-v3",
            "input": (f"From: customer\nSubject: {thing} {ref}\n\n{question} Thanks." if extract else
                      [{"role": "system", "content": f"You are the {route} assistant. Be brief and name the next step."},
                       {"role": "user", "content": question}]),
            "output": output, "tool_calls": [],
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            "latency_ms": int(latency), "cost_usd": round(cost, 7), "status": status, "error": error,
            "reference": None, "feedback": None, "metadata": {"request_id": "req-" + trace_id[:12]},
        }
        return _ENCODE(record)


def file_name(ts_ms):
    return "traces-" + datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%S") + ".jsonl"


def write_stretch(spool, traffic, seed, stretch, start_ms, records, span_hours, files):
    """Writes `records` lines spanning `span_hours` from start_ms into `files` files named by their
    first timestamp (traces-YYYY-MM-DDTHH-MM-SS.jsonl); returns (paths, end_ms). Stretch k of a seed
    always gives the same bytes."""
    rng = random.Random(seed * 7919 + stretch)
    os.makedirs(spool, exist_ok=True)
    mean_gap = span_hours * 3_600_000.0 / records
    t = float(start_ms)
    paths = []
    per_file = -(-records // files)
    f = None
    for i in range(records):
        t += rng.expovariate(1.0) * mean_gap
        ms = int(t)
        if i % per_file == 0:
            if f:
                f.close()
            paths.append(os.path.join(spool, file_name(ms)))
            f = open(paths[-1], "w", encoding="utf-8", buffering=1 << 20)
        f.write(traffic.line(rng, ms))
        f.write("\n")
    if f:
        f.close()
    return paths, int(t) + 1
