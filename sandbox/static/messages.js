/* One message as HTML (author, body, ephemeral label, thread summary), and a list of them by day. */
import { S, isTopLevel, repliesOf, userName } from "./state.js";
import { ICONS, avatar, dayOf, esc, timeOf, tsDate } from "./html.js";
import { mrkdwn } from "./mrkdwn.js";
import { blocksHtml } from "./blockkit.js";
import { streamHtml } from "./stream.js";

export function messageHtml(m, opts) {
  const { channel, previous, inThread } = opts;
  const ephemeral = Boolean(m.ephemeral);
  const slackbot = ephemeral && m.username === "Slackbot";
  const author = ephemeral ? (slackbot ? "slackbot" : S.state.bot_user_id) : m.user;
  const isBot = author === S.state.bot_user_id;
  const continued = previous && !ephemeral && !previous.ephemeral && previous.user === m.user
    && parseFloat(m.ts) - parseFloat(previous.ts) < 300 && dayOf(m.ts) === dayOf(previous.ts);
  const name = slackbot ? "Slackbot" : userName(author);
  const where = ephemeral ? { channel, "ephemeral-ts": m.ts } : { channel, ts: m.ts };
  const body = m.stream ? streamHtml(m, where)
    : m.blocks && m.blocks.length ? blocksHtml(m.blocks, where) : `<div class="mrkdwn">${mrkdwn(m.text)}</div>`;
  const cls = ["message"];
  if (continued) cls.push("continued");
  if (ephemeral) cls.push("ephemeral");
  if (slackbot) cls.push("slackbot-error");
  let html = `<div class="${cls.join(" ")}" data-ts="${esc(m.ts)}" data-channel="${esc(channel)}" data-testid="message">`;
  html += `<div class="gutter">${continued ? `<span class="hover-time">${esc(timeOf(m.ts))}</span>` : avatar(author, "", slackbot)}</div>`;
  html += `<div class="content">`;
  if (ephemeral) {
    html += `<div class="ephemeral-label" data-testid="ephemeral-label">${ICONS.eye}Only visible to you`
      + `<button type="button" class="link-button" data-kind="dismiss" data-ts="${esc(m.ts)}">Dismiss</button></div>`;
  }
  if (!continued) {
    html += `<div class="meta"><span class="author">${esc(name)}</span>${isBot ? `<span class="app-badge">APP</span>` : ""}`
      + `<span class="time" title="${esc(tsDate(m.ts).toLocaleString())}">${esc(timeOf(m.ts))}</span></div>`;
  }
  // Slack marks a person's edits; an app's chat.update is shown without a mark.
  const edited = m.edited && !isBot ? `<span class="edited">(edited)</span>` : "";
  html += `<div class="body">${body}${edited}</div>`;
  // Files shared with files.completeUploadExternal (sandbox/files.py): a card each, as Slack shows them.
  for (const f of m.files || []) {
    html += `<div class="file-card" data-testid="file">📄 <span class="file-title">${esc(f.title || f.name)}</span>`
      + `<span class="file-meta">${esc(f.name)} · ${esc(Math.max(1, Math.round((f.size || 0) / 1024)))} KB</span></div>`;
  }
  if (slackbot && m.detail) html += `<div class="error-detail">${esc(m.detail)}</div>`;
  if (S.actionErrors[m.ts]) html += `<div class="action-error" data-testid="action-error">⚠️ ${esc(S.actionErrors[m.ts])}</div>`;
  if (!inThread && !ephemeral && isTopLevel(m)) {
    const replies = repliesOf(channel, m.ts);
    if (replies.length) {
      const faces = [...new Set(replies.map((r) => r.user))].slice(0, 4).map((u) => avatar(u, "tiny")).join("");
      const last = replies[replies.length - 1];
      html += `<button type="button" class="thread-summary" data-kind="open-thread" data-ts="${esc(m.ts)}">`
        + `<span class="faces">${faces}</span><span class="replies">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</span>`
        + `<span class="last-reply">Last reply ${esc(dayOf(last.ts) === "Today" ? "today at " + timeOf(last.ts) : dayOf(last.ts))}</span></button>`;
    }
  }
  html += `</div>`;
  if (!inThread && !ephemeral && isTopLevel(m)) {
    html += `<div class="hover-actions"><button type="button" data-kind="open-thread" data-ts="${esc(m.ts)}">${ICONS.reply}Reply in thread</button></div>`;
  }
  return html + `</div>`;
}

export function listHtml(items, channel, inThread) {
  let html = "";
  let previous = null;
  for (const m of items) {
    if (!previous || dayOf(previous.ts) !== dayOf(m.ts)) {
      html += `<div class="day-divider"><span>${esc(dayOf(m.ts))}</span></div>`;
      previous = null;
    }
    html += messageHtml(m, { channel, previous, inThread });
    previous = m;
  }
  return html;
}

export function byTs(a, b) { return parseFloat(a.ts) - parseFloat(b.ts); }
