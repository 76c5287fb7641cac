//! The team server's request bodies, and the replies the host reads back,
//! decoded from arbitrary bytes (`serde_json::from_slice` into each
//! `twofill_team_api` type, as `twofill-server` and `twofill-host` do), and
//! invites parsed from arbitrary text.
//!
//! Properties:
//! - never panics (deep nesting, huge numbers, invalid UTF-8, duplicate keys,
//!   fields in flattened structs);
//! - a decoded value re-encodes to JSON that decodes to the same value;
//! - an invite that parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use twofill_team_api::{
    CodeRequest, DevicesReply, ErrorReply, Invite, InviteReply, InviteRequest, JoinReply,
    JoinRequest, PushReply, PushRequest, RecoveryCodeReply, RecoveryCodeRequest, SeedRequest,
    TokensReply, TokensRequest, WhoAmIReply, WhoAmIRequest,
};

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&value).expect("API bodies serialise");
        let again: T = serde_json::from_slice(&json).expect("a re-encoded body decodes");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trips::<JoinRequest>(data);
    round_trips::<WhoAmIRequest>(data);
    round_trips::<TokensRequest>(data);
    round_trips::<CodeRequest>(data);
    round_trips::<SeedRequest>(data);
    round_trips::<RecoveryCodeRequest>(data);
    round_trips::<RecoveryCodeReply>(data);
    round_trips::<InviteRequest>(data);
    round_trips::<PushRequest>(data);
    round_trips::<JoinReply>(data);
    round_trips::<WhoAmIReply>(data);
    round_trips::<TokensReply>(data);
    round_trips::<InviteReply>(data);
    round_trips::<DevicesReply>(data);
    round_trips::<PushReply>(data);
    round_trips::<ErrorReply>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(invite) = text.parse::<Invite>() {
            assert_eq!(invite.to_string().parse::<Invite>().unwrap(), invite);
        }
        let _ = Invite::parse_secret(text);
    }
});
