"""Full-text search over records (prompt, response, and tool calls' names and arguments), ranked,
in each database's own way; web-search syntax for both.

The syntax (`"exact phrase"`, `or`, `-excluded`, other words all required) is PostgreSQL's
`websearch_to_tsquery`, which never fails on any input. SQLite's FTS5 raises on raw input (`"`
unbalanced, `rate-limiting` read as a column filter), so for it the query is parsed here the same
way and rebuilt with every term quoted; English queries drop PostgreSQL's English stop-words
first, so a query of stop-words only finds nothing on both databases.

At most SEARCH_CANDIDATES matches are ranked: all of them for a term rarer than that; for a
frequent term, the newest SEARCH_CANDIDATES, so that common words cannot make search slow.
`total` is exact up to TOTAL_CAP, and a lower bound beyond.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from dataclasses import dataclass
from typing import Any

from databases import Database

from gateway.history.store import TOTAL_CAP, public

SEARCH_CANDIDATES = 5000

# Snippet marks: control characters ordinary text does not hold. The snippet is escaped as HTML,
# then the marks become <mark> and </mark>, so a stored one can only ever become a mark.
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


@dataclass(frozen=True)
class SearchPage:
    items: list[dict[str, Any]]
    total: int
    total_is_lower_bound: bool


NOTHING = SearchPage([], 0, False)


class Search:
    def __init__(self, database: Database, kind: str) -> None:
        self.db = database
        self.kind = kind
        self._languages: frozenset[str] | None = None

    async def languages(self) -> frozenset[str]:
        """The text-search configurations this database has."""
        if self.kind == "sqlite":
            return frozenset(("english", "simple"))
        if self._languages is None:
            rows = await self.db.fetch_all("SELECT cfgname FROM pg_ts_config")
            self._languages = frozenset(row["cfgname"] for row in rows)
        return self._languages

    async def find(self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None = None) -> SearchPage:
        """Ranked matches, best first, ties newest first."""
        if self.kind == "sqlite":
            return await self._sqlite(query, lang, limit, offset, owner)
        async with self.db.transaction():
            # A prepared statement's generic plan cannot see the word: it guesses ~5,000 matches
            # for any of them, and for a word in a third of the rows it read the whole GIN posting
            # list (docs/performance.md). Each search is planned with its own values.
            await self.db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            return await self._postgres(query, lang, limit, offset, owner)

    async def _postgres(self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None) -> SearchPage:
        values: dict[str, Any] = {"q": query, "lang": lang}
        if lang == "english":
            vector = "r.search_vector"  # the stored, GIN-indexed column
        else:
            vector = (
                "(setweight(to_tsvector(CAST(:lang AS regconfig), r.prompt), 'A') || "
                "setweight(to_tsvector(CAST(:lang AS regconfig), r.response), 'B') || "
                "setweight(to_tsvector(CAST(:lang AS regconfig), coalesce(r.tool_text, '')), 'B'))"
            )
        tsquery = "websearch_to_tsquery(CAST(:lang AS regconfig), :q)"
        if not await self.db.fetch_val(f"SELECT numnode({tsquery}) > 0", values):
            return NOTHING  # nothing but stop-words
        mine = ""
        if owner is not None:
            mine = " AND r.api_key_id = :owner"
            values["owner"] = owner
        matches = f"FROM records r WHERE {vector} @@ {tsquery}{mine}"
        counted = await self.db.fetch_val(
            f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT {TOTAL_CAP + 1}) AS capped", values
        )
        total = int(counted or 0)
        if total == 0:
            return NOTHING
        if total > SEARCH_CANDIDATES:
            # Frequent: walk the newest matches through the (created_at, id) index.
            candidates = f"SELECT r.* {matches} ORDER BY r.created_at DESC, r.id DESC LIMIT {SEARCH_CANDIDATES}"
        else:
            # Rare: no ORDER BY/LIMIT here, so the planner cannot prefer walking the btree.
            candidates = f"SELECT r.* {matches}"
        ranked = (
            f"SELECT c.*, ts_rank_cd({vector.replace('r.', 'c.')}, {tsquery}) AS rank "
            f"FROM ({candidates}) AS c ORDER BY rank DESC, c.created_at DESC, c.id DESC "
            f"LIMIT :limit OFFSET :offset"
        )
        values.update(limit=limit, offset=offset)
        headline_options = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MinWords=5, MaxWords=18"
        page = (
            f"SELECT p.*, ts_headline(CAST(:lang AS regconfig), "
            f"p.prompt || ' — ' || p.response || ' ' || coalesce(p.tool_text, ''), {tsquery}, "
            f"'{headline_options}') AS snippet FROM ({ranked}) AS p ORDER BY p.rank DESC, p.created_at DESC, p.id DESC"
        )
        rows = await self.db.fetch_all(page, values)
        return SearchPage([self._hit(row) for row in rows], min(total, TOTAL_CAP), total > TOTAL_CAP)

    async def _sqlite(self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None) -> SearchPage:
        expression = fts5_expression(query, lang)
        if expression is None:
            return NOTHING
        table = f"records_fts_{lang}"
        values: dict[str, Any] = {"q": expression}
        mine = ""
        if owner is not None:
            mine = " AND r.api_key_id = :owner"
            values["owner"] = owner.hex
        joined = f"FROM {table} JOIN records r ON r.rowid = {table}.rowid WHERE {table} MATCH :q{mine}"
        counted = await self.db.fetch_val(f"SELECT count(*) FROM (SELECT 1 {joined} LIMIT {TOTAL_CAP + 1})", values)
        total = int(counted or 0)
        if total == 0:
            return NOTHING
        bound = ""
        if total > SEARCH_CANDIDATES:
            # Frequent: only the newest matches (rowids grow with time) are ranked.
            bound = (
                f" AND {table}.rowid >= (SELECT min(rowid) FROM (SELECT {table}.rowid AS rowid {joined} "
                f"ORDER BY {table}.rowid DESC LIMIT {SEARCH_CANDIDATES}))"
            )
        values.update(limit=limit, offset=offset)
        rows = await self.db.fetch_all(
            f"SELECT r.*, -bm25({table}, 2.0, 1.0, 1.0) AS rank, "
            f"snippet({table}, -1, char(2), char(3), '…', 16) AS snippet "
            f"{joined}{bound} ORDER BY rank DESC, r.created_at DESC, r.id DESC LIMIT :limit OFFSET :offset",
            values,
        )
        return SearchPage([self._hit(row) for row in rows], min(total, TOTAL_CAP), total > TOTAL_CAP)

    def _hit(self, row: Any) -> dict[str, Any]:
        item = public(self._typed(row))
        item["rank"] = round(float(row["rank"]), 6)
        item["snippet"] = safe_snippet(row["snippet"] or "")
        return item

    def _typed(self, row: Any) -> dict[str, Any]:
        """A row of a raw SQL query as the typed values `public()` expects (SQLite gives text)."""
        values = dict(row._mapping)
        if self.kind == "sqlite":
            for name in ("id", "conversation_id", "previous_response_id"):
                if values[name] is not None:
                    values[name] = uuid.UUID(values[name])
            for name in ("created_at", "completed_at", "redacted_at"):
                if isinstance(values[name], str):
                    values[name] = dt.datetime.fromisoformat(values[name])
        return values
