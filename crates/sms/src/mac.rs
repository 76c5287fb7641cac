//! MACs and the one comparison every signature check goes through.

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

pub(crate) fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha512(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha512> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_md5(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

pub(crate) fn md5(msg: &[u8]) -> Vec<u8> {
    Md5::digest(msg).to_vec()
}

pub(crate) fn sha256(msg: &[u8]) -> Vec<u8> {
    Sha256::digest(msg).to_vec()
}

/// Equal, in time that depends only on the lengths (which are public: a
/// digest's size).
pub(crate) fn same(expected: &[u8], given: &[u8]) -> bool {
    expected.ct_eq(given).into()
}

/// `given` as hex (either case) equals `expected`'s bytes. Bad hex is
/// simply not equal.
pub(crate) fn same_hex(expected: &[u8], given: &str) -> bool {
    match hex::decode(given.trim()) {
        Ok(bytes) => same(expected, &bytes),
        Err(_) => false,
    }
}
