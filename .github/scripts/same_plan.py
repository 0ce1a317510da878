"""Stops `up` when the plan it would apply is not the plan reviewers approved.

    python3 .github/scripts/same_plan.py approved/guard.md guard.md

The deploy's preview job writes the guard's summary of its `pulumi preview` (the report reviewers see before they
approve the `up` job); the `up` job makes a fresh preview with the same policy pack and baseline just before it
applies, and this compares the two summaries: the change counts, the blockers, and each changed resource with its
changed properties, in any order (the engine may list independent steps in another order). Anything else that
changed, in the program, in the state or in Azure, since the approval stops the job before a single change.

Exit codes: 0 the same plan; 1 a different plan (what differs is printed); 2 a summary is missing or unreadable.
"""

from __future__ import annotations

import difflib
import sys
from collections import Counter
from pathlib import Path


def plan(text: str) -> Counter:
    """The summary as a multiset of blocks: each top-level line with the indented lines under it."""
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith("  ") and blocks:
            blocks[-1] += "\n" + line
        elif line.strip():
            blocks.append(line)
    return Counter(blocks)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: same_plan.py APPROVED_SUMMARY FRESH_SUMMARY", file=sys.stderr)
        return 2
    texts = []
    for path in map(Path, args):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            print(f"error: {path}: cannot be read ({getattr(error, 'strerror', None) or error.__class__.__name__})", file=sys.stderr)
            return 2
        if "### Preview summary" not in texts[-1]:
            print(f"error: {path}: not a guard summary", file=sys.stderr)
            return 2
    approved, fresh = (plan(t) for t in texts)
    if approved == fresh:
        print("The plan is the one approved.")
        return 0
    print("::error::The plan differs from the approved preview: re-run the deploy to approve the new plan.")
    print("\n".join(difflib.unified_diff(sorted(approved.elements()), sorted(fresh.elements()), "approved", "now", lineterm="")))
    return 1


if __name__ == "__main__":
    sys.exit(main())
