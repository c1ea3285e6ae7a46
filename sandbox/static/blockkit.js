/* Block Kit as HTML, for messages and modals; and back: the element a rendered button stands for. */
import { S } from "./state.js";
import { emoji, esc } from "./html.js";
import { markdownHtml } from "./markdown.js";
import { textObject, token } from "./mrkdwn.js";

/** Blocks with the block_id Slack would give those that have none, as the server does. */
export function withBlockIds(blocks) {
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

/** Slack's 👍 / 👎 pair: one element, two buttons; the click says which (data-choice). */
function feedbackHtml(el, where) {
  return ["positive", "negative"].map((choice) => {
    const button = el[`${choice}_button`] || {};
    const label = button.accessibility_label ? ` aria-label="${esc(button.accessibility_label)}"` : "";
    return buttonHtml({ ...button, type: "button", action_id: el.action_id, url: undefined }, { ...where, choice })
      .replace("<button ", `<button${label} `);
  }).join("");
}

function elementHtml(el, where) {
  if (!el) return "";
  if (el.type === "button") return buttonHtml(el, where);
  if (el.type === "feedback_buttons") return feedbackHtml(el, where);
  if (el.type === "icon_button") return buttonHtml({ ...el, type: "button" }, where);
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

export function blockHtml(block, where) {
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
    case "context_actions":
      return `<div class="block actions context-actions">${(block.elements || []).map((e) => elementHtml(e, here)).join("")}</div>`;
    case "actions":
      return `<div class="block actions">${(block.elements || []).map((e) => elementHtml(e, here)).join("")}</div>`;
    case "image":
      return `<figure class="block image">${block.title ? `<figcaption>${textObject(block.title)}</figcaption>` : ""}`
        + `<img src="${esc(block.image_url)}" alt="${esc(block.alt_text)}"></figure>`;
    case "rich_text":
      return richText(block);
    case "markdown":
      return `<div class="block markdown" data-testid="markdown-block">${markdownHtml(block.text)}</div>`;
    default:
      return `<div class="block unsupported">[a ${esc(block.type)} block, not shown in the sandbox]</div>`;
  }
}

export function blocksHtml(blocks, where) {
  return withBlockIds(blocks).map((b) => blockHtml(b, where)).join("");
}

export function findElement(button) {
  const { channel, ts, ephemeralTs, blockId, actionId } = button.dataset;
  const source = ephemeralTs
    ? S.state.ephemerals.find((e) => e.ts === ephemeralTs)
    : (S.state.messages[channel] || []).find((m) => m.ts === ts);
  const block = withBlockIds(source && source.blocks).find((b) => b.block_id === blockId);
  if (!block) return null;
  return [...(block.elements || []), ...(block.accessory ? [block.accessory] : [])].find((e) => e.action_id === actionId) || null;
}
