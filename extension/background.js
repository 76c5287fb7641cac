// Service worker loader: starts the Rust/WASM core and routes events to it.
// Listeners are registered synchronously (an MV3 worker woken by an event
// must have its listener in place before the first await).
import init, { onContentMessage } from "./pkg/twofill_extension.js";

const ready = init({ module_or_path: chrome.runtime.getURL("pkg/twofill_extension_bg.wasm") });

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  // Only our own content scripts talk to us (no externally_connectable).
  if (sender.id !== chrome.runtime.id) return false;
  ready
    .then(() => onContentMessage(message, sender))
    .then(sendResponse, (err) => sendResponse({ action: "none", reason: String(err) }));
  return true; // reply asynchronously
});
