"""The schema suite of bench/structured.py: >= 200 JSON Schemas of the shapes real APIs use.

Written for this repo (no schema is copied): twelve families modelled on what JSON Schema Store
and OpenAPI specs are full of (package manifests, CI jobs, service configs, users, orders,
invoices, events, geo features, log records, feature flags, API errors, survey answers), each
with seeded variations of its fields. Every family uses some of: nested objects, arrays of
objects, enums, anyOf / oneOf with null, $ref into $defs, string formats (date, date-time,
email, uuid, ipv4, uri, hostname), patterns, and numbers with bounds. Strings and arrays are
bounded so a complete answer fits the token budget (the target is validity, not length).
"""

import random
from collections.abc import Callable
from typing import Any

S = dict[str, Any]


def s(n: int = 24, **kw: Any) -> S:
    return {"type": "string", "maxLength": n, **kw}


def i(lo: int, hi: int) -> S:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def num(lo: float, hi: float) -> S:
    return {"type": "number", "minimum": lo, "maximum": hi}


def arr(items: S, hi: int = 3, lo: int = 0) -> S:
    return {"type": "array", "items": items, "minItems": lo, "maxItems": hi}


def obj(props: S, required: list[str] | None = None, **kw: Any) -> S:
    req = list(props) if required is None else required
    return {
        "type": "object",
        "properties": props,
        "required": req,
        "additionalProperties": False,
        **kw,
    }


def nullable(x: S) -> S:
    return {"anyOf": [x, {"type": "null"}]}


def pick(r: random.Random, props: S, k: int) -> S:
    keys = list(props)
    keep = sorted(r.sample(range(len(keys)), k=min(k, len(keys))))
    return {keys[j]: props[keys[j]] for j in keep}


def package(r: random.Random) -> S:
    dep = {"type": "string", "pattern": r"^\^?[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$"}
    props = {
        "name": s(20, pattern="^[a-z][a-z0-9-]{1,19}$"),
        "version": {"type": "string", "pattern": r"^[0-9]\.[0-9]{1,2}\.[0-9]{1,2}$"},
        "license": {"enum": ["MIT", "Apache-2.0", "BSD-3-Clause", "ISC"]},
        "private": {"type": "boolean"},
        "homepage": s(40, format="uri"),
        "keywords": arr(s(12), 3),
        "author": {"$ref": "#/$defs/person"},
        "dependencies": arr(obj({"name": s(16), "range": dep}), 3),
    }
    out = obj(pick(r, props, r.randint(4, 8)))
    out["$defs"] = {"person": obj({"name": s(20), "email": s(30, format="email")})}
    return out


def ci_job(r: random.Random) -> S:
    step = {
        "anyOf": [
            obj({"name": s(20), "run": s(30)}),
            obj({"uses": s(24, pattern="^[a-z-]{2,12}/[a-z-]{2,10}@v[0-9]$")}),
        ]
    }
    props = {
        "runs-on": {"enum": ["ubuntu-latest", "windows-latest", "macos-latest"]},
        "timeout-minutes": i(1, 360),
        "steps": arr(step, 3, 1),
        "continue-on-error": {"type": "boolean"},
        "env": obj({"CI": {"const": "true"}, "LEVEL": {"enum": ["debug", "info"]}}),
        "strategy": obj({"matrix": obj({"python": arr({"enum": ["3.10", "3.11", "3.12"]}, 3, 1)})}),
    }
    return obj(pick(r, props, r.randint(3, 6)))


def service(r: random.Random) -> S:
    port = i(1, 65535)
    props = {
        "image": s(30, pattern="^[a-z0-9./-]{2,20}:[a-z0-9.]{1,8}$"),
        "ports": arr(
            obj({"host": port, "container": port, "protocol": {"enum": ["tcp", "udp"]}}), 2
        ),
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "replicas": i(0, 16),
        "cpu": num(0.1, 8),
        "host": s(30, format="hostname"),
        "bind": s(15, format="ipv4"),
        "healthcheck": obj({"interval_s": i(1, 300), "retries": i(0, 10)}),
    }
    return obj(pick(r, props, r.randint(3, 7)))


def user(r: random.Random) -> S:
    props = {
        "id": s(36, format="uuid"),
        "email": s(32, format="email"),
        "name": obj({"first": s(16), "last": s(16)}),
        "age": i(13, 120),
        "role": {"enum": ["admin", "editor", "viewer"]},
        "born": s(10, format="date"),
        "address": {"$ref": "#/$defs/address"},
        "phone": nullable(s(16, pattern=r"^\+[0-9]{7,14}$")),
        "verified": {"type": "boolean"},
    }
    out = obj(pick(r, props, r.randint(3, 8)))
    out["$defs"] = {
        "address": obj(
            {
                "street": s(30),
                "city": s(20),
                "zip": s(10, pattern="^[0-9]{5}$"),
                "country": s(2, pattern="^[A-Z]{2}$"),
            }
        )
    }
    return out


def order(r: random.Random) -> S:
    line = obj(
        {"sku": s(12, pattern="^[A-Z]{3}-[0-9]{3,6}$"), "qty": i(1, 99), "price": num(0, 10000)}
    )
    props = {
        "order_id": i(1, 10**9),
        "status": {"enum": ["pending", "paid", "shipped", "cancelled"]},
        "lines": arr(line, 3, 1),
        "currency": {"enum": ["USD", "EUR", "GBP", "JPY"]},
        "placed_at": s(30, format="date-time"),
        "discount": nullable(num(0, 100)),
        "shipping": obj({"method": {"enum": ["ground", "air"]}, "cost": num(0, 500)}),
        "gift": {"type": "boolean"},
    }
    return obj(pick(r, props, r.randint(3, 7)))


def invoice(r: random.Random) -> S:
    money = {"$ref": "#/$defs/money"}
    props = {
        "number": s(12, pattern="^INV-[0-9]{4,8}$"),
        "issued": s(10, format="date"),
        "due": s(10, format="date"),
        "total": money,
        "tax": money,
        "items": arr(obj({"description": s(30), "amount": money}), 3, 1),
        "paid": {"type": "boolean"},
        "notes": nullable(s(40)),
    }
    out = obj(pick(r, props, r.randint(3, 7)))
    out["$defs"] = {"money": obj({"value": num(0, 10**6), "currency": {"enum": ["USD", "EUR"]}})}
    return out


def event(r: random.Random) -> S:
    props = {
        "title": s(30),
        "start": s(30, format="date-time"),
        "end": s(30, format="date-time"),
        "all_day": {"type": "boolean"},
        "attendees": arr(
            obj({"email": s(30, format="email"), "rsvp": {"enum": ["yes", "no", "maybe"]}}), 3
        ),
        "location": {"oneOf": [obj({"room": s(10)}), obj({"url": s(40, format="uri")})]},
        "reminders_min": arr(i(0, 1440), 3),
        "visibility": {"enum": ["public", "private"]},
    }
    return obj(pick(r, props, r.randint(3, 7)))


def geo(r: random.Random) -> S:
    point = obj({"type": {"const": "Point"}, "coordinates": arr(num(-180, 180), 2, 2)})
    props = {
        "type": {"const": "Feature"},
        "geometry": point,
        "properties": obj(
            {"name": s(24), "population": i(0, 40_000_000), "capital": {"type": "boolean"}}
        ),
        "bbox": arr(num(-180, 180), 4, 4),
        "id": {"anyOf": [s(12), i(0, 10**6)]},
    }
    return obj(pick(r, props, r.randint(2, 5)))


def log_record(r: random.Random) -> S:
    props = {
        "ts": s(30, format="date-time"),
        "level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
        "logger": s(24, pattern=r"^[a-z_]+(\.[a-z_]+){0,2}$"),
        "message": s(40),
        "latency_ms": num(0, 60000),
        "status": i(100, 599),
        "client": s(15, format="ipv4"),
        "trace": nullable(
            obj({"trace_id": s(32, pattern="^[0-9a-f]{32}$"), "sampled": {"type": "boolean"}})
        ),
        "tags": arr(s(10), 3),
    }
    return obj(pick(r, props, r.randint(3, 7)))


def flag(r: random.Random) -> S:
    rule = obj(
        {
            "attribute": {"enum": ["country", "plan", "beta"]},
            "op": {"enum": ["eq", "in"]},
            "value": s(12),
        }
    )
    props = {
        "key": s(24, pattern="^[a-z][a-z0-9_]{2,23}$"),
        "enabled": {"type": "boolean"},
        "rollout_percent": i(0, 100),
        "rules": arr(rule, 2),
        "variants": arr({"enum": ["control", "a", "b"]}, 3, 1),
        "owner": s(30, format="email"),
        "expires": nullable(s(10, format="date")),
    }
    return obj(pick(r, props, r.randint(3, 6)))


def api_error(r: random.Random) -> S:
    detail = obj({"field": s(20), "issue": {"enum": ["missing", "invalid", "too_long"]}})
    props = {
        "type": s(40, format="uri"),
        "title": s(30),
        "status": i(400, 599),
        "detail": s(40),
        "instance": s(30),
        "errors": arr(detail, 3),
        "retry_after_s": nullable(i(0, 3600)),
    }
    chosen = {"status": props["status"], "title": props["title"]}
    return obj(chosen | pick(r, props, r.randint(1, 5)), required=["status", "title"])


def survey(r: random.Random) -> S:
    answer = {
        "anyOf": [
            obj({"q": i(1, 20), "choice": {"enum": ["a", "b", "c", "d"]}}),
            obj({"q": i(1, 20), "score": i(1, 5)}),
            obj({"q": i(1, 20), "text": s(30)}),
        ]
    }
    props = {
        "respondent": s(36, format="uuid"),
        "submitted": s(30, format="date-time"),
        "answers": arr(answer, 3, 1),
        "nps": i(0, 10),
        "consent": {"type": "boolean"},
        "channel": {"enum": ["email", "web", "app"]},
    }
    return obj(pick(r, props, r.randint(3, 6)))


FAMILIES: list[tuple[str, Callable[[random.Random], S], str]] = [
    ("package", package, "a package manifest for a small JavaScript library"),
    ("ci_job", ci_job, "a CI job that runs the tests"),
    ("service", service, "a web service in a compose file"),
    ("user", user, "a user account record"),
    ("order", order, "an online shop order"),
    ("invoice", invoice, "an invoice"),
    ("event", event, "a calendar event for a team meeting"),
    ("geo", geo, "a GeoJSON feature for a city"),
    ("log", log_record, "a structured log record of an HTTP request"),
    ("flag", flag, "a feature-flag definition"),
    ("api_error", api_error, "an API error response (problem details)"),
    ("survey", survey, "a survey response"),
]


def suite(n_per_family: int = 17, seed: int = 0) -> list[tuple[str, S, str]]:
    """(name, schema, what to describe) for every schema; 12 x 17 = 204 distinct by default."""
    r = random.Random(seed)
    out: list[tuple[str, S, str]] = []
    for name, make, what in FAMILIES:
        seen: set[str] = set()
        while len(seen) < n_per_family:  # redraw repeats: every schema in the suite differs
            schema = make(r)
            if repr(schema) not in seen:
                seen.add(repr(schema))
                out.append((f"{name}-{len(seen) - 1}", schema, what))
    return out
