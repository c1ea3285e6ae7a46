/* The document's shared handles: $ finds an element by id; toast shows a line for a few seconds. */

export const $ = (id) => document.getElementById(id);

let toastTimer = null;
export function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}
