"""Self-check: verify each claim of an answer against the chunks it cites, then apply a policy.

Policies for an answer with unsupported claims:
- drop: remove those claims (sentences) and return the rest; nothing left -> refuse;
- regenerate: ask once more, naming the unsupported claims, verify the new answer, and drop
  whatever is still unsupported (so at most one regeneration, and the result is still checked);
- refuse: return "The documents do not say." instead of a partly unsupported answer.

Every round's verdicts (claim, supported, score, evidence chunk, span and text) and the policy's
actions are returned as a plain dict, stored on the `Answer` and logged in the run dir.
"""

import time
from dataclasses import dataclass
from typing import Any

from lmforge.rag.claims import split_claims
from lmforge.rag.verify import ClaimVerdict, Verifier, verify

POLICIES = ("drop", "regenerate", "refuse")
REGENERATE_PROMPT = (
    "{prompt}\n\nA previous answer made these statements, which the context does not support:\n"
    "{failures}\nAnswer again. State only what the context says, and cite it."
)


@dataclass(slots=True)
class Checked:
    text: str  # the answer after the policy ("" when refused)
    refused: bool
    report: dict[str, Any]


class SelfCheck:
    __slots__ = ("policy", "verifier")

    def __init__(self, verifier: Verifier, policy: str = "drop") -> None:
        assert policy in POLICIES, policy
        self.verifier, self.policy = verifier, policy

    def _round(
        self, text: str, chunks: list[str], prompt: str
    ) -> tuple[list[Any], list[ClaimVerdict], float]:
        t = time.perf_counter()
        claims = split_claims(text)
        verdicts = verify(self.verifier, claims, chunks, (prompt, text))
        return claims, verdicts, time.perf_counter() - t

    def run(self, text: str, chunks: list[str], prompt: str, generate: Any) -> Checked:
        """Check `text` (an answer to `prompt` over `chunks`); `generate(prompt)` regenerates."""
        claims, verdicts, spent = self._round(text, chunks, prompt)
        rounds = [{"answer": text, "verdicts": [v.to_dict() for v in verdicts]}]
        report: dict[str, Any] = {"policy": self.policy, "regenerated": False, "rounds": rounds}
        bad = [v for v in verdicts if not v.supported]
        gen_s = 0.0
        if bad and self.policy == "regenerate":
            failures = "\n".join(f"- {v.claim}" for v in bad)
            again = REGENERATE_PROMPT.format(prompt=prompt, failures=failures)
            t = time.perf_counter()
            text = str(generate(again))
            gen_s = time.perf_counter() - t
            claims, verdicts, more = self._round(text, chunks, again)
            spent += more
            rounds.append({"answer": text, "verdicts": [v.to_dict() for v in verdicts]})
            report["regenerated"] = True
            bad = [v for v in verdicts if not v.supported]
        keep = [c.source for c, v in zip(claims, verdicts, strict=True) if v.supported]
        refused = (bool(bad) and self.policy == "refuse") or (bool(claims) and not keep)
        report |= {
            "claims": len(verdicts),
            "unsupported": len(bad),
            "dropped": [] if refused else [v.claim for v in bad],
            "refused": refused,
            "verify_s": round(spent, 4),
            "regenerate_s": round(gen_s, 4),
        }
        kept = " ".join(keep) if claims else text  # no claim to check: nothing to remove
        return Checked("" if refused else kept, refused, report)
