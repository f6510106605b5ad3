import pytest

from lmforge.data.pii import PIIMatch, find_pii, luhn_ok, redact_pii


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("write to jane.doe+tag@mail.example.org today", "email", "jane.doe+tag@mail.example.org"),
        ("call +1 (555) 123-4567 now", "phone", "+1 (555) 123-4567"),
        ("call 555.123.4567 now", "phone", "555.123.4567"),
        ("sydney +61 2 9876 5432 desk", "phone", "+61 2 9876 5432"),
        ("uk (020) 7946 0958 office", "phone", "(020) 7946 0958"),
        ("e164 +447911123456 mobile", "phone", "+447911123456"),
        ("host 192.168.0.1 down", "ip", "192.168.0.1"),
        ("v6 2001:db8::1 up", "ip", "2001:db8::1"),
        ("card 4111 1111 1111 1111 expires", "credit_card", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004 expires", "credit_card", "5500-0000-0000-0004"),
        ("amex 378282246310005 ok", "credit_card", "378282246310005"),
    ],
)
def test_finds_each_kind(text: str, kind: str, found: str) -> None:
    matches = find_pii(text)
    assert [(m.kind, m.text) for m in matches] == [(kind, found)]
    m = matches[0]
    assert text[m.start : m.end] == found


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 fails Luhn",  # also not reported as a phone
        "on 2021-03-04 at 12:30:45",
        "version 1.2.3.4.5 and 256.1.1.1",
        "python slice x[1::2] and std::vector",
        "order id 1234567890",
        "not an email: a@b and @handle",
    ],
)
def test_rejects_lookalikes(text: str) -> None:
    assert find_pii(text) == []


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


def test_redact_counts_and_placeholder() -> None:
    text = "a@x.io, b@y.io, 10.0.0.1 and 4111111111111111"
    out, counts = redact_pii(text)
    assert out == "[email], [email], [ip] and [credit_card]"
    assert counts == {"email": 2, "credit_card": 1, "ip": 1, "phone": 0}
    out, counts = redact_pii(text, kinds=["ip"], placeholder="<{kind}>")
    assert out == "a@x.io, b@y.io, <ip> and 4111111111111111"
    assert counts == {"ip": 1}


def test_kinds_filter_keeps_priority() -> None:
    # Asking only for phones must not report the inside of a card number as a phone.
    assert find_pii("pay 4111 1111 1111 1111", kinds=["phone"]) == []
    assert find_pii("x@y.com", kinds=["email"]) == [PIIMatch("email", 0, 7, "x@y.com")]


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown PII kind"):
        find_pii("x", kinds=["ssn"])
