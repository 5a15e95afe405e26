"""Sorts the failures of a pgrst-spec run into expected differences and the rest.

Usage: python3 bench/pgrst_spec_report.py <results.json> <differences.tsv>
Prints the pass rate of the runnable cases, the expected differences that
showed (and those listed that no longer fail), and every other failure by
its first mismatch. Standard library only.
"""

import collections
import json
import sys


def main(results_path, differences_path):
    with open(results_path) as f:
        results = json.load(f)["results"]
    expected = {}
    with open(differences_path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                case, _, reason = line.rstrip("\n").partition("\t")
                expected[case] = reason
    runnable = [r for r in results if r["outcome"] in ("passed", "failed")]
    passed = sum(r["outcome"] == "passed" for r in runnable)
    failed = [r for r in runnable if r["outcome"] == "failed"]
    differ = [r for r in failed if r["id"] in expected]
    rest = [r for r in failed if r["id"] not in expected]
    total = len(runnable)
    print(f"\n{passed} of {total} runnable cases pass ({100 * passed / max(total, 1):.1f} %); "
          f"{len(differ)} differ on purpose; {len(rest)} fail "
          f"({100 * (passed + len(differ)) / max(total, 1):.1f} % pass or differ on purpose)")
    if differ:
        print("\nexpected differences:")
        for r in differ:
            print(f"  {r['id']}: {expected[r['id']]}")
    gone = sorted(set(expected) - {r["id"] for r in differ})
    if gone:
        print("\nlisted as differences but no longer failing (remove them): " + ", ".join(gone))
    kinds = collections.defaultdict(list)
    for r in rest:
        kinds[r["kind"]].append(r["id"])
    print("\nfailures by first mismatch:")
    for kind, ids in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(ids[:6]) + (", …" if len(ids) > 6 else "")
        print(f"  {len(ids):4}  {kind}: {shown}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
