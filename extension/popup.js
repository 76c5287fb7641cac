// Popup loader: the UI is Rust (crates/extension/src/popup.rs).
import init, { startPopup } from "./pkg/twofill_extension.js";

await init({ module_or_path: chrome.runtime.getURL("pkg/twofill_extension_bg.wasm") });
await startPopup();
