//! What the install tests share. The `.reg` reader is also the host's
//! tests' (`system_install` reads `twofill-host install --os windows` output
//! with it), one copy here next to the crate that writes `.reg` files.

pub mod regfile;
