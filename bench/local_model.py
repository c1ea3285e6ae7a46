"""One `researchbot ask` through a real local model server (issue 22); run by scripts/local_model_check.sh.

Two halves, two interpreters. `proxy` runs in the model's venv (.cache/local-model/venv): a pass-through
between ResearchBot and llama-cpp-python's server that counts each prompt's tokens with the model's own
tokenizer and chat template (the server reports no usage on streamed replies, and asking it to tokenize
would interrupt the stream it is serving). The driver runs in the project's venv: it starts the model
server, the proxy and the project's Temporal dev server, runs the question, then reads the run's history
for the searches made, retries and timeouts. Stdlib only at the top, so either venv can import it.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ALIAS = "smollm2-135m-instruct"
QUESTION = "Why should an AI agent use durable execution?"
RUN_LIMIT_SECONDS = 45 * 60  # a bound, not a target: the run took 5 min
DECLINE = "I found nothing to cite"
# What a search query cut from a model's JSON or HTML looks like: a quoted key, brackets, tags, escapes.
MARKUP = re.compile(r'["\'`]\s*:|[{}\[\]<>\\]|&\w+;|\n')


# ---------------------------------------------------------------- the proxy (model venv)


class Tokens:
    """The model's tokenizer and chat template, without its weights."""

    def __init__(self, gguf: str) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(model_path=gguf, vocab_only=True, verbose=False)
        meta = self.llama.metadata
        vocab = self.llama._model
        self.format = Jinja2ChatFormatter(
            template=meta["tokenizer.chat_template"],
            eos_token=vocab.token_get_text(vocab.token_eos()),
            bos_token=vocab.token_get_text(vocab.token_bos()),
        )

    def count(self, body: dict[str, Any]) -> int:
        text = self.format(messages=body["messages"]).prompt if "messages" in body else str(body.get("prompt", ""))
        return len(self.llama.tokenize(text.encode(), add_bos=True, special=True))


def serve_proxy(port: int, upstream: int, gguf: str, record: Path) -> None:
    tokens = Tokens(gguf)
    lock = threading.Lock()

    def write(entry: dict[str, Any]) -> None:
        with lock, record.open("a") as file:
            file.write(json.dumps(entry) + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # the record file says it all
            pass

        def do_GET(self) -> None:
            self.forward(b"")

        def do_POST(self) -> None:
            self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def forward(self, body: bytes) -> None:
            entry: dict[str, Any] = {"path": self.path, "started": time.time()}
            if body and self.path.endswith("completions"):
                request = json.loads(body)
                entry |= {"prompt_tokens": tokens.count(request), "stream": bool(request.get("stream"))}
            upstream_conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=3600)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            upstream_conn.request(self.command, self.path, body or None, headers)
            response = upstream_conn.getresponse()
            entry["status"] = response.status
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            reply = bytearray()
            try:
                while chunk := response.read1(65536):
                    if b"data:" in chunk:  # not the server's keep-alive pings (every 15 s)
                        entry.setdefault("first_data_seconds", round(time.time() - entry["started"], 2))
                    reply += chunk
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                entry["client_gone"] = True  # ResearchBot stopped waiting: its timeout
            finally:
                upstream_conn.close()
                entry["seconds"] = round(time.time() - entry["started"], 2)
                if "prompt_tokens" in entry:
                    entry |= reply_facts(bytes(reply), response.status)
                write(entry)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def reply_facts(reply: bytes, status: int) -> dict[str, Any]:
    """The reply's length in characters, and what the server said of the prompt when it refused it."""
    text = reply.decode(errors="replace")
    if status != 200:
        refused = re.search(r"Requested tokens \((\d+)\) exceed context window", text)
        return {"error": text[:300], "server_counted": int(refused.group(1)) if refused else None}
    if text.lstrip().startswith("{"):
        message = json.loads(text)["choices"][0]
        return {"reply_chars": len((message.get("message") or {}).get("content") or message.get("text") or "")}
    chars = 0
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
            for choice in json.loads(line[5:]).get("choices", []):
                chars += len((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return {"reply_chars": chars}


# ---------------------------------------------------------------- the driver (project venv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args[:3]} exited at start; see {log}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not answer within {seconds:.0f} s; see {log}")


def wait_for_line(process: subprocess.Popen[bytes], log: Path, marker: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.3)
    sys.exit(f"{process.args[:3]} never said {marker!r}; see {log}")


def start(command: list[str], log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, **kwargs)


def run_env(work: Path, proxy_port: int, temporal_port: int) -> dict[str, str]:
    """Offline but for the model: no keys, no Slack, the shipped corpus, an archive of this run's own."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "TEMPORAL_", "LLM_"))}
    for key in ("TAVILY_API_KEY", "BRAVE_API_KEY", "SEARXNG_URL", "SEARCH_PROVIDER", "DATABASE_URL"):
        keep.pop(key, None)
    return keep | {
        "OPENAI_BASE_URL": f"http://127.0.0.1:{proxy_port}/v1",
        "LLM_MODEL": ALIAS,
        "LOG_FORMAT": "json",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "RESEARCH_TASK_QUEUE": "local-model-check",
        "DATABASE_URL": f"sqlite:///{work / 'archive.db'}",
        "SEARCH_PROVIDER": "local",
    }


def payload(data: dict[str, Any]) -> Any:
    return [json.loads(base64.b64decode(p["data"])) for p in (data or {}).get("payloads", [])]


def history_facts(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Searches, model calls, attempts and timeouts, as Temporal recorded them."""
    scheduled: dict[str, str] = {}
    searches: list[str] = []
    retried: list[str] = []
    failures: list[str] = []
    calls: Counter[str] = Counter()
    for event in events:
        if attrs := event.get("activityTaskScheduledEventAttributes"):
            name = attrs["activityType"]["name"]
            scheduled[event["eventId"]] = name
            calls[name] += 1
            if name == "search":
                searches += [item["query"] for item in payload(attrs.get("input"))]
        elif attrs := event.get("activityTaskStartedEventAttributes"):
            name = scheduled.get(attrs["scheduledEventId"], "?")
            if attrs.get("attempt", 1) > 1:
                last = (attrs.get("lastFailure") or {}).get("message", "")
                retried.append(f"{name}: {attrs['attempt']} attempts (last failure: {last[:120]})")
        elif (attrs := event.get("activityTaskTimedOutEventAttributes")) or (
            attrs := event.get("activityTaskFailedEventAttributes")
        ):
            name = scheduled.get(attrs["scheduledEventId"], "?")
            failures.append(f"{name}: {attrs.get('failure', {}).get('message', '')[:160]}")
    return {"searches": searches, "retried": retried, "failed": failures, "activities": dict(calls)}


def log_events(*logs: Path) -> Counter[str]:
    """Warnings and errors in the run's JSON log, by event name."""
    seen: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("level") in ("warning", "error", "critical"):
                seen[str(event.get("event"))[:80]] += 1
    return seen


def speeds(server_log: Path) -> str:
    """Prompt reading and generation speeds from the llama.cpp server's own timings, over calls of 100+ tokens
    (a short prompt found in the server's cache reads at an absurd rate)."""
    found: dict[str, list[float]] = {"reading the prompt": [], "generating": []}
    timing = r"(prompt eval|eval) time = +([\d.]+) ms / +(\d+) (?:tokens|runs)"
    for kind, ms, count in re.findall(timing, server_log.read_text(errors="replace")):
        if int(count) >= 100:
            found["generating" if kind == "eval" else "reading the prompt"].append(int(count) / float(ms) * 1000)
    return ", ".join(f"{kind} {min(r):.0f}–{max(r):.0f} tokens/s" for kind, r in found.items() if r)


def outcome_of(output: str, returncode: int) -> tuple[str, bool]:
    """What the run ended with, and whether that is acceptable: a report or draft, or a decline that says so."""
    ended = re.search(r"^=== (\w+) ===$", output, re.M)
    drafts = list(re.finditer(r"^=== Draft, round \d+ ===$", output, re.M))
    if returncode != 0 or not (ended or drafts):
        return f"failed (exit {returncode})", False
    if ended:
        how, body = ended.group(1).lower(), output[ended.end() :]
    else:  # --approve was refused (a draft that failed its checks): the run waits for a person
        how, body = "a draft left waiting for a decision", output[drafts[-1].end() :]
    words = len(body.split("Sources:")[0].split())
    if DECLINE in body.split("Sources:")[0]:
        return f"{how}: a clear decline", True
    failed = re.search(r"^This draft failed its checks: (.*)$", body, re.M)
    return f"{how}: {words} words" + (f"; its checks failed: {failed.group(1)}" if failed else ""), True


def drive(args: argparse.Namespace) -> int:
    work = ROOT / ".cache" / "local-model" / "runs" / time.strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True)
    model_port, proxy_port, temporal_port, ui_port = (free_port() for _ in range(4))
    record = work / "prompts.jsonl"
    record.touch()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        server_log = work / "llama-server.log"
        processes.append(
            start(
                [args.server_python, "-m", "llama_cpp.server", "--model", args.model, "--model_alias", ALIAS,
                 "--n_ctx", str(args.n_ctx), "--host", "127.0.0.1", "--port", str(model_port)],
                server_log,
            )
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{model_port}/v1/models", processes[-1], 180, server_log)
        proxy_log = work / "proxy.log"
        processes.append(
            start(
                [args.server_python, __file__, "proxy", "--port", str(proxy_port), "--upstream", str(model_port),
                 "--model", args.model, "--record", str(record)],
                proxy_log,
            )
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{proxy_port}/v1/models", processes[-1], 60, proxy_log)
        temporal_log = work / "temporal.log"
        processes.append(
            start(
                [str(VENV_BIN / "researchbot"), "server", "--port", str(temporal_port), "--ui-port", str(ui_port)],
                temporal_log,
                cwd=work,
            )
        )
        wait_for_line(processes[-1], temporal_log, "Temporal at", 60)

        env = run_env(work, proxy_port, temporal_port)
        print(f"running: researchbot ask {args.question!r} --approve  (logs in {work})", flush=True)
        began = time.monotonic()
        with (work / "ask.out").open("wb") as out, (work / "ask.log").open("wb") as err:
            ask = subprocess.run(
                [str(VENV_BIN / "researchbot"), "ask", args.question, "--approve"],
                stdout=out, stderr=err, cwd=work, env=env, timeout=RUN_LIMIT_SECONDS, check=False,
            )  # fmt: skip
        wall = time.monotonic() - began
        output = (work / "ask.out").read_text(errors="replace")
        started = re.search(r"Started run (\S+)", output)
        history: dict[str, Any] = {"searches": [], "retried": [], "failed": [], "activities": {}}
        if started:
            shown = subprocess.run(
                [str(VENV_BIN / "temporal"), "workflow", "show", "-w", started.group(1),
                 "--address", env["TEMPORAL_ADDRESS"], "--output", "json"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            (work / "history.json").write_text(shown.stdout)
            history = history_facts(json.loads(shown.stdout or "{}").get("events", []))
            archived = subprocess.run(
                [str(VENV_BIN / "researchbot"), "show", started.group(1)],
                capture_output=True, text=True, cwd=work, env=env, check=False,
            )  # fmt: skip
            (work / "show.out").write_text(archived.stdout + archived.stderr)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGINT)  # Ctrl-C: `researchbot server` then stops its Temporal too
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return report(args, work, wall, ask.returncode, output, record, history)


def report(
    args: argparse.Namespace,
    work: Path,
    wall: float,
    returncode: int,
    output: str,
    record: Path,
    history: dict[str, Any],
) -> int:
    calls = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    prompts = [c for c in calls if "prompt_tokens" in c]
    over = [c for c in prompts if c["prompt_tokens"] >= args.n_ctx or c.get("server_counted")]
    junk = [q for q in history["searches"] if MARKUP.search(q) or q.count('"') % 2 or len(q) > 200]
    outcome, ended_well = outcome_of(output, returncode)
    warnings = log_events(work / "ask.log", work / "ask.out")

    minutes, seconds = divmod(round(wall), 60)
    lines = [f"wall time: {minutes} min {seconds:02d} s (researchbot ask, model server already up)"]
    lines.append(f"model calls: {len(prompts)}; window {args.n_ctx} tokens; prompt tokens, largest first:")
    for c in sorted(prompts, key=lambda c: -c["prompt_tokens"]):
        flags = [
            "OVER THE WINDOW" if c in over else "",
            f"HTTP {c['status']}" if c.get("status") != 200 else "",
            "ResearchBot stopped waiting" if c.get("client_gone") else "",
            "empty reply" if c.get("reply_chars") == 0 else "",
        ]
        lines.append(
            f"  {c['prompt_tokens']:>6} tokens ({100 * c['prompt_tokens'] / args.n_ctx:.0f}% of the window), "
            f"first data {c.get('first_data_seconds', '-')} s, {c['seconds']} s, "
            f"{c.get('reply_chars', 0)} chars  {' '.join(f for f in flags if f)}".rstrip()
        )
    lines.append(f"the model server: {speeds(work / 'llama-server.log') or 'no timings in its log'}")
    lines.append(f"searches made ({len(history['searches'])}):")
    lines += [f"  {'JUNK ' if q in junk else '     '}{q!r}" for q in history["searches"]]
    lines.append(f"activities scheduled: {history['activities']}")
    lines.append(f"retried activities: {history['retried'] or 'none'}")
    lines.append(f"failed or timed-out activities: {history['failed'] or 'none'}")
    gone = sum(1 for c in prompts if c.get("client_gone"))
    lines.append(f"model calls ResearchBot gave up on (its timeout): {gone}")
    lines.append(f"warnings in the run's log: {dict(warnings) or 'none'}")
    lines.append(f"outcome: {outcome}")
    verdict = []
    if over:
        verdict.append(f"{len(over)} prompt(s) over the window")
    if junk:
        verdict.append(f"{len(junk)} junk quer{'y' if len(junk) == 1 else 'ies'} searched")
    if not ended_well:
        verdict.append("the run failed without a clear decline")
    lines.append(f"verdict: {'FAIL: ' + '; '.join(verdict) if verdict else 'PASS'}  (logs: {work})")
    text = "\n".join(lines)
    print(text)
    (work / "summary.txt").write_text(text + "\n")
    return 1 if verdict else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["drive", "proxy"], default="drive")
    parser.add_argument("--model", required=True, help="the .gguf file")
    parser.add_argument("--server-python", help="the model venv's python (drive)")
    parser.add_argument("--n-ctx", type=int, default=int(os.environ.get("N_CTX", 8192)))
    parser.add_argument("--question", default=os.environ.get("QUESTION", QUESTION))
    parser.add_argument("--port", type=int, help="(proxy) where to listen")
    parser.add_argument("--upstream", type=int, help="(proxy) the model server's port")
    parser.add_argument("--record", type=Path, help="(proxy) one JSON line per request")
    args = parser.parse_args()
    if args.mode == "proxy":
        serve_proxy(args.port, args.upstream, args.model, args.record)
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
