"""Pure text rules of search: normalisation, pinyin, initials and Latin words.

Products store derived columns (``search_text``, ``search_pinyin``, ``search_initials``);
queries are turned into the same forms, so matching is a substring test on each.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_SPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_LATIN_WORD = re.compile(r"[a-z][a-z0-9]*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_QUERY = re.compile(r"^[0-9a-z]+$")


def normalize(value: str) -> str:
    """NFKC (full-width to half-width), lower case, single spaces."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", value).lower()).strip()


def has_cjk(value: str) -> bool:
    return _CJK.search(value) is not None


def is_latin(value: str) -> bool:
    return _LATIN_QUERY.match(value) is not None


def pinyin(value: str) -> str:
    """Full pinyin, no tones or separators; Latin letters and digits kept: 连衣裙 → lianyiqun."""
    return _NON_ALNUM.sub("", "".join(lazy_pinyin(normalize(value))))


@lru_cache(maxsize=4096)
def query_pinyin(value: str) -> str:
    """``pinyin`` of a query or query word, remembered: queries repeat, and pypinyin's word
    segmentation was ~7% of a search miss's CPU."""
    return pinyin(value)


def initials(value: str) -> str:
    """First letters of each Chinese syllable; Latin letters and digits kept: 连衣裙 → lyq."""
    return _NON_ALNUM.sub("", "".join(lazy_pinyin(normalize(value), style=Style.FIRST_LETTER)))


def latin_words(value: str) -> set[str]:
    """Latin words of 3 to 64 characters (the typo dictionary): iPhone 15 Pro → iphone, pro."""
    return {w for w in _LATIN_WORD.findall(normalize(value)) if 3 <= len(w) <= 64}


def typo_budget(word: str) -> int:
    """How many edits a Latin word may be off by (a swap of two letters costs two)."""
    if len(word) < 4:
        return 0
    return 1 if len(word) == 4 else 2


@dataclass(frozen=True)
class Indexed:
    """The derived search columns of one product."""

    name: str
    text: str
    pinyin: str
    initials: str


def index_product(name: str, brand: str | None, category: str | None, subtitle: str) -> Indexed:
    """What a product is found by. Name and brand take part in pinyin and initials; the
    category and subtitle only in substring matches. Parts are joined by a separator that
    no query contains, so a match never spans two parts."""
    parts = [name, brand or ""]
    return Indexed(
        name=normalize(name),
        text="|".join(normalize(p) for p in [*parts, category or "", subtitle] if p),
        pinyin="|".join(pinyin(p) for p in parts if p),
        initials="|".join(initials(p) for p in parts if p),
    )
