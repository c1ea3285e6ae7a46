/* The HTML pieces every renderer shares: escaping, Slack's entities, emoji, icons, avatars, times.
 * Text from people and models goes through esc() before it is put into HTML. */
import { S, userName } from "./state.js";

export function esc(text) {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** Slack's three escapes (&amp; &lt; &gt;) back to characters. */
export function unslack(text) {
  return String(text ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// Icons drawn inline, so the page needs no emoji font of its own.
export const ICONS = {
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

export function emoji(html) {
  return html.replace(/:([a-z0-9_+\-]+):/g, (whole, name) => EMOJI[name] || whole);
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

export function avatar(id, size, slackbot) {
  const cls = `avatar${size ? " " + size : ""}`;
  if (slackbot) return `<span class="${cls} slackbot" aria-hidden="true">S</span>`;
  if (S.state && id === S.state.bot_user_id) return `<span class="${cls} bot" aria-hidden="true">R</span>`;
  return `<span class="${cls}" style="background:${avatarColor(id)}" aria-hidden="true">${esc(initials(id))}</span>`;
}

export function tsDate(ts) { return new Date(parseFloat(ts) * 1000); }

export function timeOf(ts) {
  return tsDate(ts).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

export function dayOf(ts) {
  const d = tsDate(ts);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
}
