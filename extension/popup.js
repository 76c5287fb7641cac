import init, { hostStatus } from "./pkg/twofill_extension.js";

await init({ module_or_path: chrome.runtime.getURL("pkg/twofill_extension_bg.wasm") });
document.getElementById("status").textContent = await hostStatus();
