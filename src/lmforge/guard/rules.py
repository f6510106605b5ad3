"""Rules for what an embedding classifier misses: phrasing, encodings and Unicode tricks.

The classifier reads the surface text. These rules read what the attacked model would read:
the text with invisible characters removed, homoglyphs and leetspeak folded, and every payload
hidden in base64 / base32 / hex / binary / Morse / percent-encoding / rot13 / Unicode tags decoded,
each variant matched against patterns for instruction override, system-prompt extraction,
role-play jailbreaks and tool-channel intent (`lmforge.guard.intent`). A pattern found only in
a hidden variant scores highest: nobody encodes "ignore previous instructions" by accident.
"""

import re
from dataclasses import dataclass

from lmforge.guard.decode import decode_payloads, rot13
from lmforge.guard.intent import intent_hits
from lmforge.guard.unicode import inspect
from lmforge.guard.verdict import Verdict

_G = r"(?:\W+\w+){0,6}?\W+"  # up to six filler words between two key words
_RULES = r"(?:restrictions?|limits|limitations|filters?|rules|guidelines|ethics|morals|censorship"
_RULES += r"|boundaries|policies)"
OVERRIDE = (
    rf"\b(?:ignore|disregard|forget|skip|bypass|override|overrule|drop|abandon)\b{_G}"
    r"(?:previous|prior|above|earlier|preceding|initial|original|system|all|any|your|safety)"
    rf"{_G}?(?:instructions?|prompts?|rules|guidelines|directives?|commands?|programming"
    r"|constraints|restrictions|polic(?:y|ies)|guardrails?|safeguards?|filters?)\b",
    r"\b(?:new|updated|real|actual) (?:instructions?|rules|task|directive)\s*[:\-]",
    rf"\b(?:from now on|henceforth|starting now)\b{_G}"
    r"(?:you (?:will|must|are|shall|have)|respond|answer|act|reply)",
    rf"\b(?:do not|don't|stop) (?:follow|obey)(?:ing)?\b{_G}"
    r"(?:instructions?|rules|guidelines|programming)",
)
EXTRACTION = (
    r"\b(?:reveal|show|print|display|repeat|output|tell|give|leak|dump|share|expose|write out"
    rf"|what(?:'s| is| are| were)(?= (?:\w+ )?(?:your|the|its)\b))\b{_G}"
    r"(?:system|initial|original|hidden|secret|developer|internal|pre-?)\W*"
    r"(?:prompts?|instructions?|messages?|guidelines|configuration|directives)\b",
    r"\brepeat (?:everything|all|the (?:text|words|lines)|what (?:is|was) written)\b"
    r".{0,40}\b(?:above|before|verbatim|start)",
    r"\byour (?:system prompt|initial instructions|hidden instructions|original instructions)\b",
    # the assistant's own configuration as the object: "share your configuration", "reveal
    # your operating rules", "how you're configured"
    r"\b(?:your|you're|you are)\s+(?:\w+\s+){0,2}(?:configuration|configured|setup|directives"
    r"|protocols|parameters|operating rules|core rules|hidden rules|internal rules"
    r"|base instructions|initial prompt|programming|training data|constraints|guidelines"
    r"|system settings)\b",
)
ROLEPLAY = (
    r"\b(?:pretend|act|imagine|roleplay|role-play|behave|you are now|you're now|become)\b.{0,80}?"
    r"\b(?:no|without|free (?:of|from)|unrestricted|uncensored|unfiltered|ignores?)\b.{0,30}?"
    rf"\b{_RULES}\b",
    r"\b(?:you are|you're) (?:now )?(?:an? )?"
    r"(?:unrestricted|uncensored|unfiltered|jailbroken|evil|amoral)\b",
    r"\b(?:developer|god|jailbreak|unrestricted|dan) mode\b",
    r"\b(?:do anything now|stay in character|jailbroken|evil (?:twin|confidant)"
    r"|no (?:ethical|moral) (?:guidelines|restrictions|constraints|boundaries))\b",
)
ACRONYMS = re.compile(r"\b(?:DAN|STAN|DUDE|AIM|BetterDAN)\b")  # case-sensitive persona names
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(p, re.IGNORECASE | re.DOTALL))
    for cat, ps in (
        ("instruction_override", OVERRIDE),
        ("system_prompt_extraction", EXTRACTION),
        ("roleplay_jailbreak", ROLEPLAY),
    )
    for p in ps
)
# Runs of 3+ single characters, each separated by one separator: "I g n o r e", "\\I\\G\\N".
SPACED = re.compile(r"(?<!\w)\w(?:[ \\.\-_*|/+]\w(?!\w)){2,}")
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
OBFUSCATED = ("homoglyph", "unicode", "leetspeak", "spaced")
SCORES = {"plain": 0.9, "obfuscated": 0.95, "hidden": 1.0, "unicode": 0.8, "encoded": 0.5}


@dataclass(slots=True, frozen=True)
class RuleHit:
    category: str
    variant: str  # "plain", or how the text was hidden: "base64", "rot13", "homoglyph", ...
    match: str


def match_patterns(text: str) -> list[tuple[str, str]]:
    """(category, matched text) for every pattern found in `text`."""
    hits = [(cat, m.group(0)) for cat, p in PATTERNS if (m := p.search(text))]
    if m := ACRONYMS.search(text):
        hits.append(("roleplay_jailbreak", m.group(0)))
    hits += [("tool_injection", h) for h in intent_hits(text)[:1]]
    return hits


def variants(text: str) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The texts to rescan, each with how it was hidden, and Unicode signal counts."""
    u = inspect(text)
    found: list[tuple[str, str]] = [("plain", text)]
    if u.clean != text:
        found.append(("homoglyph" if u.homoglyphs else "unicode", u.clean))
    if u.tag_payload:
        found.append(("unicode_tags", u.tag_payload))
    base = u.clean
    joined = SPACED.sub(lambda m: re.sub(r"\W", "", m.group(0)), base)
    if joined != base:
        found.append(("spaced", joined))
    leet = base.translate(LEET)
    if leet != base:
        found.append(("leetspeak", leet))
    found += [(d.encoding, d.text) for d in decode_payloads(base)]
    found.append(("rot13", rot13(base)))
    signals = {"bidi": u.bidi, "invisible": u.invisible, "homoglyph_words": len(u.homoglyphs)}
    return found, signals


def scan_rules(text: str) -> Verdict:
    """Match every variant of `text`; score by how hidden the strongest hit was."""
    found, signals = variants(text)
    hits = [RuleHit(cat, v, m[:80]) for v, t in found for cat, m in match_patterns(t)]
    decoded = [v for v, _ in found if v not in (*OBFUSCATED, "plain", "rot13")]
    score, reason = 0.0, ""
    if hits:
        h = max(hits, key=lambda h: _hit_score(h.variant))
        score = _hit_score(h.variant)
        how = "" if h.variant == "plain" else f" hidden via {h.variant}"
        reason = f"{h.category}{how}: {h.match!r}"
    if signals["bidi"] or signals["invisible"]:
        s = SCORES["unicode"] if signals["bidi"] else SCORES["unicode"] - 0.2
        if s > score:
            score, reason = (
                s,
                f"hidden Unicode: {signals['bidi']} bidi, {signals['invisible']} invisible chars",
            )
    if decoded and score < SCORES["encoded"]:
        score, reason = SCORES["encoded"], f"encoded payload ({decoded[0]}) decoded for rescanning"
    action = "block" if score >= 0.85 else "flag" if score > 0 else "allow"
    details = {"hits": [_hit_dict(h) for h in hits[:5]], **signals}
    return Verdict("rules", action, score, reason, {k: v for k, v in details.items() if v})


def _hit_score(variant: str) -> float:
    if variant == "plain":
        return SCORES["plain"]
    if variant in OBFUSCATED:
        return SCORES["obfuscated"]
    return SCORES["hidden"]


def _hit_dict(h: RuleHit) -> dict[str, str]:
    return {"category": h.category, "variant": h.variant, "match": h.match}
