//! `cargo xtask bench`: how fast the host answers, measured on the real
//! binary over real pipes with a real (durable, fsync'ed) vault.
//!
//! usage: bench <path to twofill-host>
//!
//! Prints a table; no thresholds (numbers depend on the machine and disk).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use twofill_words::Access;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn main() {
    let host = std::env::args()
        .nth(1)
        .expect("usage: bench <twofill-host>");
    let host = Path::new(&host);
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    let config = dir.path().join("host.toml");
    // No rate limit: the bench asks for thousands of codes on one origin.
    std::fs::write(
        &config,
        "user = { env = \"TWOFILL_BENCH_USER\" }\n[rate_limit]\ncodes = 0\nburst = 0\n",
    )
    .unwrap();
    let cmd = |user: &str| {
        let mut c = Command::new(host);
        c.env("TWOFILL_VAULT", &vault)
            .env("TWOFILL_CONFIG", &config)
            .env("TWOFILL_BENCH_USER", user);
        c
    };
    let cli = |args: &[&str]| {
        let out = cmd("admin").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let now = twofill_words::unix_now_secs();
    let extension = format!(
        "chrome-extension://{}",
        twofill_words::CHROMIUM_EXTENSION_ID
    );
    // The bench computes the confirmation code with the same library it
    // measures; correctness is the tests' job (against oathtool).
    let token =
        twofill_otp::Token::from_uri(&format!("otpauth://totp/Bench:b?secret={SEED}")).unwrap();
    let uri = format!("otpauth://totp/Bench:b?secret={SEED}");
    let added = cli(&[
        "token",
        "add",
        "--uri",
        &uri,
        "--site",
        "bench.example",
        "--json",
        "--confirm-code",
        &token.code_at(now),
    ]);
    let id = serde_json::from_str::<serde_json::Value>(&added).unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(&["group", "add", "g"]);
    cli(&["group", "add-member", "g", "user"]);
    cli(&["grant", "set", &id, "g", Access::CodeOnly.as_str()]);

    let frame = |v: serde_json::Value| {
        let s = v.to_string();
        [&(s.len() as u32).to_ne_bytes()[..], s.as_bytes()].concat()
    };
    let fill = frame(json!({"v":1,"id":"b","type":"get_code","origin":"https://bench.example"}));
    let hello = frame(json!({"v":1,"id":"h","type":"hello"}));

    // 1. Cold start: a new process per message, as sendNativeMessage does.
    let cold = |request: &[u8], n: usize| -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let mut child = cmd("user")
                    .arg(&extension)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                child.stdin.as_mut().unwrap().write_all(request).unwrap();
                read_reply(child.stdout.as_mut().unwrap());
                let d = t.elapsed();
                drop(child.stdin.take());
                child.wait().unwrap();
                d
            })
            .collect()
    };
    let cold_hello = cold(&hello, 50);
    let cold_fill = cold(&fill, 50);

    // 2. Warm: one process (connectNative), many codes, each audited durably.
    let n = 2000;
    let mut child = cmd("user")
        .arg(&extension)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // One request first so the vault is open before timing.
    stdin.write_all(&fill).unwrap();
    read_reply(&mut stdout);
    let mut lat = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        stdin.write_all(&fill).unwrap();
        read_reply(&mut stdout);
        lat.push(s.elapsed());
    }
    let warm_total = t.elapsed();
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned() + " KiB")
        })
        .unwrap_or_else(|| "n/a (no /proc)".into());
    drop(stdin);
    child.wait().unwrap();

    let audit = cli(&["audit", "verify", "--json"]);
    let records = serde_json::from_str::<serde_json::Value>(&audit).unwrap()["records"].clone();

    println!("twofill-host benchmark ({})", host.display());
    println!();
    println!("| measurement | p50 | p95 | max |");
    println!("|---|---|---|---|");
    row("cold start → hello reply (new process)", &cold_hello);
    row(
        "cold start → code reply (open vault, audit, fsync)",
        &cold_fill,
    );
    row("warm code reply (same process, audit, fsync)", &lat);
    println!();
    println!("| measurement | value |");
    println!("|---|---|");
    println!(
        "| codes/s, one process, durable audit | {:.0} |",
        n as f64 / warm_total.as_secs_f64()
    );
    println!(
        "| codes/s, new process per code | {:.0} |",
        cold_fill.len() as f64 / cold_fill.iter().sum::<Duration>().as_secs_f64()
    );
    println!("| peak RSS of the host after {n} codes | {rss} |");
    println!("| audit records written (chain verified) | {records} |");
}

fn read_reply(r: &mut impl Read) {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u32::from_ne_bytes(len) as usize];
    r.read_exact(&mut buf).unwrap();
    assert!(
        buf.windows(13).any(|w| w == b"\"type\":\"code\"")
            || buf.windows(14).any(|w| w == b"\"type\":\"hello\""),
        "unexpected reply {}",
        String::from_utf8_lossy(&buf)
    );
}

fn row(name: &str, samples: &[Duration]) {
    let mut s = samples.to_vec();
    s.sort();
    let pick = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(*s.last().unwrap())
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
