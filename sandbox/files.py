"""Slack's file upload, as Slack does it since files.upload was retired: three steps.

1. ``files.getUploadURLExternal`` (``filename``, ``length``) answers an ``upload_url`` and a ``file_id``
   (https://docs.slack.dev/reference/methods/files.getUploadURLExternal).
2. The file's bytes are POSTed to that URL (raw, or as a multipart form's one file); it answers 200 with
   ``OK - <length>``. Here the URL is this server's ``/upload/v1/{secret}``: the secret stands for the
   token, as Slack's signed URLs do.
3. ``files.completeUploadExternal`` (``files``: ``[{"id", "title"}]``, optional ``channel_id``,
   ``thread_ts``, ``initial_comment``) shares the uploaded files, in a message of their own, in the channel
   or thread (https://docs.slack.dev/reference/methods/files.completeUploadExternal). A file whose bytes
   have not all arrived is ``file_not_found``, and nothing is shared.

Files are kept on the Workspace (``ws.files``), and the page shows a shared file as a card with its name.

A person's file, attached to a message on the page (:func:`share_person_file`), is shared in that message,
and the bot reads it as Slack's bots do: ``files.info`` (https://docs.slack.dev/reference/methods/files.info)
describes it, with the conversations it is shared in and its ``url_private``/``url_private_download``;
a GET of that URL with ``Authorization: Bearer <bot token>`` answers its bytes (401 without a valid token,
404 for a file the bot cannot see: https://docs.slack.dev/messaging/working-with-files#authenticating).
"""

from __future__ import annotations

import mimetypes
import secrets
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import quote

from sandbox.canvases import canvas_info
from sandbox.method_kit import Method, Params, SlackError, check_writable, read_json, registrar
from sandbox.state import Workspace

__all__ = [
    "MAX_FILE_BYTES",
    "METHODS",
    "PRIVATE_PATH",
    "UPLOAD_PATH",
    "private_file",
    "receive_upload",
    "share_person_file",
    "with_base",
]

METHODS: dict[str, Method] = {}
method = registrar(METHODS)

UPLOAD_PATH = "/upload/v1/{secret}"
PRIVATE_PATH = "/files-pri/{key}/{name}"  # key: "<team id>-<file id>", as Slack's files.slack.com URLs
MAX_FILE_BYTES = 50 * 1024 * 1024  # ours: Slack's own limit is 1 GB; a sandbox keeps files in memory


@method("files.getUploadURLExternal")
def get_upload_url_external(ws: Workspace, params: Params) -> dict[str, Any]:
    filename = str(params.get("filename") or "").strip()
    if not filename:
        raise SlackError("invalid_arguments")
    try:
        length = int(params.get("length") or 0)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    if length <= 0 or length > MAX_FILE_BYTES:
        raise SlackError("invalid_arguments")
    with ws.lock:
        file_id = ws.new_id("F")
        secret = secrets.token_urlsafe(16)
        ws.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "secret": secret,
            "content": None,  # the bytes, once uploaded
            "alt_txt": str(params.get("alt_txt") or ""),
        }
    # Relative to the API's own base: slack_api.py makes it absolute with the request's base URL.
    return {"upload_url": UPLOAD_PATH.format(secret=secret), "file_id": file_id}


def receive_upload(ws: Workspace, secret: str, content_type: str, body: bytes) -> tuple[int, str]:
    """Step 2: the bytes sent to an upload URL; (status, body) to answer."""
    data = _file_part(content_type, body) if content_type.lower().startswith("multipart/form-data") else body
    with ws.lock:
        record = next((f for f in ws.files.values() if secrets.compare_digest(f["secret"], secret)), None)
        if record is None or data is None:
            return 404 if record is None else 400, "Not found" if record is None else "Bad request"
        record["content"] = bytes(data)
        return 200, f"OK - {len(data)}"


def _file_part(content_type: str, body: bytes) -> bytes | None:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    parts = [part for part in message.iter_parts() if part.get_filename() is not None]
    payload = parts[0].get_payload(decode=True) if len(parts) == 1 else None
    return payload if isinstance(payload, bytes) else None


@method("files.completeUploadExternal")
def complete_upload_external(ws: Workspace, params: Params) -> dict[str, Any]:
    wanted = read_json(params, "files", "invalid_arguments")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) and f.get("id") for f in wanted):
        raise SlackError("invalid_arguments")
    with ws.lock:
        records = []
        for item in wanted:
            record = ws.files.get(str(item["id"]))
            if record is None or record["content"] is None or len(record["content"]) != record["length"]:
                raise SlackError("file_not_found")
            records.append((record, str(item.get("title") or record["name"])))
        channel_id = str(params.get("channel_id") or "")
        channel = ws.channel(channel_id) if channel_id else None
        if channel_id and channel is None:
            raise SlackError("channel_not_found")
        thread_ts = str(params.get("thread_ts") or "") or None
        if channel is not None:
            check_writable(ws, channel)
            if thread_ts:
                parent = ws.message(channel.id, thread_ts)
                if parent is None:
                    raise SlackError("thread_not_found")
                thread_ts = parent.get("thread_ts", thread_ts)
        for record, title in records:
            record["title"] = title
        shared = [_public(record) for record, _ in records]
        if channel is not None:
            text = str(params.get("initial_comment") or "")
            message = ws.post(channel.id, text=text, thread_ts=thread_ts, files=shared)
            for record, _ in records:
                share = {"channel": channel.id, "ts": message["ts"], **({"thread_ts": thread_ts} if thread_ts else {})}
                record.setdefault("shares", []).append(share)
    return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """A file as Slack describes it in a message's ``files``; its private URLs are relative to the server
    (:func:`with_base` makes them absolute, as the answers and events carry them)."""
    name = record["name"]
    described = {
        "id": record["id"],
        "name": name,
        "title": record["title"],
        "size": len(record["content"]),
        "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
        "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "mode": "hosted",
    }
    if record.get("user"):  # a person's file: the bot reads it through its private URL
        private = PRIVATE_PATH.format(key=record["key"], name=quote(name))
        described |= {
            "user": record["user"],
            "created": record["created"],
            "url_private": private,
            "url_private_download": private + "?download=1",
        }
    return described


def with_base(file: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``file`` with its private URLs made absolute on ``base_url`` (this server's, as Slack's are on its)."""
    base = base_url.rstrip("/")
    return {k: base + v if k.startswith("url_private") and v.startswith("/") else v for k, v in file.items()}


def share_person_file(ws: Workspace, user_id: str, name: str, content: bytes) -> dict[str, Any]:
    """A file a person attached to a message: stored, ready to be shared in that message (``shares`` is
    filled in by :func:`mark_shared`). Answers its ``files`` entry."""
    if not content or len(content) > MAX_FILE_BYTES:
        raise SlackError("invalid_arguments")
    with ws.lock:
        file_id = ws.new_id("F")
        ws.files[file_id] = {
            "id": file_id,
            "key": f"{ws.team_id}-{file_id}",
            "name": name,
            "title": name,
            "length": len(content),
            "secret": secrets.token_urlsafe(16),
            "content": bytes(content),
            "user": user_id,
            "created": int(time.time()),
        }
        return _public(ws.files[file_id])


def mark_shared(
    ws: Workspace, files: list[dict[str, Any]], channel_id: str, ts: str, thread_ts: str | None = None
) -> None:
    """The message ``ts`` in ``channel_id`` (a reply in ``thread_ts``'s thread, if given) shares ``files``."""
    with ws.lock:
        for file in files:
            share = {"channel": channel_id, "ts": ts, **({"thread_ts": thread_ts} if thread_ts else {})}
            ws.files[file["id"]].setdefault("shares", []).append(share)


def _visible_to_bot(ws: Workspace, record: dict[str, Any]) -> bool:
    """The bot sees the files it uploaded, and a person's shared where it is a member."""
    if not record.get("user"):
        return True
    channels = (ws.channel(share["channel"]) for share in record.get("shares", []))
    return any(channel is not None and ws.bot_user_id in channel.members for channel in channels)


@method("files.info")
def files_info(ws: Workspace, params: Params) -> dict[str, Any]:
    """A file and where it is shared: ``channels``, ``groups``, ``ims`` and ``shares``, as Slack answers."""
    if str(params.get("file") or "") in ws.canvases:
        return canvas_info(ws, params)
    with ws.lock:
        record = ws.files.get(str(params.get("file") or ""))
        if record is None or record.get("content") is None or not _visible_to_bot(ws, record):
            raise SlackError("file_not_found")
        described = _public(record)
        kinds: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
        shares: dict[str, dict[str, list[dict[str, str]]]] = {}
        for share in record.get("shares", []):
            channel = ws.channel(share["channel"])
            if channel is None:
                continue
            kind = "ims" if channel.is_im else "groups" if channel.is_private else "channels"
            if channel.id not in kinds[kind]:
                kinds[kind].append(channel.id)
            where = "public" if kind == "channels" else "private"
            # As Slack answers: a share in a thread reply names its thread too.
            described_share = {key: share[key] for key in ("ts", "thread_ts") if key in share}
            shares.setdefault(where, {}).setdefault(channel.id, []).append(described_share)
    return {"file": {**described, **kinds, "shares": shares}, "comments": [], "response_metadata": {"next_cursor": ""}}


def private_file(ws: Workspace, key: str, authorization: str) -> tuple[int, bytes]:
    """A GET of a file's ``url_private``: (status, body). The bot's token in ``Authorization: Bearer``,
    else 401; a file that does not exist, or that the bot cannot see, 404."""
    token = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    if not token or not secrets.compare_digest(token, ws.bot_token):
        return 401, b"Unauthorized"
    with ws.lock:
        record = next((f for f in ws.files.values() if f.get("key") == key), None)
        if record is None or record.get("content") is None or not _visible_to_bot(ws, record):
            return 404, b"Not found"
        return 200, bytes(record["content"])
