/* Canvases shown as documents: a link to one (its docs/ permalink) opens it beside the channel, its
 * Markdown rendered as Slack renders a canvas (markdown.js). */
import { S } from "./state.js";
import { $ } from "./dom.js";
import { markdownHtml } from "./markdown.js";

/** The canvas a link points at, if the person may open it. */
export function canvasAt(href) {
  return ((S.state && S.state.canvases) || []).find((c) => c.url === href) || null;
}

export function openCanvas(canvas) {
  S.canvas = canvas.id;
  renderCanvas();
}

export function renderCanvas() {
  const pane = $("canvas-pane");
  const canvas = ((S.state && S.state.canvases) || []).find((c) => c.id === S.canvas);
  if (!canvas) { pane.hidden = true; return; }
  pane.hidden = false;
  $("canvas-title").textContent = canvas.title;
  const html = markdownHtml(canvas.markdown);
  if ($("canvas-body").dataset.shown !== canvas.id + html.length) {
    $("canvas-body").innerHTML = html;
    $("canvas-body").dataset.shown = canvas.id + html.length;
  }
}
