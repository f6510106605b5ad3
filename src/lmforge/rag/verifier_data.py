"""Verifier training pairs shaped like the paraphrased evaluation set, from disjoint passages.

The first verifier trained on verbatim supported sentences and planted claims whose wrong
numbers and names came from other passages (`grounding_set.training_pairs`). On the paraphrased
set (every sentence reworded, planted numbers and names taken from the passage itself) it missed
most wrong numbers and wrong entities: it had learnt "a copied sentence is supported" and "a
foreign number is not", neither of which holds there. These pairs teach the harder distinction:

- supported: sentences of the passage rewritten by `rag/paraphrase.py`, plus one verbatim, so a
  reworded claim is not evidence of a lie;
- unsupported, hard negatives of each planted kind, built as the paraphrased set builds them
  (`plant(local=True)`): a wrong number that the passage states elsewhere, a wrong name or
  counted thing of the same passage, a negation, an invented sentence with this passage's names,
  each then paraphrased like the positives. Wrong numbers and entities get two samples each,
  because a claim that differs from its source in one token is the hardest case.

Only GSM8K rows with `row % 4 != 0` are used (grounding_set.train_positions), so no passage,
distractor or invented sentence of the shipped evaluation sets is ever seen. Seeded.
"""

import random

from lmforge.rag.grounding_set import plant, train_contexts, train_passages
from lmforge.rag.paraphrase import paraphrase

# Planted claims per passage, by kind: the one-token changes twice, as the hardest.
HARD_KINDS = (
    "wrong_number",
    "wrong_number",
    "wrong_entity",
    "wrong_entity",
    "negation",
    "invented",
)


def paraphrased_pairs(seed: int = 1, positives: int = 3) -> list[tuple[str, str, int]]:
    """(claim, context, label) pairs: context = own passage + one distractor passage."""
    rng = random.Random(seed)
    passages, pool = train_passages()
    pairs: list[tuple[str, str, int]] = []
    for own, distractor, context, claims in train_contexts(passages, rng):
        picked = rng.sample(claims, min(positives, len(claims)))
        pairs += [(paraphrase(s), context, 1) for s in picked]
        pairs.append((rng.choice(claims), context, 1))
        for kind in HARD_KINDS:
            got = plant(rng.choice(claims), kind, own, distractor, pool, rng, local=True)
            if got and got.text not in own:
                pairs.append((paraphrase(got.text), context, 0))
    rng.shuffle(pairs)  # a `limit` then takes every kind, not the first passages only
    return pairs
