/* Requests to the sandbox server: a JSON POST that always resolves to a Slack-style {ok, error}
 * answer, and the errors that mean the bot, not the sandbox, failed. Each POST carries the token
 * the server wrote into this page (<meta name="sandbox-token">); without it the server refuses. */

export const BOT_ERRORS = ["operation_timeout", "dispatch_failed", "http_service_error"];

const TOKEN = document.querySelector('meta[name="sandbox-token"]')?.content ?? "";

export function api(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Sandbox-Token": TOKEN },
    body: JSON.stringify(body),
  }).then((r) => r.json()).catch((e) => ({ ok: false, error: "sandbox_unreachable", detail: String(e) }));
}
