"""Sets each test that failed on one server beside the same test on the other.

    /usr/bin/python3 test/mlflow-suites/compare.py SLIPWAY_OUT/results.json MLFLOW_OUT/results.json [-k WORD]

The first file is a run of run.sh (usually SERVER=slipway); the second a run with
MLFLOW_SUITES_TRACE_ALL=1 (usually SERVER=mlflow), so it holds the exchanges of passing
tests too. For every failing test of the first, it prints the assertion, then the exchanges
of both runs aligned by method and path (ids differ between servers, so paths and query
values are compared with 32-hex run ids masked), printing both answers for those whose status
differs and for the last exchange before the failure.
"""

import argparse
import difflib
import json
import re
import urllib.parse

HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def key(exchange):
    path = urllib.parse.urlparse(exchange["url"]).path
    return f"{exchange['method'].upper()} {HEX_ID.sub('<id>', path)}"


def answer(exchange):
    if exchange is None:
        return "(no such request)"
    if "error" in exchange:
        return exchange["error"]
    body = str(exchange.get("response"))
    try:
        # MLflow pretty-prints its JSON; one line reads better beside Slipway's.
        body = json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        pass
    return f"{exchange.get('status')} {body[:700]}"


def request(exchange):
    parts = [key(exchange)]
    if exchange.get("params"):
        parts.append("params=" + json.dumps(exchange["params"], default=str)[:500])
    if exchange.get("json") is not None:
        parts.append("body=" + json.dumps(exchange["json"], default=str)[:700])
    elif exchange.get("data") is not None:
        parts.append(f"data={str(exchange['data'])[:200]}")
    return " ".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("failing")
    parser.add_argument("reference")
    parser.add_argument("-k", default="", help="only tests whose id contains this")
    args = parser.parse_args()
    with open(args.failing, encoding="utf-8") as f:
        failing = json.load(f)
    with open(args.reference, encoding="utf-8") as f:
        reference = json.load(f)
    ref_server = reference.get("server")
    traced = reference.get("traced", {})
    ref_failing = reference.get("failing", {})
    for nodeid, entry in failing["failing"].items():
        if args.k not in nodeid:
            continue
        phase = entry["phases"][0]
        print("=" * 100)
        print(f"{nodeid}  ({failing['server']}: {entry['outcome']} in {phase['when']})")
        for line in [ln for ln in phase["error"].splitlines() if ln.startswith("E ")][:6]:
            print("  " + line)
        mine = phase["exchanges"]
        if nodeid in ref_failing:
            theirs = ref_failing[nodeid]["phases"][0]["exchanges"]
            print(f"  (also fails on {ref_server})")
        elif nodeid in traced:
            theirs = traced[nodeid]
        else:
            print(f"  ({ref_server}: not traced; run it with MLFLOW_SUITES_TRACE_ALL=1)")
            continue
        matcher = difflib.SequenceMatcher(a=[key(e) for e in mine], b=[key(e) for e in theirs],
                                          autojunk=False)
        pairs = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs += [(mine[i1 + n], theirs[j1 + n]) for n in range(i2 - i1)]
            else:
                pairs += [(e, None) for e in mine[i1:i2]]
                pairs += [(None, e) for e in theirs[j1:j2]]
        last = mine[-1] if mine else None
        # Requests after the failing one were never sent; only count them.
        cut = max((n for n, (a, _) in enumerate(pairs) if a is not None), default=-1)
        for a, b in pairs[: cut + 1]:
            differs = a is None or b is None or a.get("status") != b.get("status")
            if not (differs or a is last):
                continue
            shown = a if a is not None else b
            print(f"  {'!=' if differs else '=='} {request(shown)}")
            print(f"      {failing['server']}: {answer(a)}")
            print(f"      {ref_server}: {answer(b)}")
        unsent = sum(1 for a, _ in pairs[cut + 1:] if a is None)
        if unsent:
            print(f"  ({unsent} later requests of {ref_server}'s run were not reached)")


if __name__ == "__main__":
    main()
