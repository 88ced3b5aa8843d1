// Everything that touches Office.js: readiness, the current item in read and compose mode,
// requirement sets, the theme, ItemChanged, and putting a draft into a reply.

import { copyDraft } from "./clipboard.js";
import { escapeHtml, utf8Length } from "./format.js";

/** displayReplyAllForm(Async) accepts at most 32 KB of htmlBody and throws above it. */
export const REPLY_FORM_LIMIT = 32 * 1024;
/** setSelectedDataAsync accepts up to 1,000,000 characters. */
export const COMPOSE_LIMIT = 1_000_000;

/**
 * Wait for Office.js. Resolves {host, platform}; host is null in a plain browser (office.js
 * says so itself) and when office.js could not be loaded at all (offline, CDN blocked).
 * @returns {Promise<{host: string|null, platform: string|null}>}
 */
export async function officeReady() {
  if (typeof globalThis.Office?.onReady !== "function") return { host: null, platform: null };
  const info = await Office.onReady();
  return { host: info?.host || null, platform: info?.platform || null };
}

/**
 * Whether the host supports a requirement set (false when it cannot say).
 * @param {string} name e.g. "Mailbox"
 * @param {string} version e.g. "1.9"
 * @returns {boolean}
 */
export function supports(name, version) {
  try {
    return Boolean(Office.context.requirements.isSetSupported(name, version));
  } catch {
    return false;
  }
}

/**
 * The Office theme's colours, or null outside Office or on hosts without one.
 * @returns {{bodyBackgroundColor: string, bodyForegroundColor: string,
 *            controlBackgroundColor: string, controlForegroundColor: string}|null}
 */
export function officeTheme() {
  try {
    return Office.context.officeTheme || null;
  } catch {
    return null;
  }
}

/**
 * Call `handler` when the user selects another item while the pane is pinned (Mailbox 1.5).
 * @param {() => void} handler
 * @returns {Promise<boolean>} whether the handler was registered
 */
export function onItemChanged(handler) {
  const mailbox = globalThis.Office?.context?.mailbox;
  if (typeof mailbox?.addHandlerAsync !== "function") return Promise.resolve(false);
  return new Promise((resolve) => {
    mailbox.addHandlerAsync(Office.EventType.ItemChanged, handler,
                            (result) => resolve(result?.status !== "failed"));
  });
}

function call(target, method, ...args) {
  return new Promise((resolve, reject) => {
    target[method](...args, (result) => {
      if (result.status === Office.AsyncResultStatus.Failed) reject(result.error);
      else resolve(result.value);
    });
  });
}

function address(detail) {
  if (!detail || !detail.emailAddress) return null;
  return { name: detail.displayName || "", email: detail.emailAddress };
}

function addresses(list) {
  return (list || []).map(address).filter(Boolean);
}

function isCompose(item) {
  return typeof item.subject?.getAsync === "function";
}

async function readBody(item, compose) {
  const body = item.body;
  if (!body || typeof body.getAsync !== "function") return { html: "", text: "" };
  const options = {};
  // In a reply being composed some clients return the whole thread unless asked not to.
  const hostConfig = globalThis.Office?.MailboxEnums?.BodyMode?.HostConfig;
  if (compose && hostConfig !== undefined) options.bodyMode = hostConfig;
  if (supports("Mailbox", "1.3")) {
    try {
      return { html: await call(body, "getAsync", Office.CoercionType.Html, options), text: "" };
    } catch {
      // Fall back to text below: some clients refuse HTML for rights-managed mail.
    }
  }
  try {
    return { html: "", text: await call(body, "getAsync", Office.CoercionType.Text, options) };
  } catch {
    return { html: "", text: "" };
  }
}

async function optional(target, method) {
  if (typeof target?.[method] !== "function") return null;
  try {
    return await call(target, method);
  } catch {
    return null;
  }
}

/**
 * Read the current item into a neutral shape, or null when nothing is selected.
 * In compose mode the person being answered is the first To recipient (Outlook puts the
 * original sender there), so `from` is that person and the user's own address is left out.
 * @returns {Promise<object|null>}
 */
export async function readItem() {
  const mailbox = Office.context.mailbox;
  const item = mailbox.item;
  if (!item) return null;
  const compose = isCompose(item);
  let fields;
  if (compose) {
    const [subject, to, cc] = await Promise.all([
      optional(item.subject, "getAsync"), optional(item.to, "getAsync"),
      optional(item.cc, "getAsync")]);
    const recipients = addresses(to);
    fields = { subject: subject || "", from: recipients[0] || null, to: recipients.slice(1),
               cc: addresses(cc), date: null, internetMessageId: null };
  } else {
    fields = {
      subject: item.subject || "", from: address(item.from || item.sender),
      to: addresses(item.to), cc: addresses(item.cc),
      date: item.dateTimeCreated ? new Date(item.dateTimeCreated).toISOString() : null,
      internetMessageId: item.internetMessageId || null,
    };
  }
  const body = await readBody(item, compose);
  return {
    mode: compose ? "compose" : "read", ...fields,
    conversationId: item.conversationId || null,
    // Graph wants REST ids; kept for later use, never sent (the backend reads Graph itself).
    restId: restId(mailbox, item.itemId),
    bodyHtml: body.html, bodyText: body.text,
  };
}

function restId(mailbox, itemId) {
  if (!itemId || typeof mailbox.convertToRestId !== "function") return null;
  try {
    return mailbox.convertToRestId(itemId, Office.MailboxEnums.RestVersion.v2_0);
  } catch {
    return null;
  }
}

function openReplyForm(item, htmlBody, replyAll) {
  const asyncName = replyAll ? "displayReplyAllFormAsync" : "displayReplyFormAsync";
  const syncName = replyAll ? "displayReplyAllForm" : "displayReplyForm";
  if (supports("Mailbox", "1.9") && typeof item[asyncName] === "function") {
    // Throws synchronously above the size limit: the promise turns that into a rejection.
    return new Promise((resolve, reject) => {
      item[asyncName]({ htmlBody }, (result) => {
        if (result?.status === Office.AsyncResultStatus.Failed) reject(result.error);
        else resolve("reply-form");
      });
    });
  }
  if (typeof item[syncName] === "function") {
    item[syncName]({ htmlBody });
    return Promise.resolve("reply-form");
  }
  return Promise.reject(new Error("This Outlook cannot open a reply form."));
}

const LONG_NOTE = "Replywise drafted a reply that is too long to prefill here. It is on your "
  + "clipboard: paste it below (Ctrl+V).";

async function insertInRead(item, { html, text, replyAll }) {
  if (utf8Length(html) <= REPLY_FORM_LIMIT) {
    try {
      await openReplyForm(item, html, replyAll);
      return { how: "reply-form", copied: false };
    } catch {
      // Fall through to the clipboard.
    }
  } else {
    // Copy first, while the click still counts as a user gesture; then open the form.
    const copied = await copyDraft(text, html);
    try {
      await openReplyForm(item, `<p>${escapeHtml(LONG_NOTE)}</p>`, replyAll);
      return { how: "reply-form-note", copied };
    } catch {
      return { how: "clipboard", copied };
    }
  }
  return { how: "clipboard", copied: await copyDraft(text, html) };
}

async function insertInCompose(item, { html, text }) {
  const body = item.body;
  if (text.length <= COMPOSE_LIMIT && body) {
    let type = Office.CoercionType.Text;
    try {
      type = await call(body, "getTypeAsync");
    } catch {
      // Unknown body type: text is safe in both an HTML and a plain-text body.
    }
    const isHtml = type === Office.CoercionType.Html;
    const data = isHtml ? html : text;
    const options = { coercionType: isHtml ? Office.CoercionType.Html : Office.CoercionType.Text };
    try {
      await call(body, "setSelectedDataAsync", data, options);
      return { how: "cursor", copied: false };
    } catch {
      // Some clients have no cursor to insert at (focus elsewhere): put it at the top.
    }
    try {
      await call(body, "prependAsync", data, options);
      return { how: "top", copied: false };
    } catch {
      // Fall through to the clipboard.
    }
  }
  return { how: "clipboard", copied: await copyDraft(text, html) };
}

/**
 * Put the draft into a reply: a prefilled reply(-all) form in read mode, the cursor position
 * in compose mode, the clipboard when neither works. Never throws.
 * @param {{html: string, text: string, replyAll: boolean}} draft
 * @returns {Promise<{how: "reply-form"|"reply-form-note"|"cursor"|"top"|"clipboard",
 *                    copied: boolean}>}
 */
export async function insertDraft(draft) {
  const item = Office.context.mailbox.item;
  if (!item) return { how: "clipboard", copied: await copyDraft(draft.text, draft.html) };
  try {
    return isCompose(item) ? await insertInCompose(item, draft) : await insertInRead(item, draft);
  } catch {
    return { how: "clipboard", copied: await copyDraft(draft.text, draft.html) };
  }
}
