"""Families of the semantic cache set added in session 5 (see bench/gateway_pairs.py)."""

# Families added in session 5, written before the verifier change they test, with a fixed
# split so the 28 above keep theirs (the shuffle runs over those only). Their near misses
# include rewordings that change the meaning and lowercase direction swaps, the two kinds a
# looser verifier is most likely to let through.
EXTRA_FAMILIES: list[dict] = [
    {
        "split": "dev",
        "para": [
            "How do I convert a {x} to a string in Python?",
            "What is the way to turn a {x} into a string in Python?",
            "Show me how to change a {x} into a string in Python.",
        ],
        "fills": [
            {"x": "integer", "y": "float"},
            {"x": "list", "y": "tuple"},
            {"x": "date", "y": "byte array"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("order", "How do I convert a string to a {x} in Python?"),
            ("relation", "How do I compare a {x} to a string in Python?"),
        ],
    },
    {
        "split": "dev",
        "para": [
            "How long should I boil {x}?",
            "What is the right cooking time for boiled {x}?",
            "For how many minutes do I need to boil {x}?",
        ],
        "fills": [
            {"x": "eggs", "y": "potatoes"},
            {"x": "rice", "y": "lentils"},
            {"x": "spaghetti", "y": "broccoli"},
        ],
        "near": [
            ("noun", {"x": lambda f: f["y"]}),
            ("antonym", "How long should I fry {x}?"),
            ("relation", "What is the right cooking temperature for boiled {x}?"),
        ],
    },
    {
        "split": "test",
        "para": [
            "What is the population of {x}?",
            "How many people live in {x}?",
            "How many inhabitants does {x} have?",
        ],
        "fills": [
            {"x": "Germany", "y": "Italy"},
            {"x": "Brazil", "y": "Argentina"},
            {"x": "Tokyo", "y": "Osaka"},
        ],
        "near": [
            ("entity", {"x": lambda f: f["y"]}),
            ("relation", "What is the total area of {x}?"),
            ("relation", "How many people work in {x}?"),
        ],
    },
    {
        "split": "test",
        "para": [
            "How do I copy a file from the {x} to the {y}?",
            "What command copies a file from the {x} to the {y}?",
            "Show me how to transfer a file from the {x} onto the {y}.",
        ],
        "fills": [
            {"x": "server", "y": "laptop"},
            {"x": "container", "y": "host"},
            {"x": "phone", "y": "computer"},
        ],
        "near": [
            ("order", "How do I copy a file from the {y} to the {x}?"),
            ("antonym", "How do I delete a file from the {x}?"),
            ("noun", "How do I copy a folder from the {x} to the {y}?"),
        ],
    },
]
