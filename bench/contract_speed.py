"""Decode + validate cost per event: the contract before this work and now, in one run (A/B/A).

Lines come from a seeded simulated portfolio (``monitor.simulate``: its mix of
the ten event types, about 215 characters a line, as ``loanwatch ingest``
reads them). The contract before is loaded from git (``--baseline``, the
commit before the compiled decoder) beside today's, and both are timed in
turns, old/new/old/new..., in CPU seconds of this process
(``time.process_time``), so a loaded machine slows both alike; the best
pass of each is printed. Then the same for two mixes with 5 % bad lines:
the simulator's malformed lines (truncated JSON, bad check character,
negative count, unknown type, missing field, future period) and lines of
the hostile corpus (``tests/streams/hostile/corpus.jsonl``). Also prints the
floor (a bare ``json.loads`` and msgspec decode of the same lines), per-type
figures, and checks that the two contracts agree on every valid line.

Usage: python bench/contract_speed.py [--enterprises 300] [--months 36] [--passes 3] [--baseline 80e635b]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from monitor.simulate import iter_lines, simulate  # noqa: E402
from streams.contract import validate  # noqa: E402
from streams.records import Event, LossyText  # noqa: E402

CORPUS = ROOT / "tests" / "streams" / "hostile" / "corpus.jsonl"


def load_baseline(rev: str) -> types.ModuleType:
    """``streams/contract.py`` as it was at ``rev``, importable beside today's."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:streams/contract.py"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("contract_before")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{rev}:streams/contract.py", "exec"), module.__dict__)
    return module


def cpu_us(fn: Callable[[str], object], lines: Sequence[str]) -> float:
    t0 = time.process_time()
    for line in lines:
        fn(line)
    return 1e6 * (time.process_time() - t0) / len(lines)


def abab(named: dict[str, Callable[[str], object]], lines: Sequence[str], passes: int) -> dict[str, list[float]]:
    """Each function timed ``passes`` times, in turns, so drift in the machine hits all of them."""
    out: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(passes):
        for name, fn in named.items():
            out[name].append(cpu_us(fn, lines))
    return out


def show(title: str, figures: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    for name, passes in figures.items():
        print(f"  {name:<28} best {min(passes):6.2f} us/event   passes: " + ", ".join(f"{p:.2f}" for p in passes))
    names = list(figures)
    print(f"  ratio {names[0]} / {names[1]}: {min(figures[names[0]]) / min(figures[names[1]]):.1f}x")


def mixed(valid: list[str], bad: list[str], share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    n_bad = round(len(valid) * share / (1 - share))
    out = valid + [rng.choice(bad) for _ in range(n_bad)]
    rng.shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enterprises", type=int, default=300)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--baseline", default="80e635b", help="git revision of the contract to compare with")
    args = ap.parse_args()

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB, load {os.getloadavg()[0]:.2f}; "
          f"python {sys.version.split()[0]}, msgspec {msgspec.__version__}")

    before = load_baseline(args.baseline)
    now = datetime.now(UTC)
    old = lambda line: before.validate(line, now=now)  # noqa: E731
    new = lambda line: validate(line, now=now)  # noqa: E731

    pf = simulate(n_enterprises=args.enterprises, months=args.months, seed=args.seed)
    lines = list(iter_lines(pf))
    print(f"{len(lines):,} lines from simulate({args.enterprises} enterprises, {args.months} months), "
          f"{sum(map(len, lines)) / len(lines):.0f} characters on average")

    differ = sum(1 for line in lines if old(line) != new(line))
    accepted = sum(1 for line in lines if isinstance(new(line), Event))
    print(f"outcomes: {accepted:,} accepted by the new contract; old and new differ on {differ} lines")

    careful = lambda line: validate(line, now=now, fast=False)  # noqa: E731
    show(f"valid mix, decode + validate (A/B/A, {args.passes} passes each, CPU time)",
         abab({f"before ({args.baseline})": old, "now": new, "now, careful path alone": careful},
              lines, args.passes))
    decoder = msgspec.json.Decoder()
    show("floor: decode only, no checks", abab({"json.loads": json.loads, "msgspec untyped": decoder.decode},
                                              lines, args.passes))

    by_type: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        by_type[json.loads(line)["type"]].append(line)
    print("\nper type (best of the passes, us/event): type, lines, before, now")
    for type_, group in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        figures = abab({"before": old, "now": new}, group * max(1, 2000 // len(group)), args.passes)
        print(f"  {type_:<24} {len(group):>7,} {min(figures['before']):8.2f} {min(figures['now']):8.2f}")

    malformed = simulate(n_enterprises=args.enterprises, months=args.months, seed=args.seed + 1,
                         bad_event_share=0.05)
    sim_mix = list(iter_lines(malformed))
    show("5 % malformed lines as simulate() writes them (A/B/A)",
         abab({f"before ({args.baseline})": old, "now": new}, sim_mix, args.passes))

    hostile = []
    for raw in CORPUS.read_bytes().split(b"\n")[:-1]:
        try:
            hostile.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            hostile.append(LossyText.decode(raw))
    corpus_mix = mixed(lines, hostile, 0.05, args.seed)

    def guarded(fn: Callable[[str], object]) -> Callable[[str], object]:
        def call(line: str) -> object:
            try:
                return fn(line)
            except Exception:  # the old contract is not asked to survive the corpus, only timed on it
                return None
        return call

    show(f"5 % lines of the hostile corpus ({len(hostile)} kinds, some 64-200 KB), A/B/A",
         abab({f"before ({args.baseline})": guarded(old), "now": new}, corpus_mix, args.passes))


if __name__ == "__main__":
    main()
