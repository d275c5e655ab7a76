#!/usr/bin/env python3
"""corpora_seen.py -- what a model provider was sent, from the stand-in's
request log (tests/fakes/llm.py): every log sample's lines reach the model
inside the analyze_logs tool result (log_data), and every phrasing reaches
it as the user's words, verbatim. Usage: corpora_seen.py REQUESTS.jsonl
LOGS_DIR EXPECTED.tsv INTENTS.tsv LABEL   (ok lines and a summary)"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402  (only its checks and summary)

reqs_path, logs_dir, expected, intents, label = sys.argv[1:6]
log_data, texts = [], []


def walk(v):
    """Every string in a request body; tool results are JSON in a string."""
    if isinstance(v, dict):
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str):
        texts.append(v)
        if 'log_data' in v:
            try:
                mcp = json.loads(v)
                payload = json.loads(mcp["content"][0]["text"])
                log_data.append(payload["log_data"])
            except Exception:
                pass


for line in open(reqs_path):
    walk(json.loads(line).get("body"))
all_text = "\n".join(texts)

n = seen = 0
for row in open(expected):
    if row.startswith("#") or "\t" not in row:
        continue
    name = row.split("\t")[0]
    lines = [x.rstrip() for x in open(os.path.join(logs_dir, name), encoding="utf-8")
             if x.strip()]
    ok = any(all(x in d for x in lines) for d in log_data) if lines else "" in log_data
    n += 1
    seen += ok
    if not ok:
        wsraw.check("%s: every line of %s reached the model in the tool result" % (label, name),
                    False)
wsraw.check("%s: %d of %d log samples reached the model whole, as tool results" % (label, seen, n),
            seen == n)

n = seen = 0
for row in open(intents):
    if row.startswith("#") or "\t" not in row:
        continue
    phrase = row.rstrip("\n").split("\t", 1)[1]
    n += 1
    if phrase in all_text:
        seen += 1
    else:
        wsraw.check("%s: the phrasing %r reached the model" % (label, phrase), False)
wsraw.check("%s: %d of %d phrasings reached the model verbatim" % (label, seen, n), seen == n)
sys.exit(wsraw.summary("corpora"))
