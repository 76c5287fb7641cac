//! Two server processes on one PostgreSQL database: a device enrolled on
//! one is known to the other, the rate limit holds in total, a revocation
//! on one holds on the other at once, and the audit chain stays one.

use crate::support::*;

#[test]
fn two_replicas_share_devices_limits_revocations_and_one_chain() {
    let state = ServerState::new(Backend::Postgres);
    let first = state.serve();
    let second = state.serve();
    let (bob_first, device_id) = first.device(&state, "bob");
    // The same device, talking to the other replica.
    let bob_second = second.client_for(&bob_first);

    // The default burst (5 fills per 10 s) counts both replicas' fills.
    for i in 0..5 {
        let replica = if i % 2 == 0 { &bob_first } else { &bob_second };
        assert_eq!(replica.fill(KASPERSKY_SITE).status, 200);
    }
    assert_eq!(bob_second.fill(KASPERSKY_SITE).code(), "rate_limited");
    assert_eq!(bob_first.fill(KASPERSKY_SITE).code(), "rate_limited");

    state.cli_ok(&["revoke", &device_id]);
    assert_eq!(bob_second.fill(KASPERSKY_SITE).code(), "device_revoked");
    assert_eq!(bob_first.fill(KASPERSKY_SITE).code(), "device_revoked");
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}

/// 50 clients fill codes through two replicas on one PostgreSQL; one
/// replica is killed with -9 mid-load. Every code a client got back has its
/// record in the log (a record without a reply is allowed: the replica died
/// between commit and answer), the chain verifies, and the other replica
/// keeps serving.
#[test]
fn fifty_clients_on_two_replicas_survive_a_kill_9_with_every_code_on_record() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const CLIENTS: usize = 50;
    const PEOPLE: usize = 10;
    let state = ServerState::new(Backend::Postgres);
    // No rate limit: the load is the point.
    let path = state.state.join("server.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut limits = toml::Table::new();
    limits.insert("codes".into(), toml::Value::Integer(0));
    limits.insert("burst".into(), toml::Value::Integer(0));
    config.insert("rate_limit".into(), toml::Value::Table(limits));
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();

    let mut doomed = state.serve();
    let survivor = state.serve();
    let mut vault = state.vault();
    let before = vault.audit_head_seq().unwrap();
    // Ten people's devices (bob is code-only on the Kaspersky token; the
    // others join his group), five connections each, alternating replicas.
    let mut devices = Vec::new();
    for i in 0..PEOPLE {
        let user = if i == 0 {
            "bob".to_owned()
        } else {
            format!("ops{i}")
        };
        let (client, _) = doomed.device(&state, &user);
        if i > 0 {
            vault.add_member("alice", "ops", &user).unwrap();
        }
        devices.push(client);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let survivor_after_kill = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut threads = Vec::new();
    for n in 0..CLIENTS {
        let device = &devices[n % PEOPLE];
        let on_doomed = doomed.client_for(device);
        let on_survivor = survivor.client_for(device);
        let (stop, killed, acknowledged, survivor_after_kill, failures) = (
            Arc::clone(&stop),
            Arc::clone(&killed),
            Arc::clone(&acknowledged),
            Arc::clone(&survivor_after_kill),
            Arc::clone(&failures),
        );
        threads.push(std::thread::spawn(move || {
            let body = serde_json::json!({"origin": KASPERSKY_SITE, "purpose": "fill"}).to_string();
            let raw = format!(
                "POST {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                twofill_team_api::CODE_PATH,
                body.len()
            );
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let to_doomed = (i + n).is_multiple_of(2);
                let client = if to_doomed { &on_doomed } else { &on_survivor };
                let was_killed = killed.load(Ordering::Relaxed);
                match client.send(raw.as_bytes()) {
                    Ok(reply) if reply.status == 200 => {
                        let code = reply.json()["code"].as_str().unwrap_or("").to_owned();
                        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("not a code: {}", reply.text()));
                        }
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                        if !to_doomed && was_killed {
                            survivor_after_kill.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // The killed replica: no reply, or a torn one.
                    Ok(_) | Err(_) if to_doomed && killed.load(Ordering::Relaxed) => {}
                    Ok(reply) => {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {}", reply.status, reply.text()))
                    }
                    Err(e) => failures.lock().unwrap().push(format!("no reply: {e}")),
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    // SIGKILL: no shutdown, no flush; whatever it was doing stops here.
    killed.store(true, Ordering::Relaxed);
    doomed.kill_hard();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(
        survivor_after_kill.load(Ordering::Relaxed) > 0,
        "the surviving replica served nothing after the kill"
    );

    let mut fills = 0;
    let mut after = before;
    loop {
        let page = vault.audit_records(after, 1000).unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        fills += page
            .iter()
            .filter(|r| r.event.action == twofill_vault::AuditAction::CodeFill && r.event.success)
            .count();
    }
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    assert!(
        acknowledged > CLIENTS,
        "only {acknowledged} codes under load"
    );
    assert!(
        fills >= acknowledged,
        "{acknowledged} codes acknowledged but only {fills} on record"
    );
    let report = vault.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{report:?}");
    println!(
        "{acknowledged} codes acknowledged, {fills} on record, {} after the kill",
        survivor_after_kill.load(Ordering::Relaxed)
    );
}
