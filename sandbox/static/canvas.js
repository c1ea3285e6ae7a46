/* Canvases shown as documents: a link to one (its docs/ permalink) opens it beside the channel, its
 * Markdown rendered by marked (vendor/marked.esm.js, MIT, see vendor/marked.LICENSE.md). Raw HTML in
 * a canvas shows as text, only http(s) and mailto links are links, and an image is its text (a
 * canvas's ![](@U123) mention shows as @name). */
import { S, userName } from "./state.js";
import { $ } from "./dom.js";
import { esc } from "./html.js";
import { Marked } from "./vendor/marked.esm.js";

const SAFE_LINK = /^(https?:|mailto:)/i;

const marked = new Marked({
  gfm: true,
  renderer: {
    html({ text }) { return esc(text); },
    link({ href, tokens }) {
      const label = this.parser.parseInline(tokens);
      return SAFE_LINK.test(href || "") ? `<a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${label}</a>` : label;
    },
    image({ href, text }) {
      const mention = /^@([UW][A-Z0-9]+)$/.exec(href || "");
      return mention ? `<span class="mention">@${esc(userName(mention[1]))}</span>` : esc(text);
    },
  },
});

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
  const html = marked.parse(canvas.markdown);
  if ($("canvas-body").dataset.shown !== canvas.id + html.length) {
    $("canvas-body").innerHTML = html;
    $("canvas-body").dataset.shown = canvas.id + html.length;
  }
}
