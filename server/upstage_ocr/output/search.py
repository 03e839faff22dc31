"""Find a phrase in OCR results: case-insensitive, tolerant of OCR slips, across word and line breaks.

A match is a run of consecutive words of one page (in text order, so a phrase broken over two lines is found).
Three kinds, ranked in this order:
1. exact: the query appears verbatim as whole words (case-insensitive, whitespace collapsed) - score 100;
   verbatim inside a longer word ("schnitzel" in "1xSchweinschnitzel") - score 99.5;
2. exact letters: the same letters and digits, split or punctuated differently ("Grinde / wa ld" for
   "grindewald", "5. 00" for "5.00"); accents and case are ignored - score 99;
3. fuzzy: the best rapidfuzz ratio of the run against the query, with and without spaces and punctuation -
   score up to 98, kept if >= `min_score`.

Speed: each page is first checked cheaply (a substring test and one `partial_ratio` of the query against the
page's letters); only pages that may hold a match are scanned, and only runs of words whose length can reach
`min_score` are scored. Overlapping matches on a page keep the best one.
"""

from __future__ import annotations

import bisect
import heapq
import re
import unicodedata
from collections.abc import Iterable

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from ..errors import InputError
from ..models import Page, Vertex
from . import reading

_SPACES = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[\W_]+")
_NOT_ALNUM_OR_SEP = re.compile(r"[^\w\x00]+|_+")


class Hit(BaseModel):
    """One match. `page` is 1-based (position in the searched pages); coordinates are pixels of that page."""

    page: int
    text: str = Field(description="the matched words as read; a line break inside the match is kept as \\n")
    line: str = Field(description="the full line(s) the match stands in")
    score: float = Field(
        description="0-100: 100 whole words, 99.5 inside a word, 99 same letters split differently, <=98 fuzzy"
    )
    exact: bool
    confidence: float = Field(description="mean OCR confidence of the matched words")
    box: tuple[float, float, float, float] = Field(description="x0, y0, x1, y1 enclosing the match")
    vertices: list[Vertex] = Field(description="the enclosing box as four vertices clockwise from top-left")
    word_ids: list[int]


def _norm(text: str) -> str:
    # NFKD: compatibility forms folded, accents split off (dropped from the letters), Hangul syllables split
    # into jamo, so "타코야끼" is one jamo, not one whole syllable, away from "타코야키"
    return _SPACES.sub(" ", unicodedata.normalize("NFKD", text).casefold()).strip()


def _alnum(text: str) -> str:
    return _NOT_ALNUM.sub("", text)


class _PageIndex:
    """The words of one page in text order with their normalized forms and character offsets."""

    def __init__(self, page: Page):
        self.words = []
        self.line_of: list[int] = []
        self.lines = reading.text_lines(page)
        for li, line in enumerate(self.lines):
            for w in line:
                self.words.append(w)
                self.line_of.append(li)
        # normalize all words in one pass: NUL cannot occur in OCR text and survives NFKD and casefold
        joined = _SPACES.sub(
            " ", unicodedata.normalize("NFKD", "\x00".join(w.text for w in self.words)).casefold()
        )
        self.spaced = [part.strip() for part in joined.split("\x00")]
        self.alnum = _NOT_ALNUM_OR_SEP.sub("", joined).split("\x00")
        self.starts: list[int] = []
        pos = 0
        for a in self.alnum:
            self.starts.append(pos)
            pos += len(a)
        self.letters = "".join(self.alnum)
        self.text = " ".join(self.spaced)

    def word_at(self, offset: int) -> int:
        """Index of the word holding letter `offset` of `self.letters`."""
        return bisect.bisect_right(self.starts, offset) - 1

    def window(self, i: int, j: int) -> str:
        return " ".join(self.spaced[i : j + 1])


def _on_boundaries(text: str, needle: str) -> bool:
    """Whether `needle` occurs in `text` with no letter or digit right before or after it (a whole word)."""
    at = text.find(needle)
    while at != -1:
        before = text[at - 1] if at else " "
        after = text[at + len(needle)] if at + len(needle) < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        at = text.find(needle, at + 1)
    return False


def _candidates(
    idx: _PageIndex, q_norm: str, q_alnum: str, min_score: float, *, fuzzy: bool = True
) -> list[tuple[int, float, int, int]]:
    """(rank, score, first word, last word) of every run worth reporting, before overlap removal."""
    out: list[tuple[int, float, int, int]] = []
    n = len(idx.words)
    # exact letters (and verbatim) matches: every occurrence of the query's letters in the page's letters
    if q_alnum:
        start = idx.letters.find(q_alnum)
        while start != -1:
            end = start + len(q_alnum)
            i, j = idx.word_at(start), idx.word_at(end - 1)
            window = idx.window(i, j)
            if q_norm in window:
                out.append((3, 100.0, i, j) if _on_boundaries(window, q_norm) else (2, 99.5, i, j))
            elif i == j or (start == idx.starts[i] and end == idx.starts[j] + len(idx.alnum[j])):
                # the same letters split or punctuated differently; across words only on word boundaries,
                # so "publi|c at|tention" is no match for "cat"
                out.append((1, 99.0, i, j))
            start = idx.letters.find(q_alnum, start + 1)
    elif q_norm in idx.text:
        # a query with no letters or digits (punctuation): verbatim only
        for i in range(n):
            for j in range(i, min(n, i + q_norm.count(" ") + 3)):
                if q_norm in idx.window(i, j):
                    out.append((3, 100.0, i, j))
                    break
        return out
    if not q_alnum or not fuzzy:
        return out
    # fuzzy: runs of consecutive words whose letter count can still reach min_score against the query's
    s = min(max(min_score, 1.0), 100.0) / 100.0
    ratio = s / (2 - s)  # ratio <= 2*min(a,b)/(a+b), so the shorter must be >= ratio * the longer
    lo, hi = len(q_alnum) * ratio, len(q_alnum) / ratio
    max_words = max(6, 2 * (q_norm.count(" ") + 1) + 3)
    spans: list[tuple[int, int]] = []
    texts: list[str] = []
    letters, starts, alnum = idx.letters, idx.starts, idx.alnum
    for i in range(n):
        if not alnum[i]:
            continue
        begin = starts[i]
        for j in range(i, min(n, i + max_words)):
            end = starts[j] + len(alnum[j])
            if end - begin > hi:
                break
            if end - begin >= lo and alnum[j]:
                spans.append((i, j))
                texts.append(letters[begin:end])
    if not texts:
        return out
    # one C call scores every run (letters only: spaces and punctuation are what OCR gets wrong most)
    scores = process.cdist([q_alnum], texts, scorer=fuzz.ratio, score_cutoff=min_score, workers=1)[0]
    for k in scores.nonzero()[0]:
        i, j = spans[k]
        out.append((0, min(round(float(scores[k]), 1), 98.0), i, j))
    return out


def _hit(page_no: int, idx: _PageIndex, rank: int, score: float, i: int, j: int) -> Hit:
    words = idx.words[i : j + 1]
    parts: list[str] = []
    for k, w in enumerate(words):
        if k:
            parts.append("\n" if idx.line_of[i + k] != idx.line_of[i + k - 1] else " ")
        parts.append(w.text)
    line_ids = range(idx.line_of[i], idx.line_of[j] + 1)
    x0, y0, x1, y1 = reading.union_bbox(words)
    return Hit(
        page=page_no,
        text="".join(parts),
        line="\n".join(reading.line_text(idx.lines[li]) for li in line_ids),
        score=score,
        exact=rank > 0,
        confidence=round(sum(w.confidence for w in words) / len(words), 4),
        box=(x0, y0, x1, y1),
        vertices=[Vertex(x=x0, y=y0), Vertex(x=x1, y=y0), Vertex(x=x1, y=y1), Vertex(x=x0, y=y1)],
        word_ids=[w.id for w in words],
    )


def search(pages: Iterable[Page], query: str, *, limit: int = 10, min_score: float = 80.0) -> list[Hit]:
    """The best `limit` matches of `query` in `pages`, best first (exact before fuzzy, then score, then page)."""
    q_norm = _norm(query or "")
    if not q_norm:
        raise InputError("the search query is empty", hint="Give a word or phrase to look for")
    if limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")
    q_alnum = _alnum(q_norm)
    min_score = min(max(float(min_score), 0.0), 100.0)
    prefilter = max(min_score - 20.0, 0.0)
    best: list[tuple[tuple[int, float, int, int], int, Hit]] = []  # a min-heap of the `limit` best
    counter = 0
    for page_index, page in enumerate(pages):
        floor = best[0][0][0] if len(best) >= limit else -1  # the rank a new hit must beat or tie
        if floor == 3:
            break  # `limit` whole-word hits already: a later page can only tie, and ties go to earlier pages
        if not page.words:
            continue
        # cheap page test before indexing the words
        flat = _norm(" ".join(w.text for w in page.words))
        if q_alnum:
            letters = _alnum(flat)
            if q_alnum not in letters and (
                not letters or fuzz.partial_ratio(q_alnum, letters, score_cutoff=prefilter) == 0
            ):
                continue
        elif q_norm not in flat:
            continue
        idx = _PageIndex(page)
        cands = _candidates(idx, q_norm, q_alnum, min_score, fuzzy=floor < 1)
        cands.sort(key=lambda c: (-c[0], -c[1], c[3] - c[2], c[2]))
        taken: list[tuple[int, int]] = []
        for rank, score, i, j in cands:
            if any(i <= b and a <= j for a, b in taken):
                continue
            taken.append((i, j))
            key = (rank, score, -page_index, -i)
            if len(best) >= limit and key <= best[0][0]:
                continue
            counter += 1
            item = (key, counter, _hit(page_index + 1, idx, rank, score, i, j))
            if len(best) < limit:
                heapq.heappush(best, item)
            else:
                heapq.heapreplace(best, item)
    return [hit for _key, _n, hit in sorted(best, key=lambda t: (t[0], -t[1]), reverse=True)]
