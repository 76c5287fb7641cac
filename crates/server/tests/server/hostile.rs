//! Bad input and slow clients: every error a structured `{code, message}`,
//! oversized bodies refused unread, slow clients dropped on time, and the
//! server answering everyone else all along.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;
use twofill_team_api::{CA_PATH, CODE_PATH, JOIN_PATH, MAX_BODY_BYTES, WHOAMI_PATH};

use crate::support::*;

fn assert_structured(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.len() > 20, "{message}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[test]
fn oversized_bodies_are_413_and_the_server_goes_on() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let huge = format!(r#"{{"origin":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    assert_structured(
        &bob.request("POST", CODE_PATH, huge.as_bytes()),
        413,
        "payload_too_large",
    );
    // Declared small, sent large, in chunks: cut off at the limit.
    let mut chunked = format!(
        "POST {CODE_PATH} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..(MAX_BODY_BYTES / 4096 + 2) {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", "a".repeat(4096)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_structured(&bob.send(&chunked).unwrap(), 413, "payload_too_large");
    // A declared length far over the limit is refused before any body is sent.
    let declared = bob
        .send(
            format!(
                "POST {JOIN_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    assert_structured(&declared, 413, "payload_too_large");
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
}

#[test]
fn malformed_requests_get_structured_errors() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    for (body, code) in [
        (&b"{\"origin\":"[..], "bad_json"),
        (br#"{"origin" "x"}"#, "bad_json"),
        (b"[1,2,3]", "bad_request"),
        (b"\xff\xfe\xfd", "bad_json"),
        (br#"{"origin":42}"#, "bad_request"),
        (
            br#"{"origin":"https://my.kaspersky.com","admin":true}"#,
            "bad_request",
        ),
        (br#"{"purpose":"steal"}"#, "bad_request"),
        (
            br#"{"origin":"https://x.example","origin":"https://my.kaspersky.com"}"#,
            "bad_request",
        ),
    ] {
        let reply = bob.request("POST", CODE_PATH, body);
        assert_structured(&reply, 400, code);
        assert!(reply.json().get("code").is_none());
    }
    let join = server.anonymous().post(JOIN_PATH, &json!({"invite": "x"}));
    assert_structured(&join, 400, "bad_request");
    let csr = server.anonymous().post(
        JOIN_PATH,
        &json!({"invite": "AAAAAAAAAAAAAAAAAAAAAA", "device_name": "x", "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}),
    );
    assert_structured(&csr, 400, "bad_request");

    assert_structured(&bob.get("/v1/nothing-here"), 404, "unknown_type");
    assert_structured(&bob.get("/"), 404, "unknown_type");
    let wrong = bob.get(CODE_PATH);
    assert_structured(&wrong, 405, "bad_request");
    assert_eq!(wrong.header("allow"), Some("POST"));
    let wrong = bob.post(CA_PATH, &json!({}));
    assert_structured(&wrong, 405, "bad_request");
    // Not HTTP at all, inside TLS: the connection ends, the server stays.
    let mut stream = bob.connect().unwrap();
    stream.write_all(b"\x00\x01\x02 garbage\r\n\r\n").unwrap();
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    assert!(
        !server.log_text().contains("panicked"),
        "{}",
        server.log_text()
    );
}

#[test]
fn slow_clients_are_dropped_on_time_while_others_are_served() {
    let state = ServerState::new(Backend::Sqlite);
    state.set_limit("header_read_ms", 1000);
    state.set_limit("tls_handshake_ms", 1000);
    state.set_limit("request_ms", 1000);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");

    // Half a header, then nothing.
    let mut slow_header = bob.connect().unwrap();
    slow_header
        .write_all(format!("POST {CODE_PATH} HTTP/1.1\r\nHost: local").as_bytes())
        .unwrap();
    slow_header.flush().unwrap();
    // All the headers, then a body that never comes.
    let mut slow_body = bob.connect().unwrap();
    slow_body
        .write_all(
            format!(
                "POST {WHOAMI_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .unwrap();
    slow_body.flush().unwrap();
    // A TCP connection that never starts TLS.
    let mut silent = std::net::TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let started = Instant::now();
    // Everyone else is served meanwhile.
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    assert_eq!(server.anonymous().get(CA_PATH).status, 200);

    let mut sink = Vec::new();
    let _ = slow_header.read_to_end(&mut sink);
    let header_dropped = started.elapsed();
    assert!(
        header_dropped < Duration::from_secs(5),
        "a half-sent header held its connection for {header_dropped:?}"
    );
    let mut body = Vec::new();
    let _ = slow_body.read_to_end(&mut body);
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // Closed by the server (end of stream), not our read timeout.
    let mut byte = [0u8; 1];
    match silent.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("a connection that never started TLS was kept: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
}
