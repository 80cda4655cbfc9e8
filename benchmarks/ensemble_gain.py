"""Is an ensemble better than its best member? BLEU/chrF of each checkpoint alone and of their ensemble.

Every member, and the ensemble (translator.search.ensemble: log-probabilities averaged inside one batched
search), translates the same sources with the same search; the best member by BLEU is the
baseline of a paired bootstrap test (sacreBLEU, 1000 resamples) of the ensemble against it.
Choose members on a validation set; report the test set only for what was chosen.

Usage::

    python benchmarks/ensemble_gain.py runs/fr_en/best runs/fr_en/snapshots/step-00007600 \\
        --src ../shared/data/multi30k/val.fr --ref ../shared/data/multi30k/val.en \\
        --json benchmarks/results/ensemble_gain_fr_en_val.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

from translator.text.lines import read_lines  # noqa: E402
from translator.translate import Translator  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", type=Path, help="checkpoint directories sharing sentencepiece models")
    parser.add_argument("--src", type=Path, required=True, help="source sentences, one a line")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations, one a line")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size (default 5)")
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace) -> dict:
    if len({str(member) for member in args.members}) < 2 or len(set(args.members)) < len(args.members):
        raise SystemExit("ensemble_gain: give at least two different checkpoints")
    sources, references = read_lines(args.src), read_lines(args.ref)
    if len(sources) != len(references):
        raise SystemExit(f"ensemble_gain: {args.src} has {len(sources)} lines, {args.ref} {len(references)}")
    systems = {}
    for member in args.members:
        translator = Translator.from_pretrained(member, device="cpu")
        systems[str(member)] = translator.translate(sources, beam_size=args.beam_size)
        print(f"  {member}: {BLEU().corpus_score(systems[str(member)], [references]).score:.2f} BLEU", flush=True)
    systems["ensemble"] = Translator.ensemble(args.members, device="cpu").translate(sources, beam_size=args.beam_size)

    bleu = {name: BLEU().corpus_score(outputs, [references]).score for name, outputs in systems.items()}
    best = max((str(m) for m in args.members), key=bleu.get)
    test = PairedTest([(best, systems[best]), ("ensemble", systems["ensemble"])],
                      {"BLEU": BLEU(), "chrF": CHRF()}, [references], test_type="bs", n_samples=args.samples)
    _, scores = test()
    rows = [{"system": name, "bleu": bleu[name], "chrf": CHRF().corpus_score(outputs, [references]).score}
            for name, outputs in systems.items()]
    ensemble_bleu, ensemble_chrf = scores["BLEU"][1], scores["chrF2"][1]
    return {
        "benchmark": "ensemble_gain",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": describe_machine(),
        "code": code_version(),
        "data": {"src": str(args.src), "ref": str(args.ref), "sentences": len(sources)},
        "beam_size": args.beam_size,
        "rows": rows,
        "best_member": best,
        "gain": {"bleu": bleu["ensemble"] - bleu[best], "bleu_p_value": ensemble_bleu.p_value,
                 "chrf": rows[-1]["chrf"] - next(r["chrf"] for r in rows if r["system"] == best),
                 "chrf_p_value": ensemble_chrf.p_value, "bootstrap_samples": args.samples},
    }


def format_table(results: dict) -> str:
    gain = results["gain"]
    lines = [f"Hardware: {machine_line(results['machine'])}",
             f"{results['data']['src']} ({results['data']['sentences']} sentences), beam {results['beam_size']}",
             "", "| system | BLEU | chrF |", "|---|---|---|"]
    lines += [f"| {r['system']} | {r['bleu']:.2f} | {r['chrf']:.2f} |"
              for r in results["rows"]]
    lines.append(f"\nensemble vs best member ({results['best_member']}): BLEU {gain['bleu']:+.2f} "
                 f"(paired bootstrap p = {gain['bleu_p_value']:.3f}), chrF {gain['chrf']:+.2f} "
                 f"(p = {gain['chrf_p_value']:.3f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_benchmark(args)
    print_and_save(format_table(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
