/* The page drawn from S: the sidebar, the channel, the open thread and, through modals.js, the modal.
 * A pane is repainted only when its HTML changed, so scroll positions survive a refresh. */
import { S, currentChannel, ephemeralsIn, isTopLevel, repliesOf, userName } from "./state.js";
import { $ } from "./dom.js";
import { ICONS, avatar, esc } from "./html.js";
import { byTs, listHtml, messageHtml } from "./messages.js";
import { renderCanvas } from "./canvas.js";
import { renderModal } from "./modals.js";

/** Replace a pane's HTML if it changed; keep it scrolled to the bottom if it was there. */
function paint(id, html, forceBottom) {
  const el = $(id);
  if (S.rendered[id] === html && !forceBottom) return;
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  el.innerHTML = html;
  S.rendered[id] = html;
  if (atBottom || forceBottom) el.scrollTop = el.scrollHeight;
}

function renderSidebar() {
  $("workspace-name").textContent = S.state.team.name;
  $("bot-url").textContent = S.state.bot_url;
  $("bot-url").title = `Commands, buttons and modals are sent to ${S.state.bot_url}`;
  const select = $("user-switch");
  const people = S.state.users.filter((u) => !u.is_bot);
  const options = people.map((u) => `<option value="${esc(u.id)}"${u.id === S.me ? " selected" : ""}>${esc(u.real_name || u.name)}</option>`).join("");
  if (select.dataset.options !== options) {
    select.innerHTML = options;
    select.dataset.options = options;
  }
  select.value = S.me;
  $("me-avatar").outerHTML = avatar(S.me, "small").replace("<span ", '<span id="me-avatar" ');
  const list = S.state.channels.filter((c) => !c.is_im).map((c) => {
    const newest = (S.state.messages[c.id] || []).filter(isTopLevel).map((m) => m.ts).pop();
    const unread = c.id !== S.channel && newest && S.seen[c.id] !== undefined && parseFloat(newest) > parseFloat(S.seen[c.id]);
    const cls = [c.id === S.channel ? "active" : "", unread ? "unread" : ""].join(" ").trim();
    return `<li><a class="${cls}" data-kind="channel" data-channel="${esc(c.id)}" data-testid="channel-${esc(c.name)}">`
      + `<span class="hash">${c.is_private ? ICONS.lock : "#"}</span>${esc(c.name)}</a></li>`;
  }).join("");
  if (S.rendered["channel-list"] !== list) {
    $("channel-list").innerHTML = list;
    S.rendered["channel-list"] = list;
  }
  const dm = S.state.channels.find((c) => c.is_im);
  document.querySelector('[data-kind="open-dm"]').classList.toggle("active", Boolean(dm && dm.id === S.channel));
}

/** The DM pane's suggested prompts over the composer (assistant.threads.setSuggestedPrompts). */
function renderPrompts(channel) {
  const pane = channel.is_im && S.state.panes ? S.state.panes[channel.id] : null;
  const offered = pane && pane.prompts;
  const html = offered
    ? `<span class="prompts-title">${esc(offered.title || "Suggested")}</span>`
      + offered.prompts.map((p) => `<button type="button" class="prompt" data-kind="prompt" data-message="${esc(p.message)}"`
        + ` title="${esc(p.message)}">${esc(p.title)}</button>`).join("")
    : "";
  const el = $("pane-prompts");
  el.hidden = !html;
  if (S.rendered["pane-prompts"] !== html) { el.innerHTML = html; S.rendered["pane-prompts"] = html; }
}

/** "ResearchBot is researching…" under a thread the bot set a status on (assistant.threads.setStatus). */
function statusLine(channel, ts) {
  const pane = S.state.panes ? S.state.panes[channel] : null;
  const status = pane && pane.status[ts];
  return status ? `<div class="pane-status" data-testid="pane-status"><span class="dots"></span>`
    + `${esc(userName(S.state.bot_user_id))} ${esc(status)}</div>` : "";
}

function renderChannel(forceBottom) {
  const channel = currentChannel();
  if (!channel) return;
  S.channel = channel.id;
  const bot = userName(S.state.bot_user_id);
  $("channel-title").innerHTML = channel.is_im ? esc(bot) : `${channel.is_private ? ICONS.lock : "#"} ${esc(channel.name)}`;
  const members = channel.is_member ? "" : " · you are not a member";
  $("channel-meta").textContent = channel.is_im
    ? `Viewing as ${userName(S.me)} · each message is a question; the answer comes in its thread`
    : `Viewing as ${userName(S.me)}${members}`;
  $("composer-input").placeholder = channel.is_im ? `Message ${bot}` : `Message #${channel.name}`;
  renderPrompts(channel);
  const messages = (S.state.messages[channel.id] || []).filter(isTopLevel);
  const items = [...messages, ...ephemeralsIn(channel.id, null)].sort(byTs);
  const intro = channel.is_im
    ? `<div class="empty-channel"><h3>${esc(bot)}</h3>Ask a question here, or pick a suggestion below: `
      + `${esc(bot)} researches it and answers in the message's thread.</div>`
    : `<div class="empty-channel"><h3>#${esc(channel.name)}</h3>This is the very beginning of the `
      + `<b>#${esc(channel.name)}</b> channel. Try <code>/research</code> followed by a question, `
      + `or mention <code>@researchbot</code> with one.</div>`;
  const statuses = messages.map((m) => m.ts).filter((ts) => statusLine(channel.id, ts)).map((ts) => statusLine(channel.id, ts));
  paint("messages", intro + listHtml(items, channel.id, false) + statuses.join(""), forceBottom);
  const newest = messages.map((m) => m.ts).pop();
  if (newest) S.seen[channel.id] = newest;
  for (const c of S.state.channels) {
    if (S.seen[c.id] === undefined) S.seen[c.id] = (S.state.messages[c.id] || []).map((m) => m.ts).pop() || "0";
  }
}

function renderThread(forceBottom) {
  const pane = $("thread");
  if (!S.thread) { pane.hidden = true; return; }
  const { channel, ts } = S.thread;
  const parent = (S.state.messages[channel] || []).find((m) => m.ts === ts);
  if (!parent) { S.thread = null; pane.hidden = true; return; }
  pane.hidden = false;
  const ch = S.state.channels.find((c) => c.id === channel);
  $("thread-channel").textContent = ch ? (ch.is_im ? userName(S.state.bot_user_id) : `#${ch.name}`) : "";
  const replies = [...repliesOf(channel, ts), ...ephemeralsIn(channel, ts)].sort(byTs);
  const divider = replies.length
    ? `<div class="thread-replies-divider">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>` : "";
  const html = messageHtml(parent, { channel, previous: null, inThread: true }) + divider
    + replies.map((m, n) => messageHtml(m, { channel, previous: n ? replies[n - 1] : null, inThread: true })).join("")
    + statusLine(channel, ts);
  paint("thread-messages", html, forceBottom);
}

export function render(opts = {}) {
  if (!S.state) return;
  S.users = Object.fromEntries(S.state.users.map((u) => [u.id, u]));
  $("app").dataset.me = S.state.me;  // whose state is drawn: tests wait on #app[data-me=...]
  renderSidebar();
  renderChannel(opts.channelBottom);
  renderThread(opts.threadBottom);
  renderCanvas();
  renderModal();
}
