/* A streamed message (chat.startStream, appendStream, stopStream) as HTML: its plan title, one card
 * per task id (the latest task_update of each, with its sources), and the markdown streamed so far.
 * While it streams, the message says so; the page refetches on every append, so the cards move live. */
import { esc } from "./html.js";
import { mrkdwn } from "./mrkdwn.js";
import { blocksHtml } from "./blockkit.js";

const MARKS = { pending: "○", in_progress: "◌", complete: "✓", error: "✗" };

function taskHtml(task) {
  const status = MARKS[task.status] ? task.status : "pending";
  const sources = (task.sources || []).filter((s) => /^https?:/i.test(s.url || ""))
    .map((s) => `<a class="task-source" href="${esc(s.url)}" target="_blank" rel="noopener noreferrer">${esc(s.text || s.url)}</a>`)
    .join("");
  return `<div class="task-card ${status}" data-testid="task-card" data-task-id="${esc(task.id)}" data-status="${status}">`
    + `<span class="task-mark">${MARKS[status]}</span><div class="task-body">`
    + `<div class="task-title">${esc(task.title)}</div>`
    + (task.details ? `<div class="task-details">${esc(task.details)}</div>` : "")
    + (task.output ? `<div class="task-output">${esc(task.output)}</div>` : "")
    + (sources ? `<div class="task-sources" data-testid="task-sources">${sources}</div>` : "")
    + `</div></div>`;
}

export function streamHtml(m, where) {
  const stream = m.stream;
  const tasks = new Map();
  let title = "";
  for (const chunk of stream.chunks || []) {
    if (chunk.type === "task_update") tasks.set(chunk.id, { ...(tasks.get(chunk.id) || {}), ...chunk });
    else if (chunk.type === "plan_update") title = chunk.title;
  }
  const live = stream.state === "streaming";
  let html = `<div class="stream ${live ? "live" : "stopped"}" data-testid="stream" data-state="${esc(stream.state)}">`;
  if (tasks.size || title) {
    html += `<div class="plan" data-mode="${esc(stream.task_display_mode || "timeline")}">`
      + (title ? `<div class="plan-title" data-testid="plan-title">${esc(title)}</div>` : "")
      + [...tasks.values()].map(taskHtml).join("") + `</div>`;
  }
  if (m.text) html += `<div class="mrkdwn">${mrkdwn(m.text)}</div>`;
  if (m.blocks && m.blocks.length) html += blocksHtml(m.blocks, where);
  if (live) html += `<div class="stream-live" data-testid="stream-live">Streaming…</div>`;
  return html + `</div>`;
}
