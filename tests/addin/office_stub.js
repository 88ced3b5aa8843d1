// A stand-in for https://appsforoffice.microsoft.com/lib/1/hosted/office.js, served to the
// taskpane by Playwright's request interception. It models the parts of Office.js Replywise
// uses, with the behaviour that matters (the 32 KB reply-form limit throws, requirement sets
// gate APIs, compose bodies have a type), and records every call in window.__officeCalls.
//
// Configure it before the page loads with window.__officeConfig = {
//   host: "Outlook" | null,            // null: a plain browser, as real office.js reports it
//   mode: "read" | "compose",
//   sets: {Mailbox: "1.9", NestedAppAuth: null},   // highest version supported, or null
//   bodyType: "html" | "text",          // compose body type
//   item: {...},                        // field overrides (see defaults below)
//   theme: {...} | null,                // Office.context.officeTheme
//   failSetSelectedData: bool, failPrepend: bool, failReplyForm: bool,
//   accessToken: "…"                    // what Office.auth.getAccessToken resolves to
// }
// Test helpers: window.__officeSelect(itemConfig | null) fires ItemChanged with a new item;
// window.__officeInvoke(name) runs an associated command and resolves when completed().
(function () {
  "use strict";
  const config = Object.assign({
    host: "Outlook", mode: "read", sets: { Mailbox: "1.9", NestedAppAuth: null },
    bodyType: "html", theme: null, item: {},
  }, window.__officeConfig || {});
  const calls = [];
  window.__officeCalls = calls;
  const record = (method, args) => calls.push({ method, args: JSON.parse(JSON.stringify(args)) });

  const Succeeded = "succeeded";
  const Failed = "failed";
  const CoercionType = { Html: "html", Text: "text" };

  function done(callback, value, asyncContext) {
    if (typeof callback === "function") {
      setTimeout(() => callback({ status: Succeeded, value, asyncContext }), 0);
    }
  }
  function failed(callback, message) {
    if (typeof callback === "function") {
      setTimeout(() => callback({ status: Failed, error: { name: "GenericError", code: 9000,
                                                             message } }), 0);
    }
  }
  // Office.js methods take (args..., [options], [callback]): find the callback wherever it is.
  function split(args) {
    const list = [...args];
    const callback = typeof list[list.length - 1] === "function" ? list.pop() : null;
    return { list, callback };
  }

  function versionAtLeast(have, want) {
    if (!have) return false;
    const a = String(have).split(".").map(Number);
    const b = String(want).split(".").map(Number);
    for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
      if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
    }
    return true;
  }
  const supports = (name, version) => versionAtLeast(config.sets[name], version || "1.1");

  const defaults = {
    subject: "Quarterly numbers",
    from: { displayName: "Jane Doe", emailAddress: "jane.doe@fabrikam.example" },
    to: [{ displayName: "Sam Lee", emailAddress: "sam.lee@contoso.example" }],
    cc: [{ displayName: "Tom Becker", emailAddress: "tom.becker@contoso.example" }],
    dateTimeCreated: "2026-11-20T10:00:00Z",
    internetMessageId: "<quarterly-42@fabrikam.example>",
    conversationId: "AAQkADAwATM0MDAAMS1iNmQ",
    itemId: "AAMkAGE1M2IyNGNmLTI5MTktNDUyZi1iOTVhLTQyNmMxN2IzMGRjYgBGAAAAAAA=",
    bodyHtml: "<p>Hi Sam,</p><p>Could you send me the quarterly numbers by Friday?</p>"
      + "<p>Thanks,<br>Jane</p>",
    bodyText: "Hi Sam,\n\nCould you send me the quarterly numbers by Friday?\n\nThanks,\nJane",
  };

  function makeBody(fields, mode) {
    const body = {
      getAsync(...args) {
        const { list, callback } = split(args);
        record("body.getAsync", list);
        done(callback, list[0] === CoercionType.Html ? fields.bodyHtml : fields.bodyText);
      },
    };
    if (mode === "compose") {
      body.getTypeAsync = (...args) => {
        const { list, callback } = split(args);
        record("body.getTypeAsync", list);
        done(callback, config.bodyType === "text" ? CoercionType.Text : CoercionType.Html);
      };
      body.setSelectedDataAsync = (...args) => {
        const { list, callback } = split(args);
        record("body.setSelectedDataAsync", list);
        if (config.failSetSelectedData) failed(callback, "No cursor");
        else done(callback);
      };
      body.prependAsync = (...args) => {
        const { list, callback } = split(args);
        record("body.prependAsync", list);
        if (config.failPrepend) failed(callback, "Cannot prepend");
        else done(callback);
      };
    }
    return body;
  }

  function getter(name, value) {
    return { getAsync(...args) {
      const { list, callback } = split(args);
      record(`${name}.getAsync`, list);
      done(callback, value);
    } };
  }

  function replyForm(name, isAsync) {
    return function (formData, ...rest) {
      const { callback } = split(rest);
      const html = typeof formData === "string" ? formData : (formData && formData.htmlBody) || "";
      record(name, [formData]);
      // As documented: htmlBody is limited to 32 KB and the call throws above it.
      if (html.length > 32 * 1024) throw new Error("Sys.ArgumentException: htmlBody exceeds 32 KB");
      if (!isAsync) return undefined;
      if (config.failReplyForm) failed(callback, "Reply form refused");
      else done(callback);
      return undefined;
    };
  }

  function makeItem(overrides, mode) {
    if (overrides === null) return null;
    const fields = Object.assign({}, defaults, overrides);
    const item = {
      itemType: "message", conversationId: fields.conversationId, body: makeBody(fields, mode),
      notificationMessages: { replaceAsync(...args) {
        const { list, callback } = split(args);
        record("notificationMessages.replaceAsync", list);
        done(callback);
      } },
    };
    if (mode === "compose") {
      Object.assign(item, {
        subject: getter("subject", fields.subject), to: getter("to", fields.to),
        cc: getter("cc", fields.cc),
        from: getter("from", { displayName: "Sam Lee", emailAddress: "sam.lee@contoso.example" }),
      });
      return item;
    }
    Object.assign(item, {
      subject: fields.subject, from: fields.from, sender: fields.from, to: fields.to,
      cc: fields.cc, dateTimeCreated: new Date(fields.dateTimeCreated),
      internetMessageId: fields.internetMessageId, itemId: fields.itemId,
      displayReplyAllForm: replyForm("displayReplyAllForm", false),
      displayReplyForm: replyForm("displayReplyForm", false),
    });
    // Clients below Mailbox 1.9 (Outlook mobile among them) have only the synchronous forms.
    if (supports("Mailbox", "1.9")) {
      item.displayReplyAllFormAsync = replyForm("displayReplyAllFormAsync", true);
      item.displayReplyFormAsync = replyForm("displayReplyFormAsync", true);
    }
    return item;
  }

  const handlers = [];
  const actions = {};
  const mailbox = {
    item: makeItem(config.item, config.mode),
    userProfile: { displayName: "Sam Lee", emailAddress: "sam.lee@contoso.example" },
    addHandlerAsync(...args) {
      const { list, callback } = split(args);
      record("mailbox.addHandlerAsync", [list[0]]);
      if (list[0] === "olkItemSelectedChanged" && supports("Mailbox", "1.5")) {
        handlers.push(list[1]);
        done(callback);
      } else {
        failed(callback, "Event not supported");
      }
    },
    convertToRestId(id, version) {
      record("mailbox.convertToRestId", [id, version]);
      return String(id).replace(/\//g, "-").replace(/\+/g, "_");
    },
  };

  const ready = { host: config.host, platform: config.host ? "OfficeOnline" : null };
  window.Office = {
    HostType: { Outlook: "Outlook" },
    CoercionType,
    AsyncResultStatus: { Succeeded, Failed },
    EventType: { ItemChanged: "olkItemSelectedChanged" },
    MailboxEnums: {
      BodyMode: { FullBody: 0, HostConfig: 1 }, RestVersion: { v2_0: "v2.0" },
      ItemNotificationMessageType: { InformationalMessage: "informationalMessage",
                                     ErrorMessage: "errorMessage" },
    },
    onReady(callback) {
      record("Office.onReady", []);
      if (typeof callback === "function") setTimeout(() => callback(ready), 0);
      return Promise.resolve(ready);
    },
    context: config.host ? {
      mailbox,
      officeTheme: config.theme || undefined,
      requirements: { isSetSupported(name, version) {
        record("requirements.isSetSupported", [name, version]);
        return supports(name, version);
      } },
    } : {},
    auth: { getAccessToken(options) {
      record("auth.getAccessToken", [options || {}]);
      return Promise.resolve(config.accessToken || "office-sso-token");
    } },
    actions: { associate(name, handler) {
      record("actions.associate", [name]);
      actions[name] = handler;
    } },
  };

  window.__officeSelect = function (itemConfig) {
    mailbox.item = makeItem(itemConfig, config.mode);
    for (const handler of handlers) handler({ type: "olkItemSelectedChanged" });
  };
  window.__officeInvoke = function (name) {
    return new Promise((resolve) => {
      actions[name]({ source: { id: name }, completed(options) {
        record("event.completed", [options || {}]);
        resolve(true);
      } });
    });
  };
})();
