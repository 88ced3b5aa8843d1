// Failures in plain words, each with a way forward. The UI renders what describe() returns.

import { SignInRequired } from "./auth.js";

/**
 * @typedef {object} Problem
 * @property {"error"|"warning"} tone
 * @property {string} text what happened and what to do, in plain words
 * @property {null|"retry"|"signin"} action the button the message bar offers
 * @property {string} [actionLabel]
 * @property {number} [retryAfter] seconds until drafting may resume (rate limits, overload)
 * @property {string} [claims] claims challenge to pass to the interactive sign-in
 */

const SIGN_IN_CODES = new Set(["unauthorized", "token_expired", "invalid_token"]);

function withRequestId(text, err) {
  return err.requestId ? `${text} (Reference: ${err.requestId})` : text;
}

/**
 * Turn any failure of a draft into a Problem for the message bar.
 * @param {Error} err an ApiError, a SignInRequired, or anything else
 * @param {{localMode: boolean, origin: string}} context
 * @returns {Problem}
 */
export function describe(err, { localMode, origin }) {
  if (err instanceof SignInRequired) {
    return { tone: "warning", text: err.message, action: err.canSignIn ? "signin" : null,
             actionLabel: "Sign in", claims: err.claims || undefined };
  }
  if (err?.name !== "ApiError") {
    return { tone: "error", text: `Something went wrong in the pane: ${err?.message || err}. `
             + "Try again.", action: "retry", actionLabel: "Try again" };
  }
  const code = err.code;
  if (err.kind === "network") {
    return { tone: "error", action: "retry", actionLabel: "Try again",
             text: `Can't reach the Replywise service at ${origin}. Check your connection; if `
               + "it keeps happening, the service may be down, so tell your Replywise admin." };
  }
  if (err.kind === "incomplete") {
    return { tone: "warning", action: "retry", actionLabel: "Try again",
             text: "The connection dropped before the draft was finished. The text so far is "
               + "kept; try again for a complete draft." };
  }
  if (err.status === 429 && code === "budget_exceeded") {
    return { tone: "error", action: null,
             text: "Your team's drafting budget is used up. Ask your Replywise admin (tenant "
               + "admin) to raise it." };
  }
  if (err.status === 429) {
    const seconds = Math.max(1, err.retryAfter ?? 30);
    return { tone: "warning", action: null, retryAfter: seconds,
             text: `You've reached the drafting limit for now. Try again in ${seconds} s.` };
  }
  if (err.status === 503 && code === "overloaded") {
    // The service sheds new drafts while it catches up; retrying at once would only add to it.
    const seconds = Math.max(1, err.retryAfter ?? 5);
    return { tone: "warning", action: null, retryAfter: seconds,
             text: `Replywise is very busy right now. Try again in ${seconds} s.` };
  }
  if (err.status === 401 && code === "local_mode_loopback_only") {
    return { tone: "error", action: null, text: err.message };
  }
  if (err.status === 401 && (code === "consent_required" || code === "claims_challenge")) {
    return { tone: "warning", action: "signin",
             actionLabel: code === "consent_required" ? "Grant access" : "Sign in",
             claims: err.details.claims || undefined,
             text: code === "consent_required"
               ? "Replywise needs your permission to read this conversation. Grant access, "
                 + "then the draft starts again."
               : "Your organisation asks you to sign in again before Replywise can continue." };
  }
  if (err.status === 401 || SIGN_IN_CODES.has(code)) {
    return { tone: "warning", action: localMode ? null : "signin", actionLabel: "Sign in",
             text: localMode ? err.message || "This Replywise refused the request."
               : "You're signed out of Replywise. Sign in to draft replies." };
  }
  if (err.status === 403) {
    return { tone: "error", action: null,
             text: "Your account isn't allowed to draft replies with Replywise. Ask your "
               + "Replywise admin (tenant admin) for access." };
  }
  if (err.status === 413) {
    return { tone: "error", action: null,
             text: "This message is too long for Replywise to read. Try it on a shorter "
               + "message or thread." };
  }
  if (err.status === 422 && code === "pii_blocked") {
    const types = (err.details.types || []).join(", ");
    return { tone: "error", action: null,
             text: "This message contains personal data your organisation doesn't allow to be "
               + `sent to an AI provider${types ? ` (${types})` : ""}. Write this reply yourself, `
               + "or remove that data from your instructions." };
  }
  if (err.status === 400 || err.status === 422) {
    return { tone: "error", action: null,
             text: withRequestId(`Replywise couldn't use this message: ${err.message}`, err) };
  }
  if (err.status === 503 || err.status === 502 || err.status === 504) {
    return { tone: "error", action: "retry", actionLabel: "Try again",
             text: "Replywise is unavailable for a moment. Try again: if the AI providers are "
               + "still down, you'll get an offline draft to complete yourself." };
  }
  return { tone: "error", action: "retry", actionLabel: "Try again",
           text: withRequestId(err.message && err.kind === "stream"
             ? `The draft stopped: ${err.message}` : "Something went wrong on Replywise's side. "
               + "Try again.", err) };
}
