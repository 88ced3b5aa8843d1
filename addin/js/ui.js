// Rendering and pane state. main.js decides what happens; this module only shows it.

import { initials } from "./format.js";

const $ = (id) => document.getElementById(id);

/** The pane's elements, looked up once. */
export const els = {
  app: $("app"), loading: $("loading"), chip: $("identity-chip"),
  banner: $("playground-banner"), sampleSelect: $("sample-select"),
  empty: $("empty-state"), card: $("message-card"), avatar: $("sender-avatar"),
  senderName: $("sender-name"), senderEmail: $("sender-email"), subject: $("message-subject"),
  messageBody: $("message-body"), messageBodyText: $("message-body-text"),
  form: $("draft-form"), tone: $("tone"), length: $("length"), language: $("language"),
  instructions: $("instructions"), draftButton: $("draft-button"),
  draftButtonLabel: $("draft-button-label"),
  bar: $("message-bar"), barText: $("message-text"), barAction: $("message-action"),
  draftSection: $("draft-section"), status: $("draft-status"), stop: $("stop-button"),
  notice: $("notice"), draftText: $("draft-text"), live: $("draft-live"),
  sources: $("sources"), sourcesList: $("sources-list"), after: $("after-draft"),
  replyMode: $("reply-mode"), insert: $("insert-button"), insertLabel: $("insert-label"),
  copy: $("copy-button"), regenerate: $("regenerate-button"), feedbackRow: $("feedback-row"),
  thumbUp: $("thumb-up"), thumbDown: $("thumb-down"),
  refineButtons: [...document.querySelectorAll("[data-refine]")],
  dialog: $("preview-dialog"), dialogClose: $("preview-close"),
};

/**
 * Show one phase of the pane: loading | empty | ready | streaming | done | stopped.
 * @param {string} phase
 * @param {{hasDraftId?: boolean, cooling?: boolean}} [flags]
 */
export function setPhase(phase, { hasDraftId = false, cooling = false } = {}) {
  els.app.dataset.state = phase;
  const hasItem = !["loading", "empty"].includes(phase);
  const streaming = phase === "streaming";
  const finished = phase === "done" || phase === "stopped";
  els.loading.hidden = phase !== "loading";
  els.empty.hidden = phase !== "empty";
  els.card.hidden = !hasItem;
  els.form.hidden = !hasItem;
  els.draftSection.hidden = !(streaming || finished);
  els.stop.hidden = !streaming;
  els.after.hidden = !finished;
  els.feedbackRow.hidden = !hasDraftId;
  els.draftText.readOnly = streaming;
  els.draftText.setAttribute("aria-busy", String(streaming));
  for (const control of [els.tone, els.length, els.language, els.instructions, els.sampleSelect]) {
    control.disabled = streaming;
  }
  els.draftButton.disabled = streaming || cooling;
  for (const button of [els.regenerate, ...els.refineButtons]) button.disabled = cooling;
}

/**
 * Show who wrote the message and its subject.
 * @param {{from: {name: string, email: string}|null, subject: string, mode: string,
 *          showBody?: boolean, bodyText?: string}} item
 */
export function renderItem(item) {
  const sender = item.from || { name: "", email: "" };
  els.avatar.textContent = initials(sender.name, sender.email);
  els.senderName.textContent = (item.mode === "compose" ? "To " : "")
    + (sender.name || sender.email || "Unknown sender");
  els.senderEmail.textContent = sender.name && sender.email ? sender.email : "";
  els.subject.textContent = item.subject || "(no subject)";
  // Outlook shows the message beside the pane; the playground has to show it itself.
  els.messageBody.hidden = !item.showBody;
  els.messageBody.open = false;
  els.messageBodyText.textContent = item.showBody ? item.bodyText : "";
  els.insertLabel.textContent = item.mode === "compose" ? "Insert at cursor" : "Insert";
  els.replyMode.hidden = item.mode === "compose";
}

/**
 * Fill the playground's sample picker and show its banner.
 * @param {{id: string, label: string}[]} samples
 */
export function showPlayground(samples) {
  els.banner.hidden = false;
  els.sampleSelect.replaceChildren(...samples.map((s) => new Option(s.label, s.id)));
}

/**
 * Put a message in the message bar: a Problem from errors.js, or {tone: "info", text}.
 * @param {{tone: string, text: string, action?: string|null, actionLabel?: string}} problem
 */
export function showMessage(problem) {
  els.bar.className = `message-bar ${problem.tone}`;
  // Errors interrupt; progress and confirmations wait their turn.
  els.bar.setAttribute("role", problem.tone === "error" ? "alert" : "status");
  els.barText.textContent = problem.text;
  els.barAction.hidden = !problem.action;
  els.barAction.textContent = problem.actionLabel || "";
  els.barAction.dataset.action = problem.action || "";
  els.bar.hidden = false;
}

/** Update only the text of the message bar (countdowns). @param {string} text */
export function updateMessageText(text) {
  els.barText.textContent = text;
}

/** Hide the message bar. */
export function clearMessage() {
  els.bar.hidden = true;
  els.barText.textContent = "";
  els.barAction.hidden = true;
}

/** @param {string} text shown in the draft header */
export function setStatus(text) {
  els.status.textContent = text;
}

/** @param {string|null} text the backend's notice (e.g. an offline draft), or null */
export function setNotice(text) {
  els.notice.textContent = text || "";
  els.notice.hidden = !text;
}

/**
 * The company documents the draft cites, as "[n] document, p. page" (the excerpt as a tooltip).
 * @param {{n: number, document: string, page?: number|null, excerpt?: string, cited?: boolean}[]|undefined} sources
 */
export function renderSources(sources) {
  const list = (Array.isArray(sources) ? sources : []).filter((source) => source.cited !== false);
  els.sourcesList.replaceChildren(...list.map((source) => {
    const li = document.createElement("li");
    const page = source.page ? `, p. ${source.page}` : "";
    li.textContent = `[${source.n}] ${source.document}${page}`;
    if (source.excerpt) li.title = source.excerpt;
    return li;
  }));
  els.sources.hidden = list.length === 0;
}

/** Grow the draft box with its text, up to the CSS max-height. */
export function autoGrow() {
  const area = els.draftText;
  area.style.height = "auto";
  area.style.height = `${area.scrollHeight + 2}px`;
}

/** @param {string} text replace the draft text */
export function setDraftText(text) {
  els.draftText.value = text;
  autoGrow();
}

/** @param {string} text append streamed text and keep the end in view */
export function appendDraftText(text) {
  els.draftText.value += text;
  autoGrow();
  els.draftText.scrollTop = els.draftText.scrollHeight;
}

/** @param {0|1|-1} rating show which thumb is pressed */
export function setRating(rating) {
  els.thumbUp.setAttribute("aria-pressed", String(rating === 1));
  els.thumbDown.setAttribute("aria-pressed", String(rating === -1));
}

/** @returns {{tone: string, length: string, language: string, instructions: string}} */
export function readOptions() {
  return { tone: els.tone.value, length: els.length.value, language: els.language.value,
           instructions: els.instructions.value.trim() };
}

/** @returns {boolean} whether Insert should open a reply-all (the default) */
export function replyAll() {
  return !document.getElementById("mode-reply").checked;
}

/**
 * Follow the Office theme: dark when its body background is dark. Without a theme (the
 * playground) the CSS follows prefers-color-scheme instead.
 * @param {{bodyBackgroundColor?: string, bodyForegroundColor?: string}|null} theme
 */
export function applyTheme(theme) {
  const root = document.documentElement;
  if (!theme || !theme.bodyBackgroundColor) {
    delete root.dataset.theme;
    return;
  }
  root.dataset.theme = luminance(theme.bodyBackgroundColor) < 0.4 ? "dark" : "light";
  root.style.setProperty("--host-background", theme.bodyBackgroundColor);
  if (theme.bodyForegroundColor) root.style.setProperty("--host-foreground", theme.bodyForegroundColor);
}

function luminance(color) {
  const hex = String(color).trim().replace(/^#/, "");
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex.slice(0, 6);
  const value = Number.parseInt(full, 16);
  if (Number.isNaN(value)) return 1;
  const [r, g, b] = [(value >> 16) & 255, (value >> 8) & 255, value & 255];
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/**
 * Mirrors streamed text into the aria-live region a sentence or so at a time, at most every
 * `interval` ms: a region rewritten on every word would make screen readers stutter or skip.
 */
export class Announcer {
  /** @param {HTMLElement} region @param {number} [interval] */
  constructor(region, interval = 1500) {
    this.region = region;
    this.interval = interval;
    this.pending = "";
    this.timer = null;
  }

  /** @param {string} text newly streamed text */
  add(text) {
    this.pending += text;
    this.timer ??= setTimeout(() => this.flush(false), this.interval);
  }

  flush(all) {
    this.timer = null;
    let cut = this.pending.length;
    if (!all) {
      const ends = [...this.pending.matchAll(/[.!?…:;](\s|$)|\n/g)];
      if (ends.length) cut = ends[ends.length - 1].index + 1;
      else if (this.pending.length < 160) cut = 0;
    }
    const chunk = this.pending.slice(0, cut).trim();
    this.pending = this.pending.slice(cut);
    if (chunk) this.region.textContent = chunk;
    if (!all && this.pending) this.timer = setTimeout(() => this.flush(false), this.interval);
  }

  /** Announce what is left, then a closing summary. @param {string} summary */
  finish(summary) {
    clearTimeout(this.timer);
    this.flush(true);
    // A separate change after a beat, so the summary is not merged into the last sentence.
    setTimeout(() => { this.region.textContent = summary; }, 400);
  }

  /** Forget pending text (reset, item change). */
  reset() {
    clearTimeout(this.timer);
    this.timer = null;
    this.pending = "";
    this.region.textContent = "";
  }
}
