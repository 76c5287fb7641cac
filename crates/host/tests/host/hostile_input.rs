//! The live host against hostile input: every message a compromised or
//! buggy caller could send. Each case must end in a structured error reply
//! (and the loop going on) or a clean exit: never a crash, never a hang,
//! never a code, and never a change to the vault beyond refusal records.
//!
//! Every read has a timeout, so a hang fails the test instead of CI.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};
use twofill_words::{Access, AuditAction};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const MIB: usize = 1024 * 1024;
/// Longest any single reply or exit may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// alice: admin. bob: `ops`, code-only on the token bound to my.kaspersky.com.
/// The host runs with its built-in defaults, fill rate limit included.
fn team() -> (Env, String) {
    let env = Env::new();
    env.set_config("");
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
    ] {
        env.ok("alice", &args);
    }
    (env, id)
}

/// What the vault holds, as an admin sees it, and how long its audit log is.
struct Snapshot {
    state: Vec<String>,
    audit_len: usize,
}

fn snapshot(env: &Env, token: &str) -> Snapshot {
    let state = [
        vec!["token", "list", "--json"],
        vec!["token", "show", token, "--json"],
        vec!["group", "list", "--json"],
        vec!["user", "list", "--json"],
    ]
    .iter()
    .map(|args| env.ok("alice", args))
    .collect();
    Snapshot {
        state,
        audit_len: env.audit("alice").len(),
    }
}

/// The vault is as it was, except for appended refusal records; the audit
/// chain verifies.
fn assert_unchanged(env: &Env, token: &str, before: &Snapshot) {
    let after = snapshot(env, token);
    assert_eq!(after.state, before.state, "the vault changed");
    let records = env.audit("alice");
    for r in &records[before.audit_len..] {
        assert_eq!(r["event"]["outcome"], "failure", "unexpected record {r}");
    }
    let out = env.ok("alice", &["audit", "verify"]);
    assert!(out.contains("audit log OK"), "{out}");
}

/// A host process with a reader thread, so that every read can time out.
struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Option<(usize, Value)>>,
}

impl Live {
    fn launch(env: &Env, user: &str) -> Live {
        let mut child = env.spawn_host(user, &EXTENSION_ORIGIN);
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            loop {
                let mut header = [0u8; 4];
                if stdout.read_exact(&mut header).is_err() {
                    let _ = tx.send(None);
                    return;
                }
                let len = u32::from_ne_bytes(header) as usize;
                assert!(len <= MIB, "the host sent a {len} byte frame");
                let mut payload = vec![0u8; len];
                stdout.read_exact(&mut payload).expect("a whole frame");
                let value = serde_json::from_slice(&payload).expect("replies are JSON");
                if tx.send(Some((len, value))).is_err() {
                    return;
                }
            }
        });
        Live {
            child,
            stdin,
            replies,
        }
    }

    /// Raw bytes, no header. Errors (the host may have exited) are returned.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    fn send(&mut self, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(payload);
        self.write(&frame).expect("the host reads its input");
    }

    /// The next reply and its frame size; fails on timeout or EOF.
    fn reply_sized(&self) -> (usize, Value) {
        match self.replies.recv_timeout(TIMEOUT) {
            Ok(Some(r)) => r,
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                panic!("the host closed stdout without a reply")
            }
            Err(RecvTimeoutError::Timeout) => panic!("no reply within {TIMEOUT:?}: the host hangs"),
        }
    }

    fn reply(&self) -> Value {
        let (_, v) = self.reply_sized();
        assert_ne!(v["error"]["code"], "internal", "{v}");
        v
    }

    fn ask(&mut self, payload: &[u8]) -> Value {
        self.send(payload);
        self.reply()
    }

    fn ask_json(&mut self, request: &Value) -> Value {
        self.ask(request.to_string().as_bytes())
    }

    /// Stdout reaches EOF with no further reply.
    fn assert_no_more_replies(&self) {
        match self.replies.recv_timeout(TIMEOUT) {
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {}
            Ok(Some((_, v))) => panic!("unexpected reply {v}"),
            Err(RecvTimeoutError::Timeout) => panic!("stdout still open after {TIMEOUT:?}"),
        }
    }

    /// Waits for the process to end by itself; kills it and fails after
    /// the timeout.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_clean(status);
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the host did not exit within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes stdin as the browser does; the host must exit.
    fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.wait()
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Not killed by a signal (stack overflow, abort) and no panic exit.
fn assert_clean(status: ExitStatus) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.signal().is_none(),
            "the host was killed by signal {:?}",
            status.signal()
        );
    }
    assert_ne!(status.code(), Some(101), "the host panicked");
}

fn assert_error(reply: &Value, code: &str, what: &str) {
    assert_eq!(reply["type"], "error", "{what}: {reply}");
    assert_eq!(reply["error"]["code"], code, "{what}: {reply}");
    assert!(
        !reply["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{what}: {reply}"
    );
    assert!(reply.get("code").is_none(), "{what}: {reply}");
}

fn hello(live: &mut Live) {
    let reply = live.ask_json(&json!({"v": 1, "id": "still-there", "type": "hello"}));
    assert_eq!(reply["type"], "hello", "{reply}");
    assert_eq!(reply["id"], "still-there");
}

#[test]
fn oversized_length_headers_are_answered_then_the_host_exits() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    for (len, tail) in [
        (u32::MAX, &b""[..]),
        (0x8000_0000, b""),
        (
            (MIB + 1) as u32,
            b"{\"v\":1,\"id\":\"a\",\"type\":\"hello\"}",
        ),
        (16 * MIB as u32, b"[[[["),
    ] {
        let mut live = Live::launch(&env, "bob");
        let mut bytes = len.to_ne_bytes().to_vec();
        bytes.extend_from_slice(tail);
        live.write(&bytes).unwrap();
        let reply = live.reply();
        assert_error(&reply, "frame_too_large", &format!("header {len}"));
        assert_eq!(reply["id"], Value::Null);
        live.assert_no_more_replies();
        // The host exits by itself, stdin still open: it must not wait for
        // (or try to skip) the announced bytes.
        let status = live.wait();
        assert!(!status.success(), "header {len}");
    }
    assert_unchanged(&env, &token, &before);
}

#[test]
fn a_frame_of_exactly_one_mebibyte_is_read() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    let request = br#"{"v":1,"id":"big","type":"hello"}"#;
    let mut payload = vec![b' '; MIB - request.len()];
    payload.extend_from_slice(request);
    assert_eq!(payload.len(), MIB);
    let reply = live.ask(&payload);
    assert_eq!(reply["type"], "hello", "{reply}");
    assert_eq!(reply["id"], "big");
    // One more than that is refused from the header alone.
    let mut frame = ((MIB + 1) as u32).to_ne_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame.push(b' ');
    let _ = live.write(&frame); // the host may stop reading at once
    assert_error(&live.reply(), "frame_too_large", "1 MiB + 1");
    live.wait();
    assert_unchanged(&env, &token, &before);
}

#[test]
fn truncated_frames_end_the_host_cleanly_without_hanging() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let cases: [(&str, Vec<u8>); 4] = [
        ("payload cut short", {
            let mut b = 100u32.to_ne_bytes().to_vec();
            b.extend_from_slice(b"0123456789");
            b
        }),
        ("header cut short", vec![7, 0]),
        (
            "1 MiB announced, nothing sent",
            (MIB as u32).to_ne_bytes().to_vec(),
        ),
        ("a good frame, then a cut one", {
            let good = br#"{"v":1,"id":"ok","type":"hello"}"#;
            let mut b = (good.len() as u32).to_ne_bytes().to_vec();
            b.extend_from_slice(good);
            b.extend_from_slice(&50u32.to_ne_bytes());
            b.extend_from_slice(br#"{"v":1,"id":"#);
            b
        }),
    ];
    for (what, bytes) in cases {
        let mut live = Live::launch(&env, "bob");
        live.write(&bytes).unwrap();
        drop(live.stdin.take()); // EOF inside the frame
        let mut replies = Vec::new();
        while let Ok(Some((_, v))) = live.replies.recv_timeout(TIMEOUT) {
            replies.push(v);
        }
        let status = live.wait();
        assert!(!status.success(), "{what}: a cut frame is not a clean end");
        let last = replies.last().unwrap_or_else(|| panic!("{what}: no reply"));
        assert_error(last, "bad_request", what);
        assert!(
            last["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ended inside a frame"),
            "{what}: {last}"
        );
        if what.starts_with("a good frame") {
            assert_eq!(replies[0]["type"], "hello");
        }
    }
    assert_unchanged(&env, &token, &before);
}

#[test]
fn invalid_utf8_is_bad_json_and_the_loop_goes_on() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    for bytes in [
        &b"\xff"[..],
        b"\xc0\xaf",         // overlong '/'
        b"\xed\xa0\x80",     // UTF-16 surrogate
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"{\"v\":1,\"id\":\"a\xff\",\"type\":\"hello\"}",
        b"{\"v\":1,\"id\":\"a\",\"type\":\"get_code\",\"origin\":\"https://my.kaspersky.com\xc3\"}",
        b"\xef\xbb\xbf{\"v\":1,\"id\":\"a\",\"type\":\"hello\"}", // BOM
        b"\x00",
        b"",
    ] {
        let reply = live.ask(bytes);
        assert_error(&reply, "bad_json", &format!("{bytes:?}"));
        assert_eq!(reply["id"], Value::Null, "{reply}");
    }
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn deep_nesting_is_a_structured_error_not_a_stack_overflow() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    let deep = 100_000;
    let cases = [
        "[".repeat(deep),
        format!("{}{}", "[".repeat(deep), "]".repeat(deep)),
        format!("{}1{}", "{\"a\":".repeat(deep), "}".repeat(deep)),
        format!(
            r#"{{"v":1,"id":"a","type":"get_code","origin":{}"x"{}}}"#,
            "[".repeat(deep),
            "]".repeat(deep)
        ),
        format!(
            r#"{{"v":1,"id":"a","type":"hello","x":{}null{}}}"#,
            "{\"y\":".repeat(deep),
            "}".repeat(deep)
        ),
    ];
    for payload in &cases {
        let reply = live.ask(payload.as_bytes());
        assert_error(&reply, "bad_json", &payload[..40]);
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("recursion limit"),
            "{reply}"
        );
    }
    // Just inside the limit is fine (and still not a request).
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_error(&live.ask(ok.as_bytes()), "bad_request", "depth 100");
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn huge_fields_get_small_bounded_replies() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    // Fill a frame to just under 1 MiB around a field value.
    let fill = |template: &str| {
        let room = MIB - template.len() + 2; // "{}" is replaced
        template.replace("{}", &"x".repeat(room))
    };
    let cases = [
        (
            fill(r#"{"v":1,"id":"{}","type":"hello"}"#),
            "bad_request",
            false,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"get_code","origin":"https://{}.example"}"#),
            "bad_request",
            true,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"get_code","token":"{}","purpose":"copy"}"#),
            "bad_request",
            true,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"reveal_seed","token":"{}"}"#),
            "bad_request",
            true,
        ),
        (
            fill(
                r#"{"v":1,"id":"a","type":"get_code","origin":"https://x.example","purpose":"{}"}"#,
            ),
            "bad_request",
            true,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"{}"}"#),
            "unknown_type",
            true,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"get_code","{}":1}"#),
            "bad_request",
            true,
        ),
        (
            fill(r#"{"v":1,"id":"a","type":"list_tokens","origin":"{}"}"#),
            "bad_request",
            true,
        ),
        (
            format!(
                r#"{{"v":1,"id":"a","type":"get_code","origin":[{}0]}}"#,
                "0,".repeat(MIB / 2 - 40)
            ),
            "bad_request",
            true,
        ),
        (
            format!(
                r#"{{"v":1,"id":"a","type":"get_code",{}"z":0}}"#,
                (0..60_000)
                    .map(|i| format!(r#""k{i}":0,"#))
                    .collect::<String>()
            ),
            "bad_request",
            true,
        ),
    ];
    for (payload, code, has_id) in &cases {
        assert!(payload.len() <= MIB);
        live.send(payload.as_bytes());
        let (size, reply) = live.reply_sized();
        let what = &payload[..60];
        assert_error(&reply, code, what);
        assert!(size < 2048, "{what}: a {size} byte reply");
        assert_eq!(
            reply["id"],
            if *has_id { json!("a") } else { Value::Null },
            "{what}"
        );
    }
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn unknown_actions_are_refused_by_name() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    for kind in [
        "get_seed",
        "GET_CODE",
        "Get_Code",
        "get_code ",
        " get_code",
        "get_code\u{0}",
        "get\u{200b}_code", // zero-width space
        "",
        "error",
        "code",
        "tokens",
        "__proto__",
        "add_token",
        "grant_set",
    ] {
        let reply = live.ask_json(&json!({"v": 1, "id": "a", "type": kind,
            "origin": "https://my.kaspersky.com"}));
        assert_error(&reply, "unknown_type", kind);
        assert_eq!(reply["id"], "a");
    }
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn wrong_types_nulls_and_numbers_as_strings_for_every_field() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    // A request that is complete and well-typed, for an origin with no
    // token: every variant below must fail, none may yield a code.
    let base = json!({"v": 1, "id": "a", "type": "get_code",
        "origin": "https://evil.example", "token": token, "purpose": "fill"});
    let wrong = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(18446744073709551615u64),
        json!("1"),
        json!(""),
        json!([]),
        json!(["https://my.kaspersky.com"]),
        json!({}),
        json!({"origin": "https://my.kaspersky.com"}),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut n = 0;
    let fields = [
        "v",
        "id",
        "type",
        "origin",
        "token",
        "purpose",
        "exclude_personal",
    ];
    for field in fields {
        for value in &wrong {
            let mut request = base.clone();
            request[field] = value.clone();
            let reply = live.ask_json(&request);
            let what = format!("{field} = {value}");
            assert_eq!(reply["type"], "error", "{what}: {reply}");
            assert!(reply.get("code").is_none(), "{what}: {reply}");
            let code = reply["error"]["code"].as_str().unwrap().to_owned();
            assert!(
                [
                    "bad_request",
                    "unsupported_version",
                    "unknown_type",
                    "origin_required",
                    "no_token_for_origin",
                    "no_such_token",
                    "bad_origin",
                ]
                .contains(&code.as_str()),
                "{what}: {reply}"
            );
            seen.insert(code);
            n += 1;
        }
    }
    assert_eq!(n, fields.len() * wrong.len());
    assert!(seen.contains("bad_request"), "{seen:?}");
    // Whole-message shapes.
    for payload in [
        "null",
        "true",
        "0",
        "\"hello\"",
        "[]",
        "{}",
        "[{\"v\":1}]",
        "1e999",
    ] {
        let reply = live.ask(payload.as_bytes());
        assert_eq!(reply["type"], "error", "{payload}: {reply}");
        assert!(
            ["bad_json", "bad_request"].contains(&reply["error"]["code"].as_str().unwrap()),
            "{payload}: {reply}"
        );
    }
    // Numbers as strings, strings as numbers.
    for (request, code) in [
        (json!({"v": "1", "id": "a", "type": "hello"}), "bad_request"),
        (json!({"v": 1, "id": 1, "type": "hello"}), "bad_request"),
        (
            json!({"v": 1.0, "id": "a", "type": "hello"}),
            "unsupported_version",
        ),
        (json!({"v": 1, "id": "a", "type": 1}), "bad_request"),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "purpose": 0}),
            "bad_request",
        ),
    ] {
        assert_error(&live.ask_json(&request), code, &request.to_string());
    }
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn duplicate_keys_are_refused_whichever_comes_first() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    for payload in [
        r#"{"v":1,"id":"a","type":"get_code","origin":"https://evil.example","origin":"https://my.kaspersky.com"}"#,
        r#"{"v":1,"id":"a","type":"get_code","origin":"https://my.kaspersky.com","origin":"https://evil.example"}"#,
        r#"{"v":1,"id":"a","type":"hello","type":"get_code","origin":"https://my.kaspersky.com"}"#,
        r#"{"v":1,"id":"a","id":"b","type":"hello"}"#,
        r#"{"v":1,"v":2,"id":"a","type":"hello"}"#,
        r#"{"v":1,"id":"a","type":"get_code","origin":"https://my.kaspersky.com","purpose":"fill","purpose":"copy"}"#,
        r#"{"v":1,"id":"a","type":"get_code","origin":"https://my.kaspersky.com","\u006frigin":"https://evil.example"}"#,
        r#"{"v":1,"id":"a","type":"get_code","origin":"https://my.kaspersky.com","exclude_personal":true,"exclude_personal":false}"#,
        r#"{"v":1,"id":"a","type":"list_tokens","exclude_personal":false,"exclude_personal":true}"#,
    ] {
        let reply = live.ask(payload.as_bytes());
        assert_error(&reply, "bad_json", payload);
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("duplicate key"),
            "{reply}"
        );
    }
    hello(&mut live);
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn a_flood_of_ten_thousand_pipelined_requests_is_answered_in_bounded_memory() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    let n = 10_000;
    let mut stream = Vec::new();
    let mut expect = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("f{i}");
        let (payload, want) = match i % 6 {
            0 => (
                json!({"v": 1, "id": id, "type": "hello"}).to_string(),
                "hello",
            ),
            1 => (
                json!({"v": 1, "id": id, "type": "list_tokens",
                    "origin": "https://my.kaspersky.com"})
                .to_string(),
                "tokens",
            ),
            2 => (
                json!({"v": 1, "id": id, "type": "nope"}).to_string(),
                "unknown_type",
            ),
            3 => (format!("{{\"v\":1,\"id\":\"{id}\""), "bad_json"),
            4 => (
                json!({"v": 2, "id": id, "type": "hello"}).to_string(),
                "unsupported_version",
            ),
            _ => (
                json!({"v": 1, "id": id, "type": "get_code", "origin": 7}).to_string(),
                "bad_request",
            ),
        };
        stream.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
        stream.extend_from_slice(payload.as_bytes());
        expect.push((id, want));
    }
    // Write from another thread: the host answers while we still send, and
    // the pipes hold only so much.
    let mut stdin = live.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&stream).unwrap();
        stdin.flush().unwrap();
        stdin // keep the pipe open until all replies are read
    });
    let started = Instant::now();
    for (i, (id, want)) in expect.iter().enumerate() {
        let (size, reply) = live.reply_sized();
        assert!(size < 4096, "reply {i}: {size} bytes");
        match *want {
            "hello" | "tokens" => assert_eq!(reply["type"], *want, "{i}: {reply}"),
            code => assert_eq!(reply["error"]["code"], code, "{i}: {reply}"),
        }
        if *want != "bad_json" {
            assert_eq!(reply["id"], id.as_str(), "replies come in order");
        }
    }
    let elapsed = started.elapsed();
    let rss = live.peak_rss_kib();
    let stdin = writer.join().unwrap();
    live.stdin = Some(stdin);
    if let Some(kib) = rss {
        assert!(kib < 100 * 1024, "peak RSS {kib} KiB after the flood");
    }
    eprintln!("{n} pipelined requests answered in {elapsed:?}, peak RSS {rss:?} KiB");
    assert!(live.finish().success());
    assert_unchanged(&env, &token, &before);
}

#[test]
fn a_flood_of_fills_gets_at_most_the_burst_and_is_all_recorded() {
    let (env, token) = team();
    let before = snapshot(&env, &token);
    let mut live = Live::launch(&env, "bob");
    let n = 100;
    let mut stream = Vec::new();
    for i in 0..n {
        let payload = get_code(&format!("c{i}"), "https://my.kaspersky.com").to_string();
        stream.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
        stream.extend_from_slice(payload.as_bytes());
    }
    live.write(&stream).unwrap();
    let mut codes = 0;
    for i in 0..n {
        let reply = live.reply();
        assert_eq!(reply["id"], format!("c{i}"));
        if reply["type"] == "code" {
            codes += 1;
        } else {
            assert_error(&reply, "rate_limited", "flood");
            let retry = reply["error"]["retry_after_ms"].as_u64().unwrap();
            assert!((1..=60_000).contains(&retry), "{reply}");
        }
    }
    assert_eq!(codes, 5, "the default burst is 5 codes per 10 s");
    assert!(live.finish().success());
    // Nothing but the audit log changed, and it holds every code and every
    // refusal.
    let after = snapshot(&env, &token);
    assert_eq!(after.state, before.state);
    let records = env.audit("alice");
    let new = &records[before.audit_len..];
    assert_eq!(new.len(), n);
    let ok = new
        .iter()
        .filter(|r| r["event"]["outcome"] == "success")
        .count();
    assert_eq!(ok, 5);
    for r in new {
        assert_eq!(r["event"]["action"], AuditAction::CodeFill.as_str());
        assert_eq!(r["user"]["name"], "bob");
        if r["event"]["outcome"] == "failure" {
            assert!(
                r["event"]["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("rate_limited"),
                "{r}"
            );
        }
    }
    assert!(
        env.ok("alice", &["audit", "verify"])
            .contains("audit log OK")
    );
}
