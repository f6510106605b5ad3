"""Builds the semantic cache's paraphrase / near-miss set (src/lmforge/gateway/data/).

Each family is one question written two or three ways (paraphrases: the cache SHOULD answer
one with the other) and near misses that change what is asked (a number, a negation, an
entity, the order of two arguments, an antonym, a unit, a lowercase noun): the cache must
NOT answer those. Families are split dev / test (whole families, so a threshold chosen on dev
is judged on questions it has never seen).

    .venv/bin/python bench/gateway_pairs.py   # rewrites the shipped jsonl
"""

import json
import random
from pathlib import Path

from gateway_pairs_extra import EXTRA_FAMILIES

OUT = Path(__file__).parents[1] / "src" / "lmforge" / "gateway" / "data" / "semantic_pairs.jsonl"

# (paraphrase templates, near-miss rules [(type, template or slot change)], slot fills)
# A near miss is either another template ("tpl") or the same template with one slot changed.
FAMILIES: list[dict] = [
    {
        "para": [
            "What is {a} times {b}?",
            "Calculate {a} multiplied by {b}.",
            "What do you get when you multiply {a} by {b}?",
        ],
        "fills": [{"a": 17, "b": 23}, {"a": 6, "b": 45}, {"a": 120, "b": 3}],
        "near": [
            ("number", {"b": lambda f: f["b"] + 1}),
            ("number", {"a": lambda f: f["a"] * 10}),
            ("operation", "What is {a} plus {b}?"),
        ],
    },
    {
        "para": [
            "What is the capital of {x}?",
            "Which city is the capital of {x}?",
            "Name the capital city of {x}.",
        ],
        "fills": [
            {"x": "France", "y": "Spain"},
            {"x": "Canada", "y": "Australia"},
            {"x": "Japan", "y": "China"},
        ],
        "near": [
            ("entity", {"x": lambda f: f["y"]}),
            ("relation", "What is the largest city of {x}?"),
        ],
    },
    {
        "para": [
            "How do I sort a list in {x}?",
            "What is the way to sort a list using {x}?",
            "Show me how to sort a list in {x}.",
        ],
        "fills": [
            {"x": "Python", "y": "JavaScript"},
            {"x": "Rust", "y": "Go"},
            {"x": "Java", "y": "Kotlin"},
        ],
        "near": [
            ("entity", {"x": lambda f: f["y"]}),
            ("antonym", "How do I reverse a list in {x}?"),
            ("noun", "How do I sort a dictionary in {x}?"),
        ],
    },
    {
        "para": [
            "Is {x} bigger than {y}?",
            "Is {x} larger than {y}?",
            "Does {x} have a greater size than {y}?",
        ],
        "fills": [
            {"x": "Jupiter", "y": "Saturn"},
            {"x": "Russia", "y": "Canada"},
            {"x": "Texas", "y": "Alaska"},
        ],
        "near": [
            ("order", "Is {y} bigger than {x}?"),
            ("antonym", "Is {x} smaller than {y}?"),
            ("negation", "Is {x} not bigger than {y}?"),
        ],
    },
    {
        "para": [
            "Convert {n} miles to kilometers.",
            "How many kilometers are {n} miles?",
            "What is {n} miles in kilometers?",
        ],
        "fills": [{"n": 5}, {"n": 26}, {"n": 100}],
        "near": [
            ("number", {"n": lambda f: f["n"] + 2}),
            ("unit", "Convert {n} miles to meters."),
            ("order", "Convert {n} kilometers to miles."),
        ],
    },
    {
        "para": [
            "Should I take {x} with food?",
            "Is it better to take {x} with a meal?",
            "Do I need to eat when I take {x}?",
        ],
        "fills": [
            {"x": "ibuprofen", "y": "aspirin"},
            {"x": "metformin", "y": "insulin"},
            {"x": "iron supplements", "y": "vitamin D"},
        ],
        "near": [
            ("negation", "Should I not take {x} with food?"),
            ("noun", {"x": lambda f: f["y"]}),
            ("noun", "Should I take {x} with alcohol?"),
        ],
    },
    {
        "para": [
            "Write a function that returns the {x} of a list.",
            "Write a function returning the {x} of a list.",
            "Implement a function that gives back the {x} of a list.",
        ],
        "fills": [
            {"x": "maximum", "y": "minimum"},
            {"x": "sum", "y": "product"},
            {"x": "length", "y": "median"},
        ],
        "near": [
            ("antonym", {"x": lambda f: f["y"]}),
            ("noun", "Write a function that returns the {x} of a string."),
        ],
    },
    {
        "para": [
            "Translate '{p}' into {x}.",
            "How do you say '{p}' in {x}?",
            "What is '{p}' in {x}?",
        ],
        "fills": [
            {"p": "good morning", "x": "French", "y": "German"},
            {"p": "thank you", "x": "Spanish", "y": "Italian"},
            {"p": "where is the station", "x": "Japanese", "y": "Korean"},
        ],
        "near": [("entity", {"x": lambda f: f["y"]}), ("noun", "Translate 'good night' into {x}.")],
    },
    {
        "para": [
            "Can {x} eat {y}?",
            "Is it safe for {x} to eat {y}?",
            "Are {y} safe for {x} to eat?",
        ],
        "fills": [
            {"x": "dogs", "y": "grapes", "z": "cats", "w": "apples"},
            {"x": "cats", "y": "tuna", "z": "rabbits", "w": "cheese"},
            {"x": "parrots", "y": "avocado", "z": "hamsters", "w": "bread"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["z"]}),
            ("noun", {"y": lambda f: f["w"]}),
            ("negation", "Can {x} never eat {y}?"),
        ],
    },
    {
        "para": [
            "How many days are in {x}?",
            "How many days does {x} have?",
            "What is the number of days in {x}?",
        ],
        "fills": [
            {"x": "February", "y": "March"},
            {"x": "April", "y": "May"},
            {"x": "a leap year", "y": "a week"},
        ],
        "near": [("entity", {"x": lambda f: f["y"]}), ("unit", "How many hours are in {x}?")],
    },
    {
        "para": ["Who wrote {x}?", "Who is the author of {x}?", "Which writer wrote {x}?"],
        "fills": [
            {"x": "Pride and Prejudice", "y": "Jane Eyre"},
            {"x": "War and Peace", "y": "Anna Karenina"},
            {"x": "The Hobbit", "y": "Dune"},
        ],
        "near": [("entity", {"x": lambda f: f["y"]}), ("relation", "Who published {x}?")],
    },
    {
        "para": [
            "Explain how a {x} works.",
            "How does a {x} work?",
            "Describe the way a {x} works.",
        ],
        "fills": [
            {"x": "refrigerator", "y": "microwave"},
            {"x": "jet engine", "y": "steam engine"},
            {"x": "hash table", "y": "binary tree"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("negation", "Explain why a {x} does not work."),
        ],
    },
    {
        "para": [
            "Does {x} interact with alcohol?",
            "Is it risky to drink alcohol while on {x}?",
            "Can I drink alcohol while taking {x}?",
        ],
        "fills": [
            {"x": "paracetamol", "y": "amoxicillin"},
            {"x": "sertraline", "y": "ibuprofen"},
            {"x": "warfarin", "y": "melatonin"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("negation", "Why does {x} not interact with alcohol?"),
            ("noun", "Does {x} interact with caffeine?"),
        ],
    },
    {
        "para": [
            "List {n} tips for better sleep.",
            "Give me {n} tips to sleep better.",
            "What are {n} ways to improve my sleep?",
        ],
        "fills": [{"n": 3}, {"n": 5}, {"n": 10}],
        "near": [
            ("number", {"n": lambda f: f["n"] + 1}),
            ("noun", "List {n} tips for better focus."),
        ],
    },
    {
        "para": [
            "What is the boiling point of {x} at sea level?",
            "At sea level, at what temperature does {x} boil?",
            "What temperature does {x} boil at at sea level?",
        ],
        "fills": [
            {"x": "water", "y": "ethanol"},
            {"x": "mercury", "y": "nitrogen"},
            {"x": "acetone", "y": "methanol"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("antonym", "What is the freezing point of {x} at sea level?"),
        ],
    },
    {
        "para": [
            "How far is {x} from {y}?",
            "What is the distance between {x} and {y}?",
            "How many kilometers separate {x} and {y}?",
        ],
        "fills": [
            {"x": "Paris", "y": "Berlin", "z": "Madrid"},
            {"x": "Tokyo", "y": "Osaka", "z": "Kyoto"},
            {"x": "Boston", "y": "Chicago", "z": "Denver"},
        ],
        "near": [
            ("entity", {"y": lambda f: f["z"]}),
            ("relation", "How long is the flight from {x} to {y}?"),
        ],
    },
    {
        "para": [
            "Is it legal to {v} in {x}?",
            "Is it against the law to {v} in {x}?",
            "Can I legally {v} in {x}?",
        ],
        "fills": [
            {"v": "jaywalk", "x": "Germany", "y": "Singapore"},
            {"v": "fly a drone", "x": "Japan", "y": "India"},
            {"v": "drink in public", "x": "Canada", "y": "Ireland"},
        ],
        "near": [
            ("entity", {"x": lambda f: f["y"]}),
            ("negation", "Why is it not legal to {v} in {x}?"),
        ],
    },
    {
        "para": [
            "Summarize the plot of {x}.",
            "Give me a summary of the plot of {x}.",
            "What happens in {x}? Summarize the plot.",
        ],
        "fills": [
            {"x": "Hamlet", "y": "Macbeth"},
            {"x": "Moby Dick", "y": "Frankenstein"},
            {"x": "The Odyssey", "y": "The Iliad"},
        ],
        "near": [
            ("entity", {"x": lambda f: f["y"]}),
            ("relation", "Who are the main characters of {x}?"),
        ],
    },
    {
        "para": [
            "What is {p}% of {n}?",
            "Calculate {p} percent of {n}.",
            "How much is {p}% of {n}?",
        ],
        "fills": [{"p": 15, "n": 80}, {"p": 20, "n": 250}, {"p": 7, "n": 1200}],
        "near": [("number", {"p": lambda f: f["p"] + 5}), ("number", {"n": lambda f: f["n"] * 2})],
    },
    {
        "para": [
            "How do I {v} a file in Git?",
            "What is the Git command to {v} a file?",
            "In Git, how can I {v} a file?",
        ],
        "fills": [
            {"v": "delete", "y": "rename"},
            {"v": "stage", "y": "unstage"},
            {"v": "restore", "y": "ignore"},
        ],
        "near": [("antonym", {"v": lambda f: f["y"]}), ("noun", "How do I {v} a branch in Git?")],
    },
    {
        "para": [
            "Why is the sky {x}?",
            "What makes the sky {x}?",
            "What causes the sky to look {x}?",
        ],
        "fills": [
            {"x": "blue", "y": "red"},
            {"x": "dark at night", "y": "bright at night"},
            {"x": "orange at sunset", "y": "purple at sunset"},
        ],
        "near": [("antonym", {"x": lambda f: f["y"]}), ("negation", "Why is the sky not {x}?")],
    },
    {
        "para": [
            "Recommend a {x} book for beginners.",
            "What is a good {x} book for a beginner?",
            "Suggest a beginner-friendly {x} book.",
        ],
        "fills": [
            {"x": "chess", "y": "poker"},
            {"x": "statistics", "y": "calculus"},
            {"x": "gardening", "y": "woodworking"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("antonym", "Recommend a {x} book for experts."),
        ],
    },
    {
        "para": [
            "When was {x} born?",
            "What is the birth date of {x}?",
            "In which year was {x} born?",
        ],
        "fills": [
            {"x": "Albert Einstein", "y": "Isaac Newton"},
            {"x": "Marie Curie", "y": "Ada Lovelace"},
            {"x": "Frida Kahlo", "y": "Pablo Picasso"},
        ],
        "near": [("entity", {"x": lambda f: f["y"]}), ("antonym", "When did {x} die?")],
    },
    {
        "para": [
            "What is the time complexity of {x}?",
            "What is the big-O running time of {x}?",
            "How fast is {x} in big-O terms?",
        ],
        "fills": [
            {"x": "quicksort", "y": "mergesort"},
            {"x": "binary search", "y": "linear search"},
            {"x": "heap insertion", "y": "heap deletion"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("relation", "What is the space complexity of {x}?"),
        ],
    },
    {
        "para": [
            "Set a timer for {n} minutes.",
            "Start a {n} minute timer.",
            "Please set a timer of {n} minutes.",
        ],
        "fills": [{"n": 10}, {"n": 25}, {"n": 45}],
        "near": [
            ("number", {"n": lambda f: f["n"] + 5}),
            ("unit", "Set a timer for {n} seconds."),
            ("negation", "Do not set a timer for {n} minutes."),
        ],
    },
    {
        "para": [
            "Is {n} a prime number?",
            "Is the number {n} prime?",
            "Tell me whether {n} is prime.",
        ],
        "fills": [{"n": 91}, {"n": 97}, {"n": 221}],
        "near": [("number", {"n": lambda f: f["n"] + 2}), ("relation", "Is {n} an even number?")],
    },
    {
        "para": [
            "How do I make {x} at home?",
            "What is a recipe for homemade {x}?",
            "How can I cook {x} myself?",
        ],
        "fills": [
            {"x": "bread", "y": "pizza"},
            {"x": "yogurt", "y": "cheese"},
            {"x": "pasta", "y": "noodles"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("negation", "Why should I not make {x} at home?"),
        ],
    },
    {
        "para": [
            "What are the symptoms of {x}?",
            "What symptoms does {x} cause?",
            "How do I know if I have {x}? What are the symptoms?",
        ],
        "fills": [
            {"x": "flu", "y": "measles"},
            {"x": "diabetes", "y": "anemia"},
            {"x": "dehydration", "y": "heatstroke"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("relation", "What are the treatments for {x}?"),
        ],
    },
]


def build(seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    fams = list(range(len(FAMILIES)))
    rng.shuffle(fams)
    dev = set(fams[: len(fams) // 2])
    rows = []
    for fi, fam in enumerate(FAMILIES + EXTRA_FAMILIES):
        split = fam.get("split") or ("dev" if fi in dev else "test")
        for fill in fam["fills"]:
            para = [t.format(**fill) for t in fam["para"]]
            for i in range(len(para)):
                for j in range(i + 1, len(para)):
                    rows.append(
                        {
                            "a": para[i],
                            "b": para[j],
                            "kind": "paraphrase",
                            "type": "paraphrase",
                            "family": fi,
                            "split": split,
                        }
                    )
            for typ, rule in fam["near"]:
                if isinstance(rule, str):
                    b = rule.format(**fill)
                else:
                    changed = {**fill, **{k: fn(fill) for k, fn in rule.items()}}
                    b = fam["para"][0].format(**changed)
                for a in para[:2]:  # the near miss against two phrasings of the original
                    rows.append(
                        {
                            "a": a,
                            "b": b,
                            "kind": "near_miss",
                            "type": typ,
                            "family": fi,
                            "split": split,
                        }
                    )
    return rows


if __name__ == "__main__":
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("paraphrase", "near_miss")}
    print(f"{OUT}: {len(rows)} pairs {kinds}")
