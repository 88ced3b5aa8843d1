// The playground: the pane outside Outlook, with sample messages in place of the mailbox, so
// someone can try Replywise from a plain browser. Insert shows what would go into the reply.

import { copyDraft } from "./clipboard.js";
import { textToHtml } from "./format.js";

const ME = { name: "Sam Lee", email: "sam.lee@contoso.example" };

/** Sample messages, shaped like office-host.js's readItem() result. */
export const SAMPLES = [
  {
    id: "questions", label: "Supplier with three questions (English)",
    subject: "Questions before we sign the renewal",
    from: { name: "Priya Natarajan", email: "priya.natarajan@fabrikam.example" },
    to: [ME], cc: [{ name: "Tom Becker", email: "tom.becker@contoso.example" }],
    date: "2026-11-23T09:12:00Z",
    bodyText: "Hi Sam,\n\nThanks for sending the renewal draft. Before we sign, a few questions:\n\n"
      + "1. Can the annual price stay at this year's rate if we commit for two years?\n"
      + "2. Is premium support included, or is it still an add-on?\n"
      + "3. When would the new contract start if we sign by 5 December?\n\n"
      + "Happy to jump on a call this week if that is easier.\n\nBest regards,\nPriya Natarajan\n"
      + "Procurement Lead, Fabrikam",
  },
  {
    id: "french", label: "Réunion de lancement (français)",
    subject: "Réunion de lancement du projet Atlas",
    from: { name: "Camille Moreau", email: "camille.moreau@northwind.example" },
    to: [ME], cc: [],
    date: "2026-11-24T14:30:00Z",
    bodyText: "Bonjour Sam,\n\nNous aimerions organiser la réunion de lancement du projet Atlas "
      + "la semaine prochaine. Seriez-vous disponible mardi ou jeudi après-midi ?\n\n"
      + "Pourriez-vous également nous envoyer la liste des participants de votre côté ?\n\n"
      + "Bien cordialement,\nCamille Moreau\nCheffe de projet, Northwind",
  },
  {
    id: "delivery", label: "Customer chasing a late delivery",
    subject: "Order 58213 still not delivered",
    from: { name: "Marcus Olsen", email: "marcus.olsen@tailspin.example" },
    to: [ME], cc: [],
    date: "2026-11-25T08:05:00Z",
    bodyText: "Hello,\n\nOur order 58213 was due last Friday and it still has not arrived. We "
      + "need the parts for a customer installation on Monday. Can you tell me where the "
      + "shipment is and whether it will make it in time?\n\nThanks,\nMarcus Olsen\n"
      + "Operations, Tailspin Toys",
  },
  {
    id: "reschedule", label: "Colleague moving a meeting",
    subject: "Can we move Thursday's budget review?",
    from: { name: "Aiko Tanaka", email: "aiko.tanaka@contoso.example" },
    to: [ME], cc: [{ name: "Finance team", email: "finance@contoso.example" }],
    date: "2026-11-25T16:40:00Z",
    bodyText: "Hi Sam,\n\nSomething came up on Thursday morning. Could we move the budget "
      + "review to Friday at 10:00, or early next week? Either works for me.\n\nThanks!\nAiko",
  },
];

/**
 * A sample as the pane's current item.
 * @param {string} id
 * @returns {object}
 */
export function sampleItem(id) {
  const sample = SAMPLES.find((s) => s.id === id) || SAMPLES[0];
  return { mode: "read", ...sample, internetMessageId: `<${sample.id}@replywise.example>`,
           conversationId: `playground-${sample.id}`, restId: null, bodyHtml: "",
           showBody: true };
}

/**
 * Show the reply the playground would open, and copy the draft.
 * @param {HTMLDialogElement} dialog the #preview-dialog element
 * @param {object} item the current sample
 * @param {{text: string, replyAll: boolean}} draft
 * @returns {Promise<{how: "preview", copied: boolean}>}
 */
export async function previewInsert(dialog, item, { text, replyAll }) {
  const copied = await copyDraft(text, textToHtml(text));
  const recipients = [item.from, ...(replyAll ? item.to.filter((p) => p.email !== ME.email) : [])];
  dialog.querySelector("#preview-to").textContent = recipients
    .map((p) => (p.name ? `${p.name} <${p.email}>` : p.email)).join("; ");
  dialog.querySelector("#preview-cc").textContent = replyAll && item.cc.length
    ? item.cc.map((p) => p.name || p.email).join("; ") : "—";
  dialog.querySelector("#preview-subject").textContent = /^re:/i.test(item.subject)
    ? item.subject : `RE: ${item.subject}`;
  // The body is built from escaped text, never from HTML received over the network.
  dialog.querySelector("#preview-body").innerHTML = textToHtml(text);
  dialog.querySelector("#preview-copied").hidden = !copied;
  dialog.showModal();
  return { how: "preview", copied };
}
