"""`lumos embed`: MiniLM sentence embeddings of instructions (offline), and their cosines."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    embed = sub.add_parser("embed", help="embed instructions with all-MiniLM-L6-v2 (offline)")
    embed.add_argument("text", nargs="+", help="one or more instructions")
    embed.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lumos_core.language import MODEL_ID, LanguageEncoder

    print(f"loading the sentence model {MODEL_ID} ...", file=sys.stderr, flush=True)
    encoder = LanguageEncoder()
    vectors = encoder.encode(args.text)
    for text, vector in zip(args.text, vectors):
        head = ", ".join(f"{v:+.3f}" for v in vector[:6])
        print(f"{text!r}: dim {vector.shape[0]}, [{head}, ...]")
    if len(args.text) > 1:
        sims = vectors @ vectors.T
        print("cosine similarity:")
        for i, text in enumerate(args.text):
            print(f"  {text[:40]:<40} " + " ".join(f"{s:.3f}" for s in sims[i]))
    return 0
