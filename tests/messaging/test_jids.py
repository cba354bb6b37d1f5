"""Number -> JID normalisation: Evolution's createJid rules, and refusals for bad input."""

from __future__ import annotations

import pytest

from wagate.domain.jids import InvalidNumber, brazil_variants, create_jid

CASES = [
    # Brazil: the 9th digit is dropped for DDD >= 31 when the number starts with 7-9
    ("5531987654321", "553187654321@s.whatsapp.net"),
    ("+55 (31) 98765-4321", "553187654321@s.whatsapp.net"),
    ("5511987654321", "5511987654321@s.whatsapp.net"),  # DDD 11 < 31 keeps it
    ("5531967654321", "5531967654321@s.whatsapp.net"),  # subscriber starts with 6: kept
    ("553187654321", "553187654321@s.whatsapp.net"),  # already without it
    # Mexico: 52 1 + 10 digits -> 52 + 10 digits
    ("5215512345678", "525512345678@s.whatsapp.net"),
    ("525512345678", "525512345678@s.whatsapp.net"),
    # Argentina: 54 9 + 10 digits -> 54 + 10 digits
    ("5491112345678", "541112345678@s.whatsapp.net"),
    ("541112345678", "541112345678@s.whatsapp.net"),
    # elsewhere: digits only
    ("+1 (415) 555-2671", "14155552671@s.whatsapp.net"),
    ("447911123456", "447911123456@s.whatsapp.net"),
    # a device suffix is dropped
    ("5511987654321:12@s.whatsapp.net", "5511987654321@s.whatsapp.net"),
    ("5511987654321:3", "5511987654321@s.whatsapp.net"),
    # groups: 18+ digits, or a dashed id of 24+ characters, or a group JID
    ("120363025246125486", "120363025246125486@g.us"),
    ("5511999999999-1612345678", "5511999999999-1612345678@g.us"),
    ("551199999999-1612345678", "5511999999991612345678@g.us"),  # 23 chars: digits only
    ("120363025246125486@g.us", "120363025246125486@g.us"),
    # LIDs, broadcasts and newsletters pass through
    ("123456789012345@lid", "123456789012345@lid"),
    ("status@broadcast", "status@broadcast"),
    ("120363111111111111@newsletter", "120363111111111111@newsletter"),
]


@pytest.mark.parametrize(("number", "jid"), CASES)
def test_create_jid(number: str, jid: str) -> None:
    assert create_jid(number) == jid


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "abc", "55 11 9abc", "12345", "5511@example.com", "@s.whatsapp.net", "a b@lid"],
)
def test_invalid_input_is_refused(bad: str) -> None:
    with pytest.raises(InvalidNumber):
        create_jid(bad)


def test_brazil_variants_try_both_forms() -> None:
    assert brazil_variants("5511987654321@s.whatsapp.net") == [
        "5511987654321@s.whatsapp.net",
        "551187654321@s.whatsapp.net",
    ]
    assert brazil_variants("553187654321@s.whatsapp.net") == [
        "553187654321@s.whatsapp.net",
        "5531987654321@s.whatsapp.net",
    ]
    assert brazil_variants("14155552671@s.whatsapp.net") == ["14155552671@s.whatsapp.net"]
    assert brazil_variants("120363025246125486@g.us") == ["120363025246125486@g.us"]
