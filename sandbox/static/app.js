/* The sandbox page: renders what GET /sandbox/state says one person sees, refetches it on every
 * server-sent event, and sends commands, button clicks and modal submissions to the sandbox
 * server, which signs them and passes them to the bot as Slack would. Plain JS, no build step. */
"use strict";

const S = {
  me: null,            // the user id the page shows Slack as
  channel: null,       // the channel shown
  thread: null,        // {channel, ts} of the open thread, or null
  state: null,         // the last GET /sandbox/state answer
  users: {},           // id -> user
  events: null,        // the EventSource
  refreshTimer: null,
  refreshing: false,
  refreshAgain: false,
  modalKey: null,      // what the rendered modal shows: id, hash, errors
  modalBanner: "",
  actionErrors: {},    // message ts -> error text shown under it
  seen: {},            // channel id -> newest ts seen there
  rendered: {},        // pane id -> last HTML, to leave unchanged panes alone
};

const $ = (id) => document.getElementById(id);
const COMMAND_USAGE = { "/research": "[question] | status | help" };  // manifest.yml's usage_hint
const BOT_ERRORS = ["operation_timeout", "dispatch_failed", "http_service_error"];

// ------------------------------------------------------------------ helpers

function esc(text) {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** Slack's three escapes (&amp; &lt; &gt;) back to characters. */
function unslack(text) {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// Icons drawn inline, so the page needs no emoji font of its own.
const ICONS = {
  eye: `<svg class="icon" viewBox="0 0 20 20" aria-hidden="true"><path d="M10 4C5.5 4 2.3 7.4 1.2 10c1.1 2.6 4.3 6 8.8 6s7.7-3.4 8.8-6C17.7 7.4 14.5 4 10 4zm0 10a4 4 0 1 1 0-8 4 4 0 0 1 0 8zm0-6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z" fill="currentColor"/></svg>`,
  reply: `<svg class="icon" viewBox="0 0 20 20" aria-hidden="true"><path d="M3 4.5A1.5 1.5 0 0 1 4.5 3h11A1.5 1.5 0 0 1 17 4.5v8a1.5 1.5 0 0 1-1.5 1.5H8l-4 3v-3h.5A1.5 1.5 0 0 1 3 12.5z" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"/></svg>`,
  lock: `<svg class="icon" viewBox="0 0 20 20" aria-hidden="true"><path d="M6 8V6a4 4 0 1 1 8 0v2h1a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1zm2 0h4V6a2 2 0 1 0-4 0z" fill="currentColor"/></svg>`,
};

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", hourglass: "⌛",
  hourglass_flowing_sand: "⏳", mag: "🔍", mag_right: "🔎", tada: "🎉", memo: "📝", robot_face: "🤖",
  thumbsup: "👍", "+1": "👍", eyes: "👀", no_entry_sign: "🚫", pencil2: "✏️", alarm_clock: "⏰",
  books: "📚", link: "🔗", rocket: "🚀", wave: "👋", bulb: "💡", question: "❓", sparkles: "✨",
};

function emoji(html) {
  return html.replace(/:([a-z0-9_+\-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function api(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.json()).catch((e) => ({ ok: false, error: "sandbox_unreachable", detail: String(e) }));
}

function userName(id) {
  const user = S.users[id];
  return user ? (user.real_name || user.name) : id;
}

function initials(id) {
  const name = userName(id) || "?";
  return name.trim().charAt(0).toUpperCase();
}

const AVATAR_COLORS = ["#e8912d", "#2bac76", "#4a154b", "#1264a3", "#e01e5a", "#9b59b6", "#16a085"];

function avatarColor(id) {
  let n = 0;
  for (const c of String(id)) n = (n * 31 + c.charCodeAt(0)) >>> 0;
  return AVATAR_COLORS[n % AVATAR_COLORS.length];
}

function avatar(id, size, slackbot) {
  const cls = `avatar${size ? " " + size : ""}`;
  if (slackbot) return `<span class="${cls} slackbot" aria-hidden="true">S</span>`;
  if (S.state && id === S.state.bot_user_id) return `<span class="${cls} bot" aria-hidden="true">R</span>`;
  return `<span class="${cls}" style="background:${avatarColor(id)}" aria-hidden="true">${esc(initials(id))}</span>`;
}

function tsDate(ts) { return new Date(parseFloat(ts) * 1000); }

function timeOf(ts) {
  return tsDate(ts).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

function dayOf(ts) {
  const d = tsDate(ts);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
}

let toastTimer = null;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// ------------------------------------------------------------------ mrkdwn

function slackDate(inner) {
  // !date^<seconds>^<format>[^<link>]|<fallback>
  const bar = inner.indexOf("|");
  const spec = bar >= 0 ? inner.slice(0, bar) : inner;
  const fallback = bar >= 0 ? inner.slice(bar + 1) : "";
  const [, seconds, format] = spec.split("^");
  const d = new Date(Number(seconds) * 1000);
  if (!format || isNaN(d.getTime())) return esc(unslack(fallback));
  const pretty = (long) => {
    const day = dayOf(Number(seconds));
    if (day === "Today" || day === "Yesterday") return day;
    return d.toLocaleDateString([], long ? { month: "long", day: "numeric", year: "numeric" } : { month: "short", day: "numeric" });
  };
  const parts = {
    date_num: d.toISOString().slice(0, 10),
    date: d.toLocaleDateString([], { month: "long", day: "numeric", year: "numeric" }),
    date_short: d.toLocaleDateString([], { month: "short", day: "numeric", year: "numeric" }),
    date_long: d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric", year: "numeric" }),
    date_pretty: pretty(true), date_short_pretty: pretty(false), date_long_pretty: pretty(true),
    time: d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
    time_secs: d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit", second: "2-digit" }),
  };
  return esc(format.replace(/\{(\w+)\}/g, (whole, key) => parts[key] ?? whole));
}

/** One <...> token of mrkdwn: a link, a user, a channel, a broadcast or a date. */
function token(inner) {
  const bar = inner.indexOf("|");
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : "";
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const me = id === S.me ? " me" : "";
    const name = S.users[id] ? userName(id) : (label.replace(/^@/, "") || id);
    return `<span class="mention${me}" data-user="${esc(id)}">@${esc(name)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const channel = (S.state?.channels || []).find((c) => c.id === id);
    const name = channel ? channel.name : (label || id);
    return `<a class="channel-link" data-channel="${esc(id)}">#${esc(unslack(name))}</a>`;
  }
  if (target.startsWith("!")) {
    if (target.startsWith("!date^")) return slackDate(inner.slice(1));
    if (target.startsWith("!subteam^")) return `<span class="mention">${esc(unslack(label || "@team"))}</span>`;
    return `<span class="mention broadcast">@${esc(target.slice(1))}</span>`;
  }
  const url = unslack(target);
  const text = label ? unslack(label) : url.replace(/^mailto:/, "");
  if (/^(https?:|mailto:)/i.test(url)) {
    return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(text)}</a>`;
  }
  return esc(text);
}

/** Slack mrkdwn as HTML: links and mentions, *bold* _italic_ ~strike~, `code`, ```blocks```,
 * > quotes, bullet and numbered lines; &amp; &lt; &gt; shown as the characters they stand for. */
function mrkdwn(text) {
  if (!text) return "";
  const holes = [];
  const hold = (html) => `\u0000${holes.push(html) - 1}\u0000`;
  let s = String(text).replace(/\u0000/g, "");
  s = s.replace(/```\n?([\s\S]*?)```/g, (_, code) => hold(`<pre>${esc(unslack(code.replace(/\n$/, "")))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${esc(unslack(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (_, inner) => hold(token(inner)));
  s = emoji(esc(unslack(s)));
  s = s.replace(/(?<![\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])/g, "<b>$1</b>");
  s = s.replace(/(?<![\w_])_(?=[^\s_])([^_\n]*?[^\s_])_(?![\w_])/g, "<i>$1</i>");
  s = s.replace(/(?<![\w~])~(?=[^\s~])([^~\n]*?[^\s~])~(?![\w~])/g, "<s>$1</s>");
  const lines = s.split("\n").map((line) => {
    let m;
    if ((m = line.match(/^&gt; ?(.*)$/))) return `<div class="line quote">${m[1]}</div>`;
    if ((m = line.match(/^(\s*)([•◦▪▸\-]|\d+[.)])\s+(.*)$/))) {
      const depth = m[1].replace(/\t/g, "    ").length;
      const bullet = m[2] === "-" ? (depth ? "◦" : "•") : m[2];
      return `<div class="line li" style="padding-left:${Math.min(depth, 12) * 6}px"><span class="bullet">${bullet}</span><span>${m[3]}</span></div>`;
    }
    return `<div class="line">${line}</div>`;
  });
  return lines.join("").replace(/\u0000(\d+)\u0000/g, (_, n) => holes[Number(n)]);
}

function textObject(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return `<div class="mrkdwn">${mrkdwn(obj.text)}</div>`;
  const html = esc(obj.text).replace(/\n/g, "<br>");
  return obj.emoji === false ? html : emoji(html);
}

// ------------------------------------------------------------------ Block Kit

/** Blocks with the block_id Slack would give those that have none, as the server does. */
function withBlockIds(blocks) {
  return (blocks || []).map((b, n) => ({ ...b, block_id: b.block_id || `b${n}` }));
}

function buttonHtml(el, where) {
  const style = el.style === "primary" ? " primary" : el.style === "danger" ? " danger" : "";
  const label = textObject(el.text);
  if (el.url && /^(https?:|mailto:)/i.test(el.url)) {
    return `<a class="sk-button${style}" href="${esc(el.url)}" target="_blank" rel="noopener noreferrer">${label}</a>`;
  }
  const attrs = Object.entries(where).map(([k, v]) => `data-${k}="${esc(v)}"`).join(" ");
  return `<button type="button" class="sk-button${style}" data-kind="action" data-action-id="${esc(el.action_id)}" ${attrs}>${label}</button>`;
}

function elementHtml(el, where) {
  if (!el) return "";
  if (el.type === "button") return buttonHtml(el, where);
  if (el.type === "image") return `<img src="${esc(el.image_url)}" alt="${esc(el.alt_text)}">`;
  return `<span class="unsupported-element">[${esc(el.type)} is not shown in the sandbox]</span>`;
}

function richText(block) {
  const inline = (el) => {
    if (el.type === "text") {
      let html = esc(el.text).replace(/\n/g, "<br>");
      const st = el.style || {};
      if (st.code) html = `<code>${html}</code>`;
      if (st.bold) html = `<b>${html}</b>`;
      if (st.italic) html = `<i>${html}</i>`;
      if (st.strike) html = `<s>${html}</s>`;
      return html;
    }
    if (el.type === "link") return `<a href="${esc(el.url)}" target="_blank" rel="noopener noreferrer">${esc(el.text || el.url)}</a>`;
    if (el.type === "user") return token("@" + el.user_id);
    if (el.type === "channel") return token("#" + el.channel_id);
    if (el.type === "emoji") return emoji(`:${esc(el.name)}:`);
    return "";
  };
  const part = (el) => {
    const inner = (el.elements || []).map((e) => (e.type && e.type.startsWith("rich_text_") ? part(e) : inline(e))).join("");
    if (el.type === "rich_text_preformatted") return `<pre>${inner}</pre>`;
    if (el.type === "rich_text_quote") return `<div class="line quote">${inner}</div>`;
    if (el.type === "rich_text_list") return (el.elements || []).map((e) => `<div class="line li"><span class="bullet">•</span><span>${part(e)}</span></div>`).join("");
    return inner;
  };
  return `<div class="block rich_text mrkdwn">${part(block)}</div>`;
}

function blockHtml(block, where) {
  const here = { ...where, "block-id": block.block_id };
  switch (block.type) {
    case "section": {
      const fields = (block.fields || []).map((f) => `<div>${textObject(f)}</div>`).join("");
      return `<div class="block section"><div class="section-text">${textObject(block.text)}`
        + `${fields ? `<div class="fields">${fields}</div>` : ""}</div>`
        + `${block.accessory ? `<div class="accessory">${elementHtml(block.accessory, here)}</div>` : ""}</div>`;
    }
    case "context":
      return `<div class="block context">${(block.elements || []).map((e) => (e.type === "image"
        ? `<img src="${esc(e.image_url)}" alt="${esc(e.alt_text)}">` : `<span>${textObject(e)}</span>`)).join("")}</div>`;
    case "divider":
      return `<hr class="block divider">`;
    case "header":
      return `<div class="block header">${textObject(block.text)}</div>`;
    case "actions":
      return `<div class="block actions">${(block.elements || []).map((e) => elementHtml(e, here)).join("")}</div>`;
    case "image":
      return `<figure class="block image">${block.title ? `<figcaption>${textObject(block.title)}</figcaption>` : ""}`
        + `<img src="${esc(block.image_url)}" alt="${esc(block.alt_text)}"></figure>`;
    case "rich_text":
      return richText(block);
    case "markdown":
      return `<div class="block mrkdwn">${mrkdwn(block.text)}</div>`;
    default:
      return `<div class="block unsupported">[a ${esc(block.type)} block, not shown in the sandbox]</div>`;
  }
}

function blocksHtml(blocks, where) {
  return withBlockIds(blocks).map((b) => blockHtml(b, where)).join("");
}

// ------------------------------------------------------------------ messages

function isTopLevel(m) {
  return !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast";
}

function repliesOf(channel, ts) {
  return (S.state.messages[channel] || []).filter((m) => m.thread_ts === ts && m.ts !== ts);
}

function messageHtml(m, opts) {
  const { channel, previous, inThread } = opts;
  const ephemeral = Boolean(m.ephemeral);
  const slackbot = ephemeral && m.username === "Slackbot";
  const author = ephemeral ? (slackbot ? "slackbot" : S.state.bot_user_id) : m.user;
  const isBot = author === S.state.bot_user_id;
  const continued = previous && !ephemeral && !previous.ephemeral && previous.user === m.user
    && parseFloat(m.ts) - parseFloat(previous.ts) < 300 && dayOf(m.ts) === dayOf(previous.ts);
  const name = slackbot ? "Slackbot" : userName(author);
  const where = ephemeral ? { channel, "ephemeral-ts": m.ts } : { channel, ts: m.ts };
  const body = m.blocks && m.blocks.length ? blocksHtml(m.blocks, where) : `<div class="mrkdwn">${mrkdwn(m.text)}</div>`;
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

function listHtml(items, channel, inThread) {
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

function byTs(a, b) { return parseFloat(a.ts) - parseFloat(b.ts); }

function ephemeralsIn(channel, threadTs) {
  return S.state.ephemerals
    .filter((e) => e.channel === channel && (threadTs ? e.thread_ts === threadTs : !e.thread_ts))
    .map((e) => ({ ...e, ephemeral: true }));
}

/** Replace a pane's HTML if it changed; keep it scrolled to the bottom if it was there. */
function paint(id, html, forceBottom) {
  const el = $(id);
  if (S.rendered[id] === html && !forceBottom) return;
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  el.innerHTML = html;
  S.rendered[id] = html;
  if (atBottom || forceBottom) el.scrollTop = el.scrollHeight;
}

// ------------------------------------------------------------------ rendering the page

function currentChannel() {
  return S.state.channels.find((c) => c.id === S.channel) || S.state.channels[0];
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
  const list = S.state.channels.map((c) => {
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
}

function renderChannel(forceBottom) {
  const channel = currentChannel();
  if (!channel) return;
  S.channel = channel.id;
  $("channel-title").innerHTML = `${channel.is_private ? ICONS.lock : "#"} ${esc(channel.name)}`;
  const members = channel.is_member ? "" : " · you are not a member";
  $("channel-meta").textContent = `Viewing as ${userName(S.me)}${members}`;
  $("composer-input").placeholder = `Message #${channel.name}`;
  const messages = (S.state.messages[channel.id] || []).filter(isTopLevel);
  const items = [...messages, ...ephemeralsIn(channel.id, null)].sort(byTs);
  const intro = `<div class="empty-channel"><h3>#${esc(channel.name)}</h3>This is the very beginning of the `
    + `<b>#${esc(channel.name)}</b> channel. Try <code>/research</code> followed by a question.</div>`;
  paint("messages", intro + listHtml(items, channel.id, false), forceBottom);
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
  $("thread-channel").textContent = ch ? `#${ch.name}` : "";
  const replies = [...repliesOf(channel, ts), ...ephemeralsIn(channel, ts)].sort(byTs);
  const divider = replies.length
    ? `<div class="thread-replies-divider">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>` : "";
  const html = messageHtml(parent, { channel, previous: null, inThread: true }) + divider
    + replies.map((m, n) => messageHtml(m, { channel, previous: n ? replies[n - 1] : null, inThread: true })).join("");
  paint("thread-messages", html, forceBottom);
}

function render(opts = {}) {
  if (!S.state) return;
  S.users = Object.fromEntries(S.state.users.map((u) => [u.id, u]));
  renderSidebar();
  renderChannel(opts.channelBottom);
  renderThread(opts.threadBottom);
  renderModal();
}

// ------------------------------------------------------------------ modals

function modalValues() {
  const values = {};
  for (const input of $("modal").querySelectorAll("[data-input]")) {
    values[input.dataset.blockId] = values[input.dataset.blockId] || {};
    values[input.dataset.blockId][input.dataset.actionId] = input.value;
  }
  return values;
}

function inputBlockHtml(block, error) {
  const el = block.element || {};
  const id = `input-${block.block_id}-${el.action_id}`;
  const label = `<label for="${esc(id)}">${textObject(block.label)}${block.optional ? ` <span class="optional">(optional)</span>` : ""}</label>`;
  if (el.type !== "plain_text_input") {
    return `<div class="input-block">${label}<div class="unsupported-element">[${esc(el.type)} is not shown in the sandbox]</div></div>`;
  }
  const common = `id="${esc(id)}" data-input data-block-id="${esc(block.block_id)}" data-action-id="${esc(el.action_id)}"`
    + ` data-optional="${block.optional ? "1" : ""}" data-min-length="${el.min_length || 0}"`
    + `${el.max_length ? ` maxlength="${el.max_length}"` : ""}`
    + `${el.placeholder ? ` placeholder="${esc(el.placeholder.text)}"` : ""}`
    + ` aria-invalid="${error ? "true" : "false"}"`;
  const value = esc(el.initial_value || "");
  const field = el.multiline ? `<textarea ${common}>${value}</textarea>` : `<input type="text" ${common} value="${value}">`;
  const hint = block.hint ? `<div class="hint">${textObject(block.hint)}</div>` : "";
  const err = error ? `<div class="field-error" data-testid="field-error">${esc(error)}</div>` : "";
  return `<div class="input-block${error ? " has-error" : ""}">${label}${field}${err}${hint}</div>`;
}

function renderModal() {
  const view = S.state.view;
  const overlay = $("modal-overlay");
  if (!view) {
    overlay.hidden = true;
    S.modalKey = null;
    S.modalBanner = "";
    return;
  }
  const key = JSON.stringify([view.id, view.hash, view.errors, S.modalBanner]);
  if (key === S.modalKey) return;
  const kept = S.modalKey && JSON.parse(S.modalKey)[0] === view.id ? modalValues() : {};
  S.modalKey = key;
  const blocks = withBlockIds(view.blocks).map((b) => (b.type === "input"
    ? inputBlockHtml(b, (view.errors || {})[b.block_id])
    : blockHtml(b, { view: view.id }))).join("");
  const banner = S.modalBanner ? `<div class="modal-banner" data-testid="modal-banner">${esc(S.modalBanner)}</div>` : "";
  $("modal").dataset.viewId = view.id;
  $("modal").innerHTML = `<header class="modal-header"><div class="modal-app">${avatar(S.state.bot_user_id, "small")}`
    + `<h2 id="modal-title">${textObject(view.title)}</h2></div>`
    + `<button type="button" class="icon-button" data-kind="close-modal" aria-label="Close">&times;</button></header>`
    + `<div class="modal-body">${banner}${blocks}</div>`
    + `<footer class="modal-footer"><button type="button" class="sk-button" data-kind="close-modal">${textObject(view.close || { type: "plain_text", text: "Cancel" })}</button>`
    + `${view.submit ? `<button type="submit" class="sk-button primary" data-kind="submit-modal">${textObject(view.submit)}</button>` : ""}</footer>`;
  for (const input of $("modal").querySelectorAll("[data-input]")) {
    const value = (kept[input.dataset.blockId] || {})[input.dataset.actionId];
    if (value !== undefined) input.value = value;
  }
  const wasHidden = overlay.hidden;
  overlay.hidden = false;
  if (wasHidden) {
    const first = $("modal").querySelector("[data-input]");
    if (first) first.focus();
  }
}

function showFieldError(input, text) {
  const block = input.closest(".input-block");
  block.classList.add("has-error");
  let err = block.querySelector(".field-error");
  if (!err) {
    err = document.createElement("div");
    err.className = "field-error";
    err.dataset.testid = "field-error";
    input.after(err);
  }
  err.textContent = text;
}

async function submitModal() {
  const view = S.state && S.state.view;
  if (!view) return;
  let invalid = false;
  for (const input of $("modal").querySelectorAll("[data-input]")) {
    const min = Number(input.dataset.minLength || 0);
    if (!input.dataset.optional && !input.value.trim()) {
      showFieldError(input, "Please complete this required field.");
      invalid = true;
    } else if (input.value && input.value.length < min) {
      showFieldError(input, `Must be at least ${min} characters.`);
      invalid = true;
    }
  }
  if (invalid) return;
  const button = $("modal").querySelector("[data-kind=submit-modal]");
  if (button) { button.disabled = true; button.classList.add("busy"); }
  const res = await api("/sandbox/submit", { user: S.me, view_id: view.id, values: modalValues() });
  if (button) { button.disabled = false; button.classList.remove("busy"); }
  if (!res.ok && res.response_action !== "errors") {
    S.modalBanner = `We had some trouble connecting. Try again? (${res.error}${res.detail ? ": " + res.detail : ""})`;
    S.modalKey = null;
  } else {
    S.modalBanner = "";
  }
  await refresh();
}

async function closeModal() {
  const view = S.state && S.state.view;
  if (!view) return;
  $("modal-overlay").hidden = true;
  S.modalBanner = "";
  const res = await api("/sandbox/close", { user: S.me, view_id: view.id });
  if (!res.ok && res.error !== "view_not_found") toast(`Closing the modal: ${res.error}${res.detail ? " · " + res.detail : ""}`);
  await refresh();
}

// ------------------------------------------------------------------ confirm dialogs

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const box = $("confirm");
    const danger = confirm.style === "danger" ? " danger" : " primary";
    box.innerHTML = `<header class="modal-header"><h2>${textObject(confirm.title || { type: "plain_text", text: "Are you sure?" })}</h2></header>`
      + `<div class="modal-body"><div class="confirm-text">${textObject(confirm.text)}</div></div>`
      + `<footer class="modal-footer"><button type="button" class="sk-button" data-answer="no">${textObject(confirm.deny || { type: "plain_text", text: "Cancel" })}</button>`
      + `<button type="button" class="sk-button${danger}" data-answer="yes">${textObject(confirm.confirm || { type: "plain_text", text: "Yes" })}</button></footer>`;
    const overlay = $("confirm-overlay");
    overlay.hidden = false;
    const done = (answer) => {
      overlay.hidden = true;
      overlay.onclick = null;
      document.removeEventListener("keydown", onKey, true);
      resolve(answer);
    };
    const onKey = (e) => { if (e.key === "Escape") { e.stopPropagation(); done(false); } };
    document.addEventListener("keydown", onKey, true);
    overlay.onclick = (e) => {
      const answer = e.target.closest("[data-answer]");
      if (answer) done(answer.dataset.answer === "yes");
      else if (e.target === overlay) done(false);
    };
    box.querySelector("[data-answer=yes]").focus();
  });
}

// ------------------------------------------------------------------ actions

function findElement(button) {
  const { channel, ts, ephemeralTs, blockId, actionId } = button.dataset;
  const source = ephemeralTs
    ? S.state.ephemerals.find((e) => e.ts === ephemeralTs)
    : (S.state.messages[channel] || []).find((m) => m.ts === ts);
  const block = withBlockIds(source && source.blocks).find((b) => b.block_id === blockId);
  if (!block) return null;
  return [...(block.elements || []), ...(block.accessory ? [block.accessory] : [])].find((e) => e.action_id === actionId) || null;
}

async function clickAction(button) {
  if (button.dataset.view) { toast("Buttons inside modals are not supported by the sandbox."); return; }
  const element = findElement(button);
  if (!element) return;
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  const { channel, ts, ephemeralTs, blockId, actionId } = button.dataset;
  const key = ts || ephemeralTs;
  delete S.actionErrors[key];
  button.disabled = true;
  button.classList.add("busy");
  const res = await api("/sandbox/action", {
    user: S.me, channel, message_ts: ts, ephemeral_ts: ephemeralTs, block_id: blockId, action_id: actionId,
  });
  button.disabled = false;
  button.classList.remove("busy");
  if (!res.ok) {
    S.actionErrors[key] = BOT_ERRORS.includes(res.error)
      ? `ResearchBot didn't respond (${res.error}). ${res.detail || ""}` : `${res.error}${res.detail ? ": " + res.detail : ""}`;
    S.rendered = {};
  }
  await refresh();
}

// ------------------------------------------------------------------ composers

function setStatus(text, error) {
  const el = $("composer-status");
  el.textContent = text || "";
  el.classList.toggle("error", Boolean(error));
}

async function send(text, threadTs) {
  text = text.trim();
  if (!text) return;
  const channel = threadTs ? S.thread.channel : S.channel;
  if (text.startsWith("/")) {
    const name = text.split(/\s/)[0];
    setStatus(`Sending ${name} to ResearchBot…`);
    const res = await api("/sandbox/command", { user: S.me, channel, text });
    // What went wrong with the bot, Slackbot says in the channel; this line is for the sandbox itself.
    if (res.ok || res.error === "invalid_command" || BOT_ERRORS.includes(res.error)) setStatus("");
    else setStatus(`${name} could not be sent: ${res.error}${res.detail ? " · " + res.detail : ""}`, true);
  } else {
    const res = await api("/sandbox/message", { user: S.me, channel, text, thread_ts: threadTs || undefined });
    if (!res.ok) setStatus(`Could not send the message: ${res.error}`, true);
  }
  await refresh({ channelBottom: !threadTs, threadBottom: Boolean(threadTs) });
}

function autosize(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = Math.min(textarea.scrollHeight, 200) + "px";
}

function renderCommandHint() {
  const input = $("composer-input");
  const hint = $("command-hint");
  const text = input.value;
  const commands = (S.state && S.state.commands) || [];
  const typed = text.startsWith("/") && !/\s/.test(text) ? commands.filter((c) => c.startsWith(text)) : [];
  if (!typed.length) { hint.hidden = true; return; }
  hint.innerHTML = `<div class="hint-title">Commands matching “${esc(text)}”</div>`
    + typed.map((c, n) => `<div class="hint${n === 0 ? " selected" : ""}" data-command="${esc(c)}"><b>${esc(c)}</b>`
      + `<span class="usage">${esc(COMMAND_USAGE[c] || "")} · ResearchBot</span></div>`).join("");
  hint.hidden = false;
}

function wireComposer(formId, inputId, threadOf) {
  const form = $(formId);
  const input = $(inputId);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = "";
    autosize(input);
    if (formId === "composer") renderCommandHint();
    send(text, threadOf());
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      const hint = $("command-hint");
      if (formId === "composer" && !hint.hidden) {
        const first = hint.querySelector(".hint");
        if (first && input.value !== first.dataset.command) {
          input.value = first.dataset.command + " ";
          renderCommandHint();
          return;
        }
      }
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    autosize(input);
    if (formId === "composer") renderCommandHint();
  });
}

// ------------------------------------------------------------------ state and events

function scheduleRefresh() {
  clearTimeout(S.refreshTimer);
  S.refreshTimer = setTimeout(refresh, 60);
}

async function refresh(opts = {}) {
  if (S.refreshing) { S.refreshAgain = true; return; }
  S.refreshing = true;
  let retry = false;
  try {
    const asked = S.me || "";
    const response = await fetch(`/sandbox/state?user=${encodeURIComponent(asked)}`, { cache: "no-store" });
    const state = await response.json();
    if ((S.me || "") !== asked) {
      retry = true;  // the user was switched while this was in flight: this state is someone else's
    } else if (state.ok) {
      S.state = state;
      S.me = state.me;
      render(opts);
    } else if (state.error === "user_not_found" && S.me) {
      S.me = "";  // a person this workspace does not have (an old link): show the default one
      retry = true;
    }
  } catch (e) {
    $("live-dot").className = "live-dot down";
  } finally {
    S.refreshing = false;
  }
  if (retry) return refresh(opts);
  if (S.refreshAgain) { S.refreshAgain = false; scheduleRefresh(); }
}

function connect() {
  if (S.events) S.events.close();
  const events = new EventSource(`/events?user=${encodeURIComponent(S.me)}`);
  S.events = events;
  events.onopen = () => { $("live-dot").className = "live-dot live"; $("live-dot").title = "Live"; };
  events.onerror = () => { $("live-dot").className = "live-dot down"; $("live-dot").title = "Reconnecting…"; };
  events.onmessage = () => scheduleRefresh();
}

function saveLocation() {
  const url = new URL(location.href);
  url.searchParams.set("user", S.me);
  if (S.channel) url.searchParams.set("channel", S.channel);
  history.replaceState(null, "", url);
}

async function switchUser(id) {
  S.me = id;
  S.modalKey = null;
  S.modalBanner = "";
  S.actionErrors = {};
  S.rendered = {};
  localStorage.setItem("sandbox-user", id);
  saveLocation();
  connect();
  await refresh({ channelBottom: true, threadBottom: true });
}

function openChannel(id) {
  S.channel = id;
  S.thread = null;
  saveLocation();
  render({ channelBottom: true });
}

function openThread(channel, ts) {
  S.thread = { channel, ts };
  render({ threadBottom: true });
  $("thread-input").focus();
}

document.addEventListener("click", (e) => {
  const target = e.target.closest("[data-kind], .channel-link, .hint");
  if (!target) return;
  if (target.classList.contains("hint")) {
    $("composer-input").value = target.dataset.command + " ";
    $("composer-input").focus();
    renderCommandHint();
    return;
  }
  if (target.classList.contains("channel-link")) { e.preventDefault(); openChannel(target.dataset.channel); return; }
  const kind = target.dataset.kind;
  if (kind === "channel") { e.preventDefault(); openChannel(target.dataset.channel); }
  else if (kind === "action") clickAction(target);
  else if (kind === "open-thread") openThread(target.closest(".message").dataset.channel, target.dataset.ts);
  else if (kind === "dismiss") api("/sandbox/dismiss", { user: S.me, ts: target.dataset.ts }).then(() => refresh());
  else if (kind === "close-modal") closeModal();
});

$("modal").addEventListener("submit", (e) => { e.preventDefault(); submitModal(); });
$("modal").addEventListener("input", (e) => {
  const block = e.target.closest(".input-block");
  if (block && block.classList.contains("has-error") && !(S.state.view.errors || {})[e.target.dataset.blockId]) {
    block.classList.remove("has-error");
    const err = block.querySelector(".field-error");
    if (err) err.remove();
  }
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("modal-overlay").hidden && $("confirm-overlay").hidden) closeModal();
});
$("thread-close").addEventListener("click", () => { S.thread = null; render(); });
$("user-switch").addEventListener("change", (e) => switchUser(e.target.value));
wireComposer("composer", "composer-input", () => null);
wireComposer("thread-composer", "thread-input", () => S.thread && S.thread.ts);

async function start() {
  const params = new URLSearchParams(location.search);
  S.me = S.me || params.get("user") || localStorage.getItem("sandbox-user") || "";
  S.channel = S.channel || params.get("channel");
  await refresh({ channelBottom: true });
  if (!S.state) return;
  S.me = S.state.me;  // with no one chosen, the server picks the first person
  if (!S.channel || !S.state.channels.some((c) => c.id === S.channel)) {
    const research = S.state.channels.find((c) => c.name === "research");
    S.channel = (research || S.state.channels[0] || {}).id;
    render({ channelBottom: true });
  }
  localStorage.setItem("sandbox-user", S.me);
  saveLocation();
  connect();
}

start();
