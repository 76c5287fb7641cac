// twofill's message catalogue: every message its parts send each other
// with chrome.runtime.sendMessage / chrome.tabs.sendMessage, in one place.
//
// Names are `<sender>.<request>`: the prefix says which part sends it, and
// so which senders a receiver accepts it from (`popup.*` only from our
// extension pages, `content.*` only from our content scripts).
//
//   name                    from → to           fields                  reply
//   content.scan            content → worker    page, confirmed?        fill plan
//   content.scan_for_token  content → worker    page, token, focused    fill plan
//   popup.fill_token        popup → content     token                   { filled, reason? }
//   popup.copy              popup → worker      text                    { ok, error? }
//   popup.clear_clipboard   popup → worker      afterMs                 { ok }
//   worker.policy_changed   worker → content    —                       —
//   worker.write_clipboard  worker → offscreen  text                    { ok }
//
// A fill plan is { action: "fill", fields, code, tokenLabel } |
// { action: "offer", fields, tokenLabel } | { action: "none", reason }.
//
// A classic script (the content scripts run it first, offscreen.html loads it
// with <script>) that the module loaders import for its effect; the Rust
// side's names are in crates/extension/src/messages.rs, tested against this.
globalThis.__twofillMessages ??= Object.freeze({
  CONTENT_SCAN: "content.scan",
  CONTENT_SCAN_FOR_TOKEN: "content.scan_for_token",
  POPUP_FILL_TOKEN: "popup.fill_token",
  POPUP_COPY: "popup.copy",
  POPUP_CLEAR_CLIPBOARD: "popup.clear_clipboard",
  WORKER_POLICY_CHANGED: "worker.policy_changed",
  WORKER_WRITE_CLIPBOARD: "worker.write_clipboard",
});
