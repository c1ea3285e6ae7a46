/* The two composers, channel and thread: Enter sends, text starting with / goes to the bot as a
 * slash command, anything else is posted as a message; and the command hint over the channel's. */
import { S } from "./state.js";
import { $ } from "./dom.js";
import { BOT_ERRORS, api } from "./api.js";
import { esc } from "./html.js";

const COMMAND_USAGE = { "/research": "[question] | status | help" };  // manifest.yml's usage_hint

function setStatus(text, error) {
  const el = $("composer-status");
  el.textContent = text || "";
  el.classList.toggle("error", Boolean(error));
}

/** The files picked with the 📎 control, as the message's {name, content_base64}; the control is cleared. */
async function takeAttached() {
  const input = $("composer-file");
  const picked = [...(input.files || [])];
  input.value = "";
  $("composer-attached").textContent = "";
  return Promise.all(picked.map(async (file) => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { name: file.name, content_base64: btoa(binary) };
  }));
}

async function send(text, threadTs, refresh) {
  text = text.trim();
  const attached = !threadTs && ($("composer-file").files || []).length > 0;
  if (!text && !attached) return;
  const channel = threadTs ? S.thread.channel : S.channel;
  if (text.startsWith("/")) {
    const name = text.split(/\s/)[0];
    setStatus(`Sending ${name} to ResearchBot…`);
    const res = await api("/sandbox/command", { user: S.me, channel, text });
    // What went wrong with the bot, Slackbot says in the channel; this line is for the sandbox itself.
    if (res.ok || res.error === "invalid_command" || BOT_ERRORS.includes(res.error)) setStatus("");
    else setStatus(`${name} could not be sent: ${res.error}${res.detail ? " · " + res.detail : ""}`, true);
  } else {
    const files = threadTs ? [] : await takeAttached();
    const res = await api("/sandbox/message", {
      user: S.me, channel, text, thread_ts: threadTs || undefined, files: files.length ? files : undefined,
    });
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

/** A command picked from the hint: into the channel composer, ready for its argument. */
export function pickCommand(command) {
  $("composer-input").value = command + " ";
  $("composer-input").focus();
  renderCommandHint();
}

export function wireComposer(formId, inputId, threadOf, refresh) {
  const form = $(formId);
  const input = $(inputId);
  if (formId === "composer") {  // files go with a message, as in Slack: a name each until it is sent
    $("composer-file").addEventListener("change", (e) => {
      $("composer-attached").textContent = [...e.target.files].map((f) => "📄 " + f.name).join(" ");
    });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = "";
    autosize(input);
    if (formId === "composer") renderCommandHint();
    send(text, threadOf(), refresh);
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
