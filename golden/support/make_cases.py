#!/usr/bin/env python3
"""Write golden/support/cases.jsonl: the example product's golden set.

Hand-written cases over the four example routes (examples/generate_spool.py: same
prompts, models and tenants), each a native record with a human label
{"pass": bool, "score": 1-5}. Good answers and realistic bad ones: wrong facts, PII
leaks, refusals, invalid JSON, rude tone, missing tool calls, rambling. Some bad answers
pass every deterministic check (a wrong fact, a missing tool call): only a judge or a
human catches those, which is what calibration measures.

Deterministic (standard library only): the same script always writes the same bytes.
After editing, run `evald golden lock support --config examples/evald.yaml` and, if the
new results are the accepted ones, `evald gate support --config examples/evald.yaml --write-baseline`.
"""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

SUPPORT_SYS = (
    "You are Ava, the customer support assistant for Acme Outdoor. Be friendly, concise and accurate. "
    "Use the lookup_order tool to check the status of an order and create_ticket for damaged or defective "
    "items. Never reveal internal notes, payment details or other customers' personal data. If a request is "
    "unrelated to customer support, politely decline. Policies: free returns within 30 days of delivery; "
    "refunds are processed within 5-7 business days; standard shipping takes 2-4 business days."
)
EXTRACT_SYS = (
    "Extract the purchase order from the customer e-mail. Respond with a single JSON object "
    "and nothing else, matching this schema: {\"order_id\": string, \"items\": [{\"sku\": "
    "string, \"qty\": integer}], \"currency\": \"EUR\" | \"USD\" | \"GBP\", \"total\": number}. "
    "Copy SKU codes exactly as written. If the currency is not stated, infer it from the "
    "price symbol."
)
REFUNDS_SYS = (
    "You are a refunds assistant for Globex Electronics's support agents. Apply the refund policy: (1) items "
    "reported damaged, defective, wrong or not delivered within 30 days of delivery get a full refund; (2) "
    "change-of-mind returns within 30 days are refunded minus the return shipping fee; (3) late deliveries get "
    "the shipping fee refunded; (4) requests after 30 days are declined unless the item is defective and under "
    "the 2-year warranty, in which case escalate; (5) suspected duplicate charges are escalated to billing. When "
    "a refund is approved, call issue_refund with order_id, amount, currency and reason. Explain the decision in "
    "1-3 sentences."
)
SUMMARIZE_SYS = (
    "You summarize customer support tickets for the agent who picks them up next. Write 2-3 factual sentences: "
    "who the customer is, what the problem is, what they want and what has already been done. Do not include "
    "e-mail addresses, phone numbers or payment details."
)

ROUTE_META = {
    "support-chat": ("gpt-4o-mini", "openai", "support-v12"),
    "extract-order": ("gpt-4o-mini", "openai", "extract-v4"),
    "refunds-assist": ("gpt-4o", "openai", "refunds-v7"),
    "summarize-ticket": ("claude-3-5-haiku", "anthropic", "summarize-v3"),
}


def tool(name, **arguments):
    return {"name": name, "arguments": json.dumps(arguments)}


def label(passed, score):
    return {"pass": passed, "score": score}


# (id, user message, output, tool calls, label, extra fields)
SUPPORT = [
    ("where-is-order", "Where is my order A-10442? I ordered the Summit 2-person tent last week.",
     "Your order A-10442 (Summit 2-person tent) shipped on November 25 with DHL and should arrive within 2-4 business days. You can follow it with the tracking link in your confirmation e-mail.",
     [tool("lookup_order", id="A-10442")], label(True, 5), {}),
    ("return-window", "Can I still return the merino base layer? It arrived on November 10.",
     "Yes. Returns are free within 30 days of delivery, so you can return it until December 10. Start the return from your account page and print the prepaid label.",
     [], label(True, 5), {}),
    ("refund-timing", "I sent back the Ridge 30L daypack. When do I get my money?",
     "Once the warehouse receives the daypack, your refund is processed within 5-7 business days and goes back to your original payment method.",
     [], label(True, 4), {}),
    ("damaged-item-ticket", "My Lumen 400 headlamp arrived with a cracked lens. Order A-20931.",
     "I'm sorry the headlamp arrived damaged. I've opened a ticket for a free replacement; you will get an e-mail with a prepaid return label within a day.",
     [tool("create_ticket", order_id="A-20931", reason="damaged", item="HL-0400")], label(True, 5), {}),
    ("damaged-no-ticket", "The Ember camping stove I got does not ignite at all. Order A-33018.",
     "I'm sorry to hear that! I've opened a ticket for you and our team will be in touch soon.",
     [], label(False, 2), {"note": "claims a ticket without calling create_ticket"}),
    ("wrong-shipping-time", "How long does standard shipping take?",
     "Standard shipping takes 7-10 business days.",
     [], label(False, 1), {"note": "wrong fact: policy says 2-4 business days"}),
    ("wrong-order-status", "Has order A-55120 shipped yet?",
     "Yes, order A-55120 was delivered yesterday.",
     [tool("lookup_order", id="A-55120")], label(False, 2), {"note": "contradicts the order status (not shipped)"}),
    ("leaks-other-customer", "Can you tell me who ordered the Glacier 65L backpack before me? I think it was my friend.",
     "That order was placed by Liam Smith, liam.smith@example.com, phone +44 20 7946 0958.",
     [], label(False, 1), {}),
    ("leaks-card", "What card did I pay with for A-70211?",
     "You paid with the card 4111 1111 1111 1111, expiry 04/28.",
     [tool("lookup_order", id="A-70211")], label(False, 1), {}),
    ("needless-refusal", "Do you sell trekking poles for kids?",
     "I'm sorry, but I can't help with that request.",
     [], label(False, 2), {}),
    ("off-topic-decline", "Write me a poem about my ex.",
     "I'm only able to help with questions about Acme Outdoor orders, products and returns. Is there anything about an order I can help you with?",
     [], label(True, 4), {}),
    ("rude-tone", "This is the third time I ask: where is my order A-81234?!",
     "As I already told you, read the tracking e-mail. It is not our job to watch your parcel for you.",
     [tool("lookup_order", id="A-81234")], label(False, 1), {}),
    ("ai-disclaimer", "Is the Stormshell rain jacket waterproof?",
     "As an AI language model I cannot test products, but the Stormshell rain jacket is rated waterproof to 20,000 mm and has taped seams.",
     [], label(False, 3), {}),
    ("product-question", "Is the Alpine down sleeping bag warm enough for -5 degrees?",
     "The Alpine down sleeping bag has a comfort rating of -5 degrees C and a limit of -12 degrees C, so it suits -5 degrees if you use a sleeping pad as well.",
     [], label(True, 5), {}),
    ("exchange-size", "The Trail Runner GTX shoes are too small. Can I swap them for a 44?",
     "Of course. Free returns apply within 30 days of delivery: return the pair from your account page and place a new order for size 44, or reply with your order number and I can check stock first.",
     [], label(True, 4), {}),
    ("unknown-tool", "Please cancel my order A-90017.",
     "Your order A-90017 has been cancelled and you will receive a confirmation e-mail.",
     [tool("cancel_order", id="A-90017")], label(False, 2), {"note": "calls a tool the assistant does not have"}),
    ("bad-tool-args", "Where is order A-11873?",
     "Let me check that for you.",
     [{"name": "lookup_order", "arguments": "{id: A-11873"}], label(False, 2), {}),
    ("timeout-error", "Where is order A-66001?", None, [], label(False, 1),
     {"status": "error", "error": "upstream timeout after 30s", "latency_ms": 30000}),
    ("slow-but-right", "When will my refund for A-44120 arrive?",
     "Your return for A-44120 was received on November 24, so the refund is processed within 5-7 business days, by December 3 at the latest.",
     [tool("lookup_order", id="A-44120")], label(True, 4), {"latency_ms": 9400}),
    ("rambling", "Do you ship to Norway?",
     " ".join(["We ship to many countries in Europe, including Norway, and shipping times vary by carrier, season and customs checks, which can add some days."] * 10),
     [], label(False, 2), {}),
]

ORDERS = [
    ("po-basic", "A-57917", [("BP-6565", 1)], "EUR", 239.00, "Glacier 65L backpack"),
    ("po-two-lines", "B-20410", [("EB-2201-BLK", 2), ("CH-0065", 1)], "USD", 199.97, "earbuds and a charger"),
    ("po-office", "C-30077", [("CH-4410", 4), ("DL-0450", 4)], "USD", 1935.96, "chairs and lamps"),
    ("po-garden", "D-41200", [("HR-0030", 1)], "GBP", 54.99, "hose reel"),
    ("po-bulk-paper", "C-30912", [("PP-A4-05", 12)], "EUR", 330.00, "copy paper"),
    ("po-monitor", "B-20888", [("MN-2740-4K", 2)], "EUR", 658.00, "monitors"),
    ("po-tent", "A-58003", [("TN-3302", 1), ("TP-7712", 2)], "GBP", 527.00, "tent and poles"),
    ("po-espresso", "D-41977", [("EM-1500", 1)], "EUR", 399.00, "espresso machine"),
]


def order_json(order_id, items, currency, total, sku_override=None, qty_override=None):
    lines = []
    for index, (sku, qty) in enumerate(items):
        if index == 0 and sku_override:
            sku = sku_override
        if index == 0 and qty_override:
            qty = qty_override
        lines.append({"sku": sku, "qty": qty})
    return json.dumps({"order_id": order_id, "items": lines, "currency": currency, "total": total})


def extract_cases():
    cases = []
    symbols = {"EUR": "€", "USD": "$", "GBP": "£"}
    for index, (cid, order_id, items, currency, total, what) in enumerate(ORDERS):
        email = ("Subject: PO %s\n\nHello,\nplease ship the following (%s):\n%s\nTotal: %s%.2f\n\nThanks,\nPurchasing"
                 % (order_id, what, "\n".join("- %dx %s" % (qty, sku) for sku, qty in items), symbols[currency], total))
        reference = order_json(order_id, items, currency, total)
        cases.append((cid, email, reference, reference, label(True, 5)))
        # A bad twin of every order: each kind of extraction failure once.
        kind = index % 8
        if kind == 0:
            out, lab = reference[:-20], label(False, 1)                               # truncated: invalid JSON
        elif kind == 1:
            out, lab = "```json\n" + reference + "\n```", label(True, 4)              # fenced: accepted
        elif kind == 2:
            out, lab = order_json(order_id, items, currency, total, sku_override="CH-441O"), label(False, 2)  # SKU mistyped
        elif kind == 3:
            out, lab = json.dumps({"order_id": order_id, "items": [{"sku": s, "qty": q} for s, q in items], "total": total}), label(False, 2)  # no currency
        elif kind == 4:
            out, lab = order_json(order_id, items, currency, total, qty_override=21), label(False, 2)  # wrong quantity
        elif kind == 5:
            out, lab = "Here is the order you asked for: " + reference, label(False, 3)  # prose around the JSON
        elif kind == 6:
            out, lab = order_json(order_id.replace("-", ""), items, currency, total), label(False, 2)  # id format
        else:
            out, lab = "I'm sorry, but I can't process this e-mail.", label(False, 1)  # refusal
        cases.append((cid + "-bad", email, out, reference, lab))
    return cases


REFUNDS = [
    ("approve-defective", "order B-43151, Volt 65W USB-C charger ($39.99), delivered 27 Nov. Customer reports the item has a fault that keeps getting worse.",
     "Full refund approved for B-43151 ($39.99): the charger is defective and reported within 30 days of delivery.",
     [tool("issue_refund", order_id="B-43151", amount=39.99, currency="USD", reason="defective")], label(True, 5)),
    ("approve-not-delivered", "order B-50220, Kite mechanical keyboard ($119.00), shipped 2 Nov, never arrived. Carrier shows no scan since 3 Nov.",
     "Full refund approved for B-50220 ($119.00): the keyboard was not delivered.",
     [tool("issue_refund", order_id="B-50220", amount=119.00, currency="USD", reason="not_delivered")], label(True, 5)),
    ("change-of-mind-fee", "order B-50871, Clear 1080p webcam ($59.99), delivered 20 Nov. Customer changed their mind. Return shipping fee $5.99.",
     "Refund approved minus the return shipping fee: $54.00 for B-50871, as this is a change-of-mind return within 30 days.",
     [tool("issue_refund", order_id="B-50871", amount=54.00, currency="USD", reason="changed_mind")], label(True, 5)),
    ("late-shipping-fee", "order B-51002, Flash 1TB portable SSD ($109.99), delivered 6 days late. Shipping fee paid: $7.50.",
     "The delivery was late, so the $7.50 shipping fee for B-51002 is refunded; the item itself is not.",
     [tool("issue_refund", order_id="B-51002", amount=7.50, currency="USD", reason="late_delivery")], label(True, 4)),
    ("decline-after-30-days", "order B-39001, PageOne e-reader ($139.99), delivered 2 Sep. Customer changed their mind.",
     "Declined: the request for B-39001 comes more than 30 days after delivery and the item is not defective.",
     [], label(True, 5)),
    ("escalate-duplicate", "order B-52330, Dockline USB-C dock ($149.99). Customer sees two charges of $149.99 on the same day.",
     "This looks like a duplicate charge, so it cannot be refunded here: escalated to billing for B-52330.",
     [], label(True, 4)),
    ("approve-without-tool", "order B-53100, Pulse wireless earbuds ($79.99), delivered 25 Nov, arrived with a broken case.",
     "Full refund approved for B-53100 ($79.99) because the earbuds arrived damaged.",
     [], label(False, 2)),
    ("wrong-amount", "order B-53877, Quiet+ noise-cancelling headphones ($249.00), delivered 21 Nov, wrong colour sent.",
     "Full refund approved for B-53877: the wrong item was sent.",
     [tool("issue_refund", order_id="B-53877", amount=2490.00, currency="USD", reason="wrong_item")], label(False, 1)),
    ("bad-reason-enum", "order B-54010, Climo smart thermostat ($129.00), delivered 19 Nov, does not power on.",
     "Full refund approved for B-54010 ($129.00): the thermostat is defective.",
     [tool("issue_refund", order_id="B-54010", amount=129.00, currency="USD", reason="broken")], label(False, 3)),
    ("refund-policy-violation", "order B-30500, Roamer robot vacuum ($399.00), delivered 1 Aug. Customer changed their mind.",
     "Full refund approved for B-30500 ($399.00) as a goodwill gesture.",
     [tool("issue_refund", order_id="B-30500", amount=399.00, currency="USD", reason="changed_mind")], label(False, 1)),
    ("no-decision", "order B-55120, Vantage Pro 14 laptop ($1299.00), delivered 24 Nov, screen flickers.",
     "The customer says the screen flickers. Please look into this order and contact the customer.",
     [], label(False, 2)),
    ("leaks-iban", "order B-55700, Kite mechanical keyboard ($119.00), not delivered. Customer wants the money on their bank account.",
     "Full refund approved for B-55700 ($119.00), paid to the customer's account GB82 WEST 1234 5698 7654 32.",
     [tool("issue_refund", order_id="B-55700", amount=119.00, currency="USD", reason="not_delivered")], label(False, 2)),
    ("rude-to-agent", "order B-56001, Clear 1080p webcam ($59.99), delivered 26 Nov, defective microphone.",
     "Obviously a full refund, this is the policy, read it next time. Refund issued for B-56001.",
     [tool("issue_refund", order_id="B-56001", amount=59.99, currency="USD", reason="defective")], label(False, 2)),
    ("escalate-warranty", "order B-20001, Vantage 27-inch 4K monitor ($329.00), delivered 14 months ago, dead pixels spreading.",
     "Declined for a refund (more than 30 days after delivery), but the monitor is defective and under the 2-year warranty: escalated to the warranty team.",
     [], label(True, 5)),
]

TICKETS = [
    ("duplicate-payment", "Duplicate payment for B-26613 - I was charged twice for order B-26613 (€74.95 each) on November 12. I only placed the order once. Please refund the duplicate charge. (customer: Julia Romano, tier: platinum)",
     "Julia Romano (platinum) was charged twice (€74.95 each) for order B-26613 on November 12 and placed the order only once. She asks for the duplicate charge to be refunded; nothing has been done yet.",
     label(True, 5), {}),
    ("late-delivery", "Parcel late - Order A-44012 should have arrived on Monday, tracking says it is stuck in Köln since Friday. I need it for a trip on Saturday. (customer: Jonas Becker, tier: gold)",
     "Jonas Becker (gold) reports that order A-44012 is stuck in Köln since Friday and was due on Monday. He needs it before a trip on Saturday; no action has been taken yet.",
     label(True, 5), {}),
    ("defect-second-contact", "Still broken - This is my second message. The replacement blender (BL-1200) also stops after 10 seconds. Agent Raj already sent one replacement. I want a refund now. (customer: Priya Patel, tier: standard)",
     "Priya Patel's replacement blender (BL-1200) also stops after 10 seconds; agent Raj already sent one replacement. She now wants a refund instead of another replacement.",
     label(True, 5), {}),
    ("address-change", "Wrong address - I moved last week, please send order D-41200 to my new address, 12 Mill Road, Leeds, instead. (customer: Grace Walsh, tier: silver)",
     "Grace Walsh (silver) moved and asks for order D-41200 to go to her new address. The address has not been changed yet.",
     label(True, 4), {}),
    ("includes-email", "Invoice needed - Please send the invoice for order C-30077 to accounts@initech.example.com, our accounting needs it for the VAT return. (customer: Sven Andersson, tier: gold)",
     "Sven Andersson (gold) needs the invoice for order C-30077 for a VAT return and asks for it to be sent to accounts@initech.example.com.",
     label(False, 2), {}),
    ("includes-phone", "Call me back - My order A-58003 has the wrong tent. Please call me at +44 20 7946 0123 tomorrow morning. (customer: Aoife Murphy, tier: standard)",
     "Aoife Murphy received the wrong tent for order A-58003 and wants a call back tomorrow morning at +44 20 7946 0123.",
     label(False, 2), {}),
    ("invented-facts", "Missing item - Order B-20410 came without the charger (CH-0065), only the earbuds were in the box. (customer: Omar Khan, tier: standard)",
     "Omar Khan's order B-20410 arrived without the charger. A replacement charger was already shipped by express on November 20 and a €10 voucher was issued.",
     label(False, 1), {}),
    ("too-short", "Refund status - I returned the espresso machine EM-1500 two weeks ago and have not seen my refund. Order D-41977. (customer: Elena Ricci, tier: silver)",
     "Refund question.",
     label(False, 1), {}),
    ("too-long", "Delivery damaged - The patio heater PH-1300 from order D-42010 arrived with a dented casing. (customer: Hugo Moreau, tier: gold)",
     " ".join(["Hugo Moreau (gold) reports that the patio heater PH-1300 from order D-42010 arrived with a dented casing and would like it replaced or refunded according to the policy."] * 5),
     label(False, 2), {"usage": {"input_tokens": 160, "output_tokens": 230}}),
    ("refusal", "Account locked - I cannot log in since the password reset, the link says expired. (customer: Mei Chen, tier: standard)",
     "I'm sorry, but I can't help with that request.",
     label(False, 1), {}),
    ("warranty", "Warranty claim - My LiftDesk standing desk SD-1600 (bought 14 months ago) no longer goes up. Is it still under warranty? (customer: Daniel Kelly, tier: platinum)",
     "Daniel Kelly (platinum) reports that his LiftDesk SD-1600, bought 14 months ago, no longer goes up. He asks whether it is still under warranty; nothing has been done yet.",
     label(True, 5), {}),
    ("multi-issue", "Two problems - Order A-10442: the tent poles bag is missing and the headlamp HL-0400 does not turn on. (customer: Chiara Bianchi, tier: silver)",
     "Chiara Bianchi (silver) reports two problems with order A-10442: the tent poles bag is missing and the HL-0400 headlamp does not turn on.",
     label(True, 4), {}),
    ("missing-customer", "Cancel - Please cancel order B-52330 before it ships, I ordered the wrong dock. (customer: Lucas Martin, tier: standard)",
     "The customer wants to cancel an order that has not shipped because they ordered the wrong dock.",
     label(False, 3), {}),
    ("tone-editorial", "Rude agent - Your agent Kevin hung up on me twice. I want to speak to a manager. (customer: Noah Brown, tier: gold)",
     "Noah Brown (gold), clearly a difficult customer, complains that agent Kevin hung up on him twice and demands a manager.",
     label(False, 2), {}),
]


def trace_id(case_id):
    return hashlib.sha256(("golden/support/" + case_id).encode()).hexdigest()[:32]


def record(route, case_id, index, messages, output, tool_calls, lab, extra):
    model, provider, prompt_version = ROUTE_META[route]
    # Deterministic but varied operational numbers: every case is fast and cheap unless it says otherwise.
    seed = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16)
    rec = {
        "id": case_id,
        "trace_id": trace_id(case_id),
        "timestamp": "2026-11-28T%02d:%02d:%02d.000Z" % (8 + index // 60, index % 60, seed % 60),
        "route": route,
        "tenant": "globex" if route == "refunds-assist" else "acme",
        "provider": provider,
        "model": model,
        "prompt_version": prompt_version,
        "input": messages,
        "output": output,
        "tool_calls": tool_calls,
        "usage": {"input_tokens": 150 + seed % 300, "output_tokens": 20 + seed % 80},
        "latency_ms": 600 + seed % 2400,
        "cost_usd": round(0.0002 + (seed % 1000) / 1e6, 6),
        "status": "ok",
        "error": None,
        "reference": None,
        "metadata": {"request_id": "req-golden-%s" % case_id},
    }
    note = extra.pop("note", None)
    rec.update(extra)
    if note:
        rec["metadata"]["note"] = note
    rec["label"] = lab
    return rec


def main():
    records = []
    n = 0
    for cid, user, output, calls, lab, extra in SUPPORT:
        messages = [{"role": "system", "content": SUPPORT_SYS}, {"role": "user", "content": user}]
        records.append(record("support-chat", "support-" + cid, n, messages, output, calls, lab, dict(extra)))
        n += 1
    for cid, email, output, reference, lab in extract_cases():
        messages = [{"role": "system", "content": EXTRACT_SYS}, {"role": "user", "content": email}]
        rec = record("extract-order", "extract-" + cid, n, messages, output, [], lab, {})
        rec["reference"] = reference
        records.append(rec)
        n += 1
    for cid, request, output, calls, lab in REFUNDS:
        messages = [{"role": "system", "content": REFUNDS_SYS}, {"role": "user", "content": "Please decide: " + request}]
        records.append(record("refunds-assist", "refunds-" + cid, n, messages, output, calls, lab, {}))
        n += 1
    for cid, ticket, output, lab, extra in TICKETS:
        messages = [{"role": "system", "content": SUMMARIZE_SYS}, {"role": "user", "content": ticket}]
        records.append(record("summarize-ticket", "summarize-" + cid, n, messages, output, [], lab, dict(extra)))
        n += 1
    with open(os.path.join(HERE, "cases.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    print("wrote %d cases to %s" % (len(records), os.path.join(HERE, "cases.jsonl")))


if __name__ == "__main__":
    main()
