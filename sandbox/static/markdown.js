/* Markdown as Slack renders it in a markdown block or a canvas, by marked (vendor/marked.esm.js, MIT,
 * see vendor/marked.LICENSE.md): raw HTML shows as text, only http(s) and mailto links are links, and
 * an image is its text (a canvas's ![](@U123) mention shows as @name). */
import { userName } from "./state.js";
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

export function markdownHtml(text) {
  return marked.parse(String(text ?? ""));
}
