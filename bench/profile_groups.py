"""Groups `perf report --no-children --sort dso,sym --stdio` lines (read on
stdin) by where the time goes: the kernel, the allocator, copies, other libc,
PostgreSQL's client library, and each Rust crate (the first path segment of a
demangled symbol, inside `<…>` for trait impls). Prints shares of the total."""

import re
import sys
from collections import Counter

ALLOCATOR = re.compile(
    r"^(__libc_)?(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|"
    r"malloc_consolidate|tcache_\w+|unlink_chunk|__rust_(alloc|dealloc|realloc)\w*|"
    r"mi_\w+|_mi_\w+|je_\w+|_rjem_\w+|sdallocx|mallocx|rallocx)(\.\w+)?$"
)
COPIES = re.compile(r"^__(memmove|memcpy|memset|mempcpy)\w*|^(memmove|memcpy|memset)\b")


def crate_of(symbol):
    s = symbol.lstrip("<&*")
    s = re.sub(r"^(dyn |mut |const )", "", s)
    if s.startswith("_<") or s.startswith("_$LT$"):
        s = s.lstrip("_<$LT")
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", s)
    return m.group(1) if m else None


def main():
    shares = Counter()
    line = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)$")
    for raw in sys.stdin:
        m = line.match(raw)
        if not m:
            continue
        share, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        if kind == "k" or dso.startswith("[kernel"):
            group = "kernel (sockets, scheduling)"
        elif ALLOCATOR.match(symbol):
            group = "allocator: malloc/free/realloc family"
        elif COPIES.match(symbol):
            group = "copies: memmove/memcpy/memset"
        elif dso.startswith("libc"):
            group = "libc (other)"
        else:
            group = crate_of(symbol) or f"other ({dso})"
        shares[group] += share
    total = sum(shares.values()) or 1.0
    print(f"{'where':<45} {'share of server CPU':>20}")
    for group, share in shares.most_common():
        if share * 100 / total < 0.3:
            continue
        print(f"{group:<45} {share * 100 / total:>19.1f}%")


if __name__ == "__main__":
    main()
