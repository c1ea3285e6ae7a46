"""The offline corpus: indexing, ranking, query sanitising, and reading only what is inside it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from activities.search.local_corpus import CorpusReadError, LocalCorpus, fts_query
from core.settings import REPO_ROOT, Settings


def test_local_corpus_indexes_files_with_urls_and_titles(corpus: LocalCorpus) -> None:
    hits = {hit.url: hit for hit in corpus.search("retry policies block kit bm25 archives", 10)}
    assert set(hits) == {
        "local://temporal.md",
        "local://slack.html",
        "local://notes.txt",
        "local://guides/postgres.markdown",
    }
    assert hits["local://temporal.md"].title == "Temporal retry policies"
    assert hits["local://slack.html"].title == "Slack & Block Kit"
    assert hits["local://notes.txt"].title == "notes.txt"
    assert hits["local://guides/postgres.markdown"].title == "PostgreSQL archives"
    assert all(hit.provider == "local" for hit in hits.values())


def test_local_corpus_ranks_the_best_match_first(corpus: LocalCorpus) -> None:
    hits = corpus.search("retry policy backoff", 5)
    assert [hit.url for hit in hits[:2]] == ["local://temporal.md", "local://notes.txt"]
    assert hits[0].score > hits[1].score > 0
    assert "backoff" in hits[0].snippet
    assert corpus.search("slash commands", 1)[0].url == "local://slack.html"  # HTML body indexed


def test_partial_matches_still_rank(corpus: LocalCorpus) -> None:
    hits = corpus.search("gin indexes zxqvunknownword", 5)
    assert [hit.url for hit in hits] == ["local://guides/postgres.markdown"]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "retry AND OR NOT",
        "title:retry",
        "retr*",
        "NEAR(retry backoff)",
        "-retry",
        ")(",
        "'single' \"double\"",
        "^start",
        "a:b:c {x} [y]",
        "café résumé ✓",
    ],
)
def test_user_text_never_raises_an_fts_syntax_error(corpus: LocalCorpus, query: str) -> None:
    assert isinstance(corpus.search(query, 5), list)


def test_query_sanitising() -> None:
    assert fts_query('what is "retry" AND backoff*?') == '"retry" OR "backoff"'
    assert fts_query("   !!! ()") == ""
    assert fts_query("the of") == '"the" OR "of"'  # only stopwords: keep them rather than nothing


def test_empty_query_finds_nothing(corpus: LocalCorpus) -> None:
    assert corpus.search("?!", 5) == []


async def test_index_is_built_once_lazily_and_shared_across_threads(corpus: LocalCorpus) -> None:
    assert corpus._index is None
    results = await asyncio.gather(*(asyncio.to_thread(corpus.search, "retry", 3) for _ in range(16)))
    assert all(r == results[0] for r in results) and results[0]
    index = corpus._index
    corpus.search("retry", 1)
    assert corpus._index is index
    # Sixteen searches at once, one refresh: every file was converted exactly once.
    assert sum(corpus.converters.calls.values()) == 4


def test_read_local_documents(corpus: LocalCorpus) -> None:
    title, text = corpus.read("local://slack.html")
    assert title == "Slack & Block Kit" and "three seconds" in text and "<p>" not in text
    assert corpus.read("local://guides/postgres.markdown")[0] == "PostgreSQL archives"


@pytest.mark.parametrize(
    "url",
    [
        "local://../secret.md",
        "local:///etc/passwd",
        "local://guides/../../secret.md",
        "local://ignored.py",
        "local://missing.md",
        "https://example.com/temporal.md",
    ],
)
def test_read_refuses_urls_outside_the_corpus(corpus: LocalCorpus, url: str) -> None:
    with pytest.raises(CorpusReadError):
        corpus.read(url)


def test_read_refuses_a_symlink_out_of_the_corpus(corpus: LocalCorpus, tmp_path: Path) -> None:
    (corpus.corpus_dir / "link.md").symlink_to(tmp_path / "secret.md")
    with pytest.raises(CorpusReadError):
        corpus.read("local://link.md")
    assert all(hit.url != "local://link.md" for hit in corpus.search("secret", 5))


def test_the_tests_copy_of_the_corpus_answers_offline() -> None:
    docs = LocalCorpus(REPO_ROOT / "tests" / "data" / "corpus")
    assert len(docs.search("continue-as-new event history", 3)) >= 1
    assert "temporal" in docs.search("continue-as-new event history replay", 1)[0].url
    assert "ssrf" in docs.search("server-side request forgery metadata 169.254.169.254", 1)[0].url
    assert "fts5" in docs.search("bm25 ranking full-text index", 1)[0].url


def test_the_default_corpus_is_corpus_not_the_docs_for_people() -> None:
    shipped = Settings(_env_file=None).research_corpus_dir
    assert shipped == REPO_ROOT / "corpus"
    assert LocalCorpus(shipped).search("Slack Block Kit limits", 1), "the demo's question finds nothing"
