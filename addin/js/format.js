// Small text helpers shared by the pane and the function file. No DOM, no Office.

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Escape text for use inside HTML.
 * @param {string} text
 * @returns {string}
 */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * Plain draft text as simple mail HTML: blank lines make paragraphs, single newlines <br>.
 * Used when the user edited the draft, so the backend's HTML no longer matches the text.
 * @param {string} text
 * @returns {string}
 */
export function textToHtml(text) {
  return String(text)
    .replace(/\r\n?/g, "\n")
    .split(/\n{2,}/)
    .map((para) => para.trim())
    .filter(Boolean)
    .map((para) => `<p>${escapeHtml(para).replace(/\n/g, "<br>")}</p>`)
    .join("");
}

/**
 * Size of a string in UTF-8 bytes. Never smaller than its length in UTF-16 code units, so a
 * limit checked in bytes also holds if the host counts characters.
 * @param {string} text
 * @returns {number}
 */
export function utf8Length(text) {
  return new TextEncoder().encode(String(text)).length;
}

/**
 * One or two initials for an avatar.
 * @param {string} name
 * @param {string} [email]
 * @returns {string}
 */
export function initials(name, email = "") {
  const words = String(name || "").replace(/[^\p{L}\p{N}\s'-]/gu, " ").trim().split(/\s+/)
    .filter(Boolean);
  if (words.length >= 2) return (words[0][0] + words[words.length - 1][0]).toUpperCase();
  if (words.length === 1) return words[0].slice(0, 2).toUpperCase();
  return (String(email)[0] || "?").toUpperCase();
}

/**
 * Word count of a draft, for the status line and the screen-reader summary.
 * @param {string} text
 * @returns {number}
 */
export function wordCount(text) {
  const words = String(text).trim().match(/\S+/g);
  return words ? words.length : 0;
}
