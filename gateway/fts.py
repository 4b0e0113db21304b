"""Web-search syntax for SQLite's FTS5, made safe, and the marks of a search snippet.

PostgreSQL reads the user's query itself (`websearch_to_tsquery` never fails). FTS5 raises on raw
input (`"` unbalanced, `rate-limiting` read as a column filter), so the query is parsed here the
way `websearch_to_tsquery` reads it — `"exact phrase"`, `or`, `-excluded`, other words all
required — and rebuilt with every term quoted. English queries drop PostgreSQL's English
stop-words first, so a query of stop-words only finds nothing on both databases.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Snippet marks that no stored text contains (they are stripped from it first): the text is
# escaped as HTML, then the marks become <mark> and </mark>.
MARK_START, MARK_END = "\x02", "\x03"

# PostgreSQL's english.stop (the Snowball list).
ENGLISH_STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the and
    but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor not only own same
    so than too very s t can will just don should now""".split()
)

_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Term:
    text: str
    negated: bool = False


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _meaningful(text: str, stop_words: frozenset[str]) -> bool:
    words = [w.lower() for w in re.findall(r"\w+", text, re.UNICODE)]
    return any(w not in stop_words for w in words)


def parse(query: str, stop_words: frozenset[str] = frozenset()) -> list[list[Term]]:
    """The query as OR-groups of AND-ed terms, stop-words and empty terms removed."""
    groups: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(query.replace("\x00", " ")):
        phrase, word = match.group(1), match.group(2)
        if word is not None and word.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        negated = False
        text = phrase if phrase is not None else word
        if phrase is None and text.startswith("-") and len(text) > 1:
            negated, text = True, text[1:]
        if not _WORD.search(text) or not _meaningful(text, stop_words):
            continue
        groups[-1].append(Term(text, negated))
    return [group for group in groups if any(not term.negated for term in group)]


def fts5_expression(query: str, lang: str) -> str | None:
    """A safe FTS5 MATCH expression for the query, or None when nothing is left to search for."""
    stop_words = ENGLISH_STOP_WORDS if lang == "english" else frozenset()
    alternatives = []
    for group in parse(query, stop_words):
        required = " AND ".join(_quote(t.text) for t in group if not t.negated)
        excluded = "".join(f" NOT {_quote(t.text)}" for t in group if t.negated)
        alternatives.append(f"(({required}){excluded})")
    return " OR ".join(alternatives) or None


def safe_snippet(snippet: str) -> str:
    """HTML with only <mark> in it: everything the user stored is escaped."""
    return html.escape(snippet, quote=False).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def strip_marks(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "")
