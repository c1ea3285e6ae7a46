/* The sandbox page: renders what GET /sandbox/state says one person sees, refetches it on every
 * server-sent event, and sends commands, button clicks and modal submissions to the sandbox
 * server, which signs them and passes them to the bot as Slack would. This module is the wiring:
 * the refresh loop, the event stream, switching person, channel and thread, buttons, and the start.
 * Native ES modules, no build step: index.html loads this one with <script type="module">. */
import { S } from "./state.js";
import { $, toast } from "./dom.js";
import { BOT_ERRORS, api } from "./api.js";
import { findElement } from "./blockkit.js";
import { canvasAt, openCanvas, renderCanvas } from "./canvas.js";
import { clearFieldError, closeModal, confirmDialog, submitModal } from "./modals.js";
import { pickCommand, wireComposer } from "./composer.js";
import { render } from "./page.js";

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
  // (Re)connected: what changed while the stream was down was never heard of, so look again.
  events.onopen = () => { $("live-dot").className = "live-dot live"; $("live-dot").title = "Live"; scheduleRefresh(); };
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

async function clickAction(button) {
  if (button.dataset.view) { toast("Buttons inside modals are not supported by the sandbox."); return; }
  const element = findElement(button);
  if (!element) return;
  if (element.confirm && !(await confirmDialog(element.confirm))) return;
  const { channel, ts, ephemeralTs, blockId, actionId, choice } = button.dataset;
  const key = ts || ephemeralTs;
  delete S.actionErrors[key];
  button.disabled = true;
  button.classList.add("busy");
  const res = await api("/sandbox/action", {
    user: S.me, channel, message_ts: ts, ephemeral_ts: ephemeralTs, block_id: blockId, action_id: actionId, choice,
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

async function openDm() {
  const res = await api("/sandbox/open_dm", { user: S.me });
  if (!res.ok) { toast(`Could not open the DM: ${res.error}`); return; }
  await refresh();
  openChannel(res.channel);
}

async function sendPrompt(message) {
  const res = await api("/sandbox/message", { user: S.me, channel: S.channel, text: message });
  if (!res.ok) toast(`Could not send the message: ${res.error}`);
  await refresh({ channelBottom: true });
}

document.addEventListener("click", (e) => {
  const link = e.target.closest("a[href]");
  const canvas = link && canvasAt(link.href);
  if (canvas) { e.preventDefault(); openCanvas(canvas); return; }
  const target = e.target.closest("[data-kind], .channel-link, .hint");
  if (!target) return;
  if (target.classList.contains("hint")) {
    pickCommand(target.dataset.command);
    return;
  }
  if (target.classList.contains("channel-link")) { e.preventDefault(); openChannel(target.dataset.channel); return; }
  const kind = target.dataset.kind;
  if (kind === "channel") { e.preventDefault(); openChannel(target.dataset.channel); }
  else if (kind === "action") clickAction(target);
  else if (kind === "open-thread") openThread(target.closest(".message").dataset.channel, target.dataset.ts);
  else if (kind === "dismiss") api("/sandbox/dismiss", { user: S.me, ts: target.dataset.ts }).then(() => refresh());
  else if (kind === "close-modal") closeModal(refresh);
  else if (kind === "open-dm") { e.preventDefault(); openDm(); }
  else if (kind === "prompt") sendPrompt(target.dataset.message);
});

$("modal").addEventListener("submit", (e) => { e.preventDefault(); submitModal(refresh); });
$("modal").addEventListener("input", (e) => clearFieldError(e.target));
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("modal-overlay").hidden && $("confirm-overlay").hidden) closeModal(refresh);
});
$("thread-close").addEventListener("click", () => { S.thread = null; render(); });
$("canvas-close").addEventListener("click", () => { S.canvas = null; renderCanvas(); });
$("user-switch").addEventListener("change", (e) => switchUser(e.target.value));
wireComposer("composer", "composer-input", () => null, refresh);
wireComposer("thread-composer", "thread-input", () => S.thread && S.thread.ts, refresh);

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
