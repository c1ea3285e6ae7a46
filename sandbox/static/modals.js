/* Modals and confirm dialogs. The open view is drawn from S.state.view (values typed so far survive
 * a redraw), checked before it is sent, then submitted or closed; the functions that send take the
 * page's refresh, to run once the server has the change. A button's confirm asks first. */
import { S } from "./state.js";
import { $, toast } from "./dom.js";
import { api } from "./api.js";
import { avatar, esc } from "./html.js";
import { textObject } from "./mrkdwn.js";
import { blockHtml, withBlockIds } from "./blockkit.js";

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

export function renderModal() {
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

/** Typing into a field the page marked takes the mark away; one the bot marked keeps it. */
export function clearFieldError(target) {
  const block = target.closest(".input-block");
  if (block && block.classList.contains("has-error") && !(S.state.view.errors || {})[target.dataset.blockId]) {
    block.classList.remove("has-error");
    const err = block.querySelector(".field-error");
    if (err) err.remove();
  }
}

export async function submitModal(refresh) {
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

export async function closeModal(refresh) {
  const view = S.state && S.state.view;
  if (!view) return;
  $("modal-overlay").hidden = true;
  S.modalBanner = "";
  const res = await api("/sandbox/close", { user: S.me, view_id: view.id });
  if (!res.ok && res.error !== "view_not_found") toast(`Closing the modal: ${res.error}${res.detail ? " · " + res.detail : ""}`);
  await refresh();
}

export function confirmDialog(confirm) {
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
