/* Slack's mrkdwn and text objects as HTML. Text is escaped first and marked up after, so nothing
 * a person or a model wrote becomes markup. */
import { S, userName } from "./state.js";
import { dayOf, emoji, esc, unslack } from "./html.js";

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
export function token(inner) {
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
export function mrkdwn(text) {
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

export function textObject(obj) {
  if (!obj) return "";
  if (obj.type === "mrkdwn") return `<div class="mrkdwn">${mrkdwn(obj.text)}</div>`;
  const html = esc(obj.text).replace(/\n/g, "<br>");
  return obj.emoji === false ? html : emoji(html);
}
