// Copying a draft. Taskpanes run in iframes and webviews whose clipboard permissions differ
// from host to host, so every way is tried in turn and the caller learns whether one worked.

/**
 * Put the draft on the clipboard, as HTML and plain text where the browser allows.
 * Call it while handling the user's click: browsers only allow writes during a user gesture.
 * @param {string} text plain text of the draft
 * @param {string} [html] HTML form of the draft
 * @returns {Promise<boolean>} whether the clipboard now holds the draft
 */
export async function copyDraft(text, html) {
  const clip = navigator.clipboard;
  if (clip && html && typeof ClipboardItem === "function" && typeof clip.write === "function") {
    try {
      await clip.write([new ClipboardItem({
        "text/plain": new Blob([text], { type: "text/plain" }),
        "text/html": new Blob([html], { type: "text/html" }),
      })]);
      return true;
    } catch {
      // Some webviews refuse rich writes but accept plain text: fall through.
    }
  }
  if (clip && typeof clip.writeText === "function") {
    try {
      await clip.writeText(text);
      return true;
    } catch {
      // Denied (no permission, document not focused): try the legacy command below.
    }
  }
  return legacyCopy(text);
}

function legacyCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "clipboard-helper";
  const active = document.activeElement;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  if (active && typeof active.focus === "function") active.focus();
  return ok;
}
