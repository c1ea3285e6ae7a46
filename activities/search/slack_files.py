"""Files attached to the asking message in Slack, as the run's first sources.

The workflow carries only file ids (workflows/models.py ``SlackFileRef``). Here the worker asks Slack about
each file (``files.info``, Tier 4, with the bot's token, in the workspace's rate budget), checks that it is
shared in the conversation the question was asked in and is within the corpus's limits, downloads its
``url_private_download`` with ``Authorization: Bearer <bot token>``
(https://docs.slack.dev/messaging/working-with-files#authenticating; a download is not a Web API call, so it
spends no rate tier), and converts it with documents.py, as a corpus file would be. Each part is a source of
its own, ``slack-file://<channel>/<file id>#page=2``, titled ``handbook.pdf, p. 2``.

A file is refused, with a reason a person can act on, when Slack does not know it, it is not shared in the
run's conversation (a file id from another channel must not leak into this one), it is too big or of a
format the corpus does not read, or documents.py finds it bad (encrypted, a zip bomb, no text).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from activities.compute import compute
from activities.search.documents import SUFFIXES, Converters, DocumentLimits, Part, Unreadable
from activities.slack.file_shares import shared_in
from activities.slack.shared_budget import SharedBudget
from activities.slack.writes import SlackWrites
from core.settings import Settings
from slack_ui.client import build_slack_client
from workflows.models import SearchHit

__all__ = ["SLACK_FILE_SCHEME", "FileRefused", "SlackFiles", "build_slack_files", "file_url"]

SLACK_FILE_SCHEME = "slack-file://"
PROVIDER = "slack-file"
SNIPPET_CHARS = 300
CACHED_FILES = 16  # converted files kept in memory: a run reads several parts of one file
INFO_SECONDS = 60.0  # a files.info answer reused this long: each part read would otherwise ask again
# Where Slack serves files; the bot's token is sent to no other host (but the configured API's own, the sandbox).
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
_URL = re.compile(r"^slack-file://(?P<channel>[A-Z0-9]{2,30})/(?P<file>F[A-Z0-9]{2,30})(?:#(?P<locator>.*))?$")
_WORD = re.compile(r"\w{3,}")


class FileRefused(Exception):
    """This file cannot be a source of the run: the message says why."""


def file_url(channel: str, file_id: str, locator: str = "") -> str:
    """``slack-file://C1/F2#page=3``: the channel the run may read it in, the file, the part."""
    return f"{SLACK_FILE_SCHEME}{channel}/{file_id}" + (f"#{locator}" if locator else "")


@dataclass(frozen=True)
class _Converted:
    name: str
    sha256: str
    parts: list[Part]


class SlackFiles:
    """Reads files shared in Slack with the bot's token, within the corpus's limits."""

    def __init__(
        self,
        slack: AsyncWebClient,
        http: httpx.AsyncClient,
        *,
        limits: DocumentLimits,
        deadline: float = 60.0,
        writes: SlackWrites | None = None,
    ) -> None:
        self._slack = slack
        self._writes = writes or SlackWrites()  # files.info's line: a 429 waits for Retry-After
        self._http = http
        self._limits = limits
        self._deadline = deadline
        self._cache: OrderedDict[tuple[str, int, int], _Converted] = OrderedDict()
        self._lock = asyncio.Lock()
        self._infos: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def search(
        self, query: str, limit: int, file_ids: Iterable[str], channel: str | None
    ) -> tuple[list[SearchHit], list[str]]:
        """The parts of the files that best answer ``query`` (all of them, in order, when they fit in
        ``limit``), and a line for each file refused."""
        hits: list[SearchHit] = []
        refused: list[str] = []
        for file_id in file_ids:
            try:
                converted = await self._converted(file_id, channel)
            except FileRefused as exc:
                refused.append(f"attached file {file_id}: {exc}"[:300])
                continue
            for part in converted.parts:
                hits.append(
                    SearchHit(
                        url=file_url(str(channel), file_id, part.locator),
                        title=part.title,
                        snippet=" ".join(part.text.split())[:SNIPPET_CHARS],
                        provider=PROVIDER,
                        score=_overlap(query, part.text),
                    )
                )
        if len(hits) > limit:  # the best parts, shown in the files' own order
            best = sorted(range(len(hits)), key=lambda n: -hits[n].score)[:limit]
            hits = [hits[n] for n in sorted(best)]
        return hits, refused

    async def read(self, url: str) -> tuple[str, str, str]:
        """(title, text, note) of one part, ``slack-file://C/F#locator``; FileRefused says why not."""
        match = _URL.match(url)
        if match is None:
            raise FileRefused(f"not a Slack file URL: {url[:200]}")
        converted = await self._converted(match["file"], match["channel"])
        locator = match["locator"] or ""
        part = next((p for p in converted.parts if p.locator == locator), None)
        if part is None:
            raise FileRefused(f"{converted.name} has no part {locator or '(whole file)'}")
        note = f"from the Slack file {converted.name[:200]}, SHA-256 {converted.sha256}"
        return part.title, part.text, note

    async def _converted(self, file_id: str, channel: str | None) -> _Converted:
        info = await self._info(file_id)
        _check_shared_in(info, channel)
        name = str(info.get("name") or file_id)
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            raise FileRefused(f"{name}: not a format the corpus reads ({suffix or 'no suffix'})")
        size = int(info.get("size") or 0)
        if size > self._limits.max_file_bytes:
            raise FileRefused(
                f"{name}: {size:,} bytes, more than CORPUS_MAX_FILE_BYTES={self._limits.max_file_bytes:,}"
            )
        key = (file_id, size, int(info.get("timestamp") or info.get("created") or 0))
        async with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        content = await self._download(info, name)
        try:
            parts = await compute(_convert, name, content, self._limits)
        except Unreadable as exc:
            raise FileRefused(f"{name}: {exc}") from exc
        converted = _Converted(name, hashlib.sha256(content).hexdigest(), parts)
        async with self._lock:
            self._cache[key] = converted
            while len(self._cache) > CACHED_FILES:
                self._cache.popitem(last=False)
        return converted

    async def _info(self, file_id: str) -> dict[str, Any]:
        now = asyncio.get_running_loop().time()
        cached = self._infos.get(file_id)
        if cached is not None and now - cached[0] < INFO_SECONDS:
            return cached[1]
        file = await self._ask_info(file_id)
        self._infos[file_id] = (now, file)
        while len(self._infos) > CACHED_FILES:
            self._infos.popitem(last=False)
        return file

    async def _ask_info(self, file_id: str) -> dict[str, Any]:
        try:
            answer = await self._writes.read("files.info", "", lambda: self._slack.files_info(file=file_id))
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error in ("file_not_found", "file_deleted", "access_denied"):
                raise FileRefused(f"Slack does not let the bot read it ({error})") from exc
            raise  # ratelimited, a 5xx: Temporal retries the activity
        file = answer.get("file")
        if not isinstance(file, dict):
            raise FileRefused("Slack answered no file")
        return file

    async def _download(self, info: dict[str, Any], name: str) -> bytes:
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        if not url or not self._may_carry_token(url):
            raise FileRefused(f"{name}: Slack gave no private URL of its own to download it from")
        headers = {"Authorization": f"Bearer {self._slack.token}"}
        limit = self._limits.max_file_bytes
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self._deadline), self._http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 500:
                    response.raise_for_status()  # Slack is having a moment: retried
                if response.status_code != 200:
                    raise FileRefused(f"{name}: Slack refused the download (HTTP {response.status_code})")
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise FileRefused(f"{name}: more than CORPUS_MAX_FILE_BYTES={limit:,} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise FileRefused(f"{name}: the download did not finish within {self._deadline:g}s") from None
        return b"".join(chunks)

    def _may_carry_token(self, url: str) -> bool:
        """Only Slack's own file host, or the configured API's (the sandbox), over HTTPS or loopback."""
        target, api = urlsplit(url), urlsplit(str(self._slack.base_url))
        if target.scheme == "https" and target.hostname in SLACK_FILE_HOSTS:
            return True
        return (target.scheme, target.netloc) == (api.scheme, api.netloc)


def _check_shared_in(info: dict[str, Any], channel: str | None) -> None:
    """Refuse a file not shared in ``channel``, the conversation the question was asked in."""
    if channel is None or channel not in shared_in(info):
        raise FileRefused("it is not shared in the conversation the question was asked in")


def _convert(name: str, content: bytes, limits: DocumentLimits) -> list[Part]:
    """documents.py's parts of the file, through a temporary file (its readers take paths)."""
    with tempfile.TemporaryDirectory(prefix="slack-file-") as folder:
        safe = re.sub(r"[^\w.\- ]", "_", Path(name).stem)[:100] or "file"
        path = Path(folder) / (safe + Path(name).suffix.lower())
        path.write_bytes(content)
        return Converters(limits).parts(path, len(content))


def _overlap(query: str, text: str) -> float:
    """The share of the question's words a part contains: enough to pick pages of one file."""
    words = {w.casefold() for w in _WORD.findall(query)}
    if not words:
        return 0.0
    found = {w.casefold() for w in _WORD.findall(text)}
    return round(len(words & found) / len(words), 6)


def build_slack_files(
    settings: Settings, http: httpx.AsyncClient, shared: SharedBudget | None = None
) -> SlackFiles | None:
    """The reader of files attached in Slack, with the corpus's limits and the workspace's budget for
    files.info (``shared`` by the workers on PostgreSQL); None without a bot token."""
    if settings.slack_bot_token is None:
        return None
    limits = DocumentLimits(
        max_file_bytes=settings.corpus_max_file_bytes,
        max_unzipped_bytes=settings.corpus_max_unzipped_bytes,
        max_zip_ratio=settings.corpus_max_zip_ratio,
    )
    return SlackFiles(
        build_slack_client(settings),
        http,
        limits=limits,
        deadline=settings.fetch_deadline_seconds,
        writes=SlackWrites(shared=shared),
    )
