// twofill's message catalogue: the name of every message its parts send each
// other, `<sender>.<request>`. The table of senders, receivers and fields is
// in ARCHITECTURE.md ("Messages inside the extension"); the Rust names are in
// crates/extension/src/messages.rs, tested against this file. A classic
// script: content scripts run it first, offscreen.html loads it, the module
// loaders import it for its effect.
globalThis.__twofillMessages ??= Object.freeze({
  CONTENT_SCAN: "content.scan",
  CONTENT_SCAN_FOR_TOKEN: "content.scan_for_token",
  CONTENT_WAIT_SMS: "content.wait_sms",
  CONTENT_SMS_GONE: "content.sms_gone",
  POPUP_FILL_TOKEN: "popup.fill_token",
  POPUP_COPY: "popup.copy",
  POPUP_CLEAR_CLIPBOARD: "popup.clear_clipboard",
  WORKER_POLICY_CHANGED: "worker.policy_changed",
  WORKER_WRITE_CLIPBOARD: "worker.write_clipboard",
});
