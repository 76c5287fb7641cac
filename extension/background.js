// Service worker loader: starts the Rust/WASM core and routes events to it.
// Listeners are registered synchronously (an MV3 worker woken by an event
// must have its listener in place before the first await).
import "./messages.js";
import "./native.js";
import init, { onContentMessage, policyChanged, tabNavigated } from "./pkg/twofill_worker.js";

const MSG = globalThis.__twofillMessages;

const ready = init({ module_or_path: chrome.runtime.getURL("pkg/twofill_worker_bg.wasm") });

const CLEAR_ALARM = "twofill-clear-clipboard";
const extensionPage = (sender) => sender.url?.startsWith(chrome.runtime.getURL(""));
// Which part sent a message, by its name's prefix (messages.js).
const sentBy = (message, part) => typeof message?.type === "string" && message.type.startsWith(`${part}.`);

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // Only our own content scripts and pages talk to us (no externally_connectable).
  if (sender.id !== chrome.runtime.id) return false;
  if (sentBy(message, "popup")) {
    // Clipboard chores for the popup; never for content scripts.
    if (!extensionPage(sender)) return false;
    popupMessage(message).then(sendResponse, (err) => sendResponse({ ok: false, error: String(err) }));
    return true;
  }
  if (sentBy(message, "worker") || extensionPage(sender)) return false;
  ready
    .then(() => onContentMessage(message, sender))
    .then(sendResponse, (err) => sendResponse({ action: "none", reason: String(err) }));
  return true; // reply asynchronously
});

// Organization policy (storage.managed) applies live: an admin's change, or
// the values that arrive a few seconds after a force-install, take effect
// without a restart. Open pages look again, so a prompt already on screen
// follows the new policy (a fill turned on, an offer button turned off).
chrome.storage.onChanged.addListener((_changes, area) => {
  if (area !== "managed") return;
  ready.then(() => policyChanged());
  chrome.tabs.query({}).then((tabs) => {
    for (const tab of tabs) chrome.tabs.sendMessage(tab.id, { type: MSG.WORKER_POLICY_CHANGED }).catch(() => {});
  });
});

// A tab loading another page (or closed) ends its SMS waits.
chrome.tabs.onUpdated.addListener((tabId, changeInfo) => {
  if (changeInfo.status === "loading") ready.then(() => tabNavigated(tabId));
});
chrome.tabs.onRemoved.addListener((tabId) => ready.then(() => tabNavigated(tabId)));

async function popupMessage(message) {
  switch (message.type) {
    case MSG.POPUP_COPY:
      return writeClipboard(String(message.text ?? ""));
    case MSG.POPUP_CLEAR_CLIPBOARD: {
      // An alarm survives the popup closing and this worker being stopped.
      // The clipboard cannot be read without the clipboardRead permission,
      // so it is cleared unconditionally: a later copy of something else
      // within the delay is cleared too (a new code copy restarts the delay).
      const ms = Math.min(Math.max(Number(message.afterMs) || 30000, 1000), 600000);
      await chrome.alarms.create(CLEAR_ALARM, { when: Date.now() + ms });
      return { ok: true };
    }
    default:
      return { ok: false, error: "unknown popup message" };
  }
}

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === CLEAR_ALARM) writeClipboard("").catch(() => {});
});

async function writeClipboard(text) {
  // Firefox has no offscreen documents, but its background is an event page
  // where clipboardWrite allows writing without a user gesture.
  if (!chrome.offscreen) {
    await navigator.clipboard.writeText(text);
    return { ok: true };
  }
  const url = chrome.runtime.getURL("offscreen.html");
  const existing = await chrome.runtime.getContexts({
    contextTypes: ["OFFSCREEN_DOCUMENT"],
    documentUrls: [url],
  });
  if (existing.length === 0) {
    try {
      await chrome.offscreen.createDocument({
        url,
        reasons: ["CLIPBOARD"],
        justification: "Copy a code and clear it from the clipboard after a delay",
      });
    } catch (err) {
      // Another call created it in the meantime.
      if (!String(err).includes("single offscreen")) throw err;
    }
  }
  const reply = await chrome.runtime.sendMessage({ type: MSG.WORKER_WRITE_CLIPBOARD, text });
  return { ok: Boolean(reply?.ok) };
}
