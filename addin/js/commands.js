// Handlers for ExecuteFunction ribbon commands (the manifest's <FunctionFile> page).
//
// A classic script, not a module: function files run in whatever runtime the client gives
// them, and older ones look handlers up by global name. Every handler must call
// event.completed(), whatever happens, or Outlook shows a spinner and then an error.

/* global Office */
(function () {
  "use strict";

  const NOTIFICATION_KEY = "replywise-status";

  /**
   * Wrap a handler so event.completed() always runs, even when it throws or rejects.
   * @param {(event: object) => Promise<void>|void} handler
   * @returns {(event: object) => Promise<void>}
   */
  function command(handler) {
    return async function (event) {
      try {
        await handler(event);
      } catch (err) {
        console.error("Replywise command failed", err);
      } finally {
        event.completed();
      }
    };
  }

  function notify(type, message) {
    const item = Office.context.mailbox && Office.context.mailbox.item;
    if (!item || !item.notificationMessages) return Promise.resolve();
    const details = { type: type, message: message.slice(0, 150) };
    if (type === Office.MailboxEnums.ItemNotificationMessageType.InformationalMessage) {
      details.icon = "Icon.16"; // the manifest's 16 px icon resource
      details.persistent = false;
    }
    return new Promise(function (resolve) {
      item.notificationMessages.replaceAsync(NOTIFICATION_KEY, details, function () { resolve(); });
    });
  }

  /**
   * "Check Replywise": tells the user, on the item, whether the Replywise service answers.
   * @param {object} event the command event
   */
  async function checkReplywiseConnection(event) {
    const types = Office.MailboxEnums.ItemNotificationMessageType;
    let healthy = false;
    try {
      // Relative to /addin/commands.html, so a path prefix in front of Replywise still works.
      const response = await fetch(new URL("../healthz", document.baseURI), { cache: "no-store" });
      healthy = response.ok;
    } catch (err) {
      healthy = false;
    }
    await notify(healthy ? types.InformationalMessage : types.ErrorMessage, healthy
      ? "Replywise is ready: choose Draft reply to open it."
      : "Replywise can't reach its service right now. Try again later or tell your admin.");
  }

  const ACTIONS = { checkReplywiseConnection: command(checkReplywiseConnection) };

  // Clients without Office.actions find handlers by their global name.
  for (const name of Object.keys(ACTIONS)) window[name] = ACTIONS[name];
  if (typeof Office === "undefined") return; // office.js did not load: nothing can call us
  Office.onReady(function () {
    for (const name of Object.keys(ACTIONS)) {
      if (Office.actions && typeof Office.actions.associate === "function") {
        Office.actions.associate(name, ACTIONS[name]);
      }
    }
  });
})();
