"""Top functions of a py-spy ``--format raw`` profile (collapsed stacks), by self and total time.

Run: ``python bench/profile/top.py PROFILE.txt [--n 10]``; what ``py-spy top`` shows, from a file.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# py-spy frames look like "observe (prometheus_client/metrics.py:678)"; the line number varies
# within one function, so it is dropped.
LINE = re.compile(r":\d+\)$")


def frame_name(frame: str) -> str:
    return LINE.sub(")", frame.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        # The first frame is the process/thread name.
        frames = [f for f in frames[1:] if f]
        if not frames:
            continue
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    print(f"{args.profile.name}: {samples} samples")
    print(f"{'self %':>7} {'total %':>8}  function")
    for name, n in own.most_common(args.n):
        print(f"{100 * n / samples:7.1f} {100 * total[name] / samples:8.1f}  {name}")


if __name__ == "__main__":
    main()
