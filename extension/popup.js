// Popup loader: the UI is Rust (crates/extension/src/popup/), filling the
// markup and <template>s in popup.html.
import "./native.js";
import init, { startPopup } from "./pkg/twofill_popup.js";

// The organization changed its policy while the popup is open: start over.
chrome.storage.onChanged.addListener((_changes, area) => {
  if (area === "managed") location.reload();
});

await init({ module_or_path: chrome.runtime.getURL("pkg/twofill_popup_bg.wasm") });
await startPopup();
