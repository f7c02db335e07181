"""PATCH nickname: what displays as itself is accepted, what displays as empty or misleading is not.

The rule (``livelike_profiles.api.serializers``): NFC first; no control, surrogate,
private-use, unassigned, line/paragraph-separator or format character, except a
zero-width (non-)joiner between two visible characters and the tags of a
subdivision flag; no blank-looking "letters" (Hangul fillers, the braille
blank); at most four non-spacing marks on one character; one visible character
at least.
"""

from __future__ import annotations

import pytest

from tests.api.test_profile_api import patch
from tests.factories import row_of

pytestmark = pytest.mark.django_db(transaction=True)

ACUTE = "\u0301"

# name -> (sent, what LiveLike and the row end up with)
ACCEPTED = {
    "plain": ("Ada Lovelace", "Ada Lovelace"),
    "accented latin": ("Zoë Renée Ørsted", "Zoë Renée Ørsted"),
    "decomposed accents are composed (NFC)": (f"Jose{ACUTE}", "José"),
    "vietnamese": ("Nguyễn Thị Ánh", "Nguyễn Thị Ánh"),
    "vietnamese decomposed": ("Nguye\u0302\u0303n", "Nguyễn"),
    "devanagari": ("देवनागरी क्षत्रिय", "देवनागरी क्षत्रिय"),
    "devanagari half form with zwj": ("क्\u200dष", "क्\u200dष"),
    "sinhala sri with zwj": ("ශ්\u200dරී", "ශ්\u200dරී"),
    "thai with tone marks": ("สมชาย กิ่ง", "สมชาย กิ่ง"),
    "arabic with harakat": ("مُحَمَّد", "مُحَمَّد"),
    "persian with zwnj": ("می\u200cخواهم", "می\u200cخواهم"),  # noqa: RUF001
    "hebrew with niqqud": ("שָׁלוֹם", "שָׁלוֹם"),
    "tibetan stack": ("བསྒྲུབས", "བསྒྲུབས"),
    "burmese medials": ("မြွှာ", "မြွှာ"),
    "chinese": ("山田太郎", "山田太郎"),
    "japanese": ("さくら", "さくら"),
    "korean": ("김민준", "김민준"),
    "emoji zwj sequence": ("\U0001f469\u200d\U0001f4bb", "\U0001f469\u200d\U0001f4bb"),
    "emoji with skin tone": (
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",
    ),
    "rainbow flag (variation selector, zwj)": (
        "\U0001f3f3\ufe0f\u200d\U0001f308",
        "\U0001f3f3\ufe0f\u200d\U0001f308",
    ),
    "country flag": ("\U0001f1eb\U0001f1f7 fan", "\U0001f1eb\U0001f1f7 fan"),
    "subdivision flag (tags)": (
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    ),
    "emoji newer than some Pythons' Unicode data": ("\U0001fae8", "\U0001fae8"),
    "keycap": ("#\ufe0f\u20e3", "#\ufe0f\u20e3"),
    "four marks on one letter": ("q\u0300\u0301\u0302\u0303", "q\u0300\u0301\u0302\u0303"),
    "mark on an inner space": (f"a {ACUTE}b", f"a {ACUTE}b"),
}

REFUSED = {
    "zero-width space only": "\u200b",
    "zero-width spaces only": "\u200b\u200b\u200b",
    "zero-width space inside": "Ada\u200bLovelace",
    "byte order mark": "\ufeff",
    "byte order mark after a name": "Ada\ufeff",
    "hangul filler": "\u3164",
    "hangul filler in a name": "Ada\u3164",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "halfwidth hangul filler": "\uffa0",
    "braille blank": "\u2800",
    "braille blank between letters": "x\u2800y",
    "right-to-left mark": "\u200f",
    "right-to-left mark in a name": "Ada\u200f",
    "arabic letter mark": "\u061c",
    "arabic letter mark in a name": "a\u061cb",
    "line separator": "a\u2028b",
    "paragraph separator": "a\u2029b",
    "line separator only": "\u2028",
    "zalgo: one letter and 49 marks": "a" + "\u0301\u0300\u0302\u0303\u0308\u030a\u0327" * 7,
    "five marks on one letter": "q\u0300\u0301\u0302\u0303\u0304",
    "a mark with nothing under it": ACUTE,
    "zero-width joiner only": "\u200d",
    "zero-width joiner at the end": "Ada\u200d",
    "zero-width non-joiner at the start": "\u200cAda",
    "two joiners in a row": "a\u200d\u200db",
    "soft hyphen": "Ada\u00ad",
    "word joiner": "Ada\u2060Lovelace",
    "mongolian vowel separator": "Ada\u180e",
    "left-to-right isolate": "\u2066Ada",
    "tag characters without a flag": "Ada\U000e0067\U000e007f",
    "flag tags without the cancel tag": "\U0001f3f4\U000e0067\U000e0062",
    "a tag first": "\U000e0067Ada",
    "private use": "Ada\ue000",
    "unassigned": "Ada\u0378",
    "noncharacter": "Ada\uffff",
    "control character": "Ada\x07",
}


@pytest.fixture(autouse=True)
def no_throttle(livelike_settings):
    livelike_settings(THROTTLE_RATE=None)


@pytest.mark.parametrize("case", ACCEPTED)
def test_legitimate_nicknames_are_accepted(client, user, livelike_fake, case):
    sent, stored = ACCEPTED[case]
    response = patch(client, {"nickname": sent})
    assert response.status_code == 200, response.content
    assert response.json()["nickname"] == stored
    row = row_of(user)
    assert row.nickname == stored
    assert livelike_fake.profile(row.profile_id).nickname == stored


@pytest.mark.parametrize("case", REFUSED)
def test_empty_or_misleading_nicknames_get_400_and_reach_nobody(client, user, livelike_fake, case):
    before = row_of(user).nickname
    patches = livelike_fake.count_calls("PATCH")
    response = patch(client, {"nickname": REFUSED[case]})
    assert response.status_code == 400
    assert list(response.json()) == ["nickname"]
    assert row_of(user).nickname == before
    assert livelike_fake.count_calls("PATCH") == patches  # LiveLike never asked


def test_the_length_limit_counts_the_composed_form(client, livelike_settings):
    livelike_settings(NICKNAME_MAX_LENGTH=4)
    assert patch(client, {"nickname": f"Jose{ACUTE}"}).status_code == 200  # 5 sent, 4 composed
    assert patch(client, {"nickname": "Josef"}).status_code == 400
