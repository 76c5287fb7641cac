//! Audit streaming to a real rsyslog (Debian's `rsyslog`, `rsyslog-openssl`)
//! that each test starts itself on loopback, with its own config, work
//! directory and output files: RFC 5424 with structured data and CEF over
//! TCP (octet-counted), RFC 5424 over TLS, and the receiver going away and
//! coming back in the middle of a stream.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;
use twofill_words::AuditAction;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

fn have_rsyslog() -> bool {
    Path::new(RSYSLOGD).exists()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One rsyslogd in the foreground (`-n`) with a private config: each input
/// port writes what it receives, one JSON object per message with the
/// fields rsyslog parsed, to its own file.
struct Rsyslog {
    child: Option<Child>,
    dir: PathBuf,
    ports: Vec<u16>,
}

struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Rsyslog {
    fn start(dir: &Path, ports: &[u16], tls: Option<&TlsFiles>) -> Rsyslog {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let mut conf = String::new();
        match tls {
            None => {
                conf += &format!("global(workDirectory=\"{}\")\n", work.display());
                conf += "module(load=\"imtcp\")\n";
            }
            Some(t) => {
                conf += &format!(
                    "global(workDirectory=\"{}\" DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\")\n",
                    work.display(),
                    t.ca.display(),
                    t.cert.display(),
                    t.key.display()
                );
                conf += "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n";
            }
        }
        conf += r#"template(name="j" type="string" string="{\"pri\":\"%pri%\",\"app\":\"%app-name:::json%\",\"msgid\":\"%msgid:::json%\",\"host\":\"%hostname:::json%\",\"sd\":\"%structured-data:::json%\",\"msg\":\"%msg:::json%\"}\n")
"#;
        for p in ports {
            conf += &format!(
                "ruleset(name=\"r{p}\") {{ action(type=\"omfile\" file=\"{}\" template=\"j\") }}\n",
                dir.join(format!("{p}.log")).display()
            );
            conf += &format!(
                "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{p}\" ruleset=\"r{p}\")\n"
            );
        }
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("rsyslogd.stderr")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        let r = Rsyslog {
            child: Some(child),
            dir: dir.to_owned(),
            ports: ports.to_vec(),
        };
        for p in ports {
            let deadline = Instant::now() + Duration::from_secs(15);
            while TcpStream::connect(("127.0.0.1", *p)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rsyslogd did not listen on {p}: {}",
                    std::fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        r
    }

    /// SIGTERM, as a service manager stops it, and wait for it to exit.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            c.wait().unwrap();
        }
    }

    fn restart(&mut self, tls: Option<&TlsFiles>) {
        self.stop();
        let ports = self.ports.clone();
        *self = Rsyslog::start(&self.dir.clone(), &ports, tls);
    }

    fn received(&self, port: u16) -> Vec<Value> {
        let Ok(f) = std::fs::File::open(self.dir.join(format!("{port}.log"))) else {
            return Vec::new();
        };
        BufReader::new(f)
            .lines()
            .map(|l| serde_json::from_str(&l.unwrap()).expect("rsyslog wrote JSON"))
            .collect()
    }

    /// Waits until `port` got `n` messages (rsyslog writes asynchronously).
    fn wait_for(&self, port: u16, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received(port);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Parses one `[id k="v" …]` element, undoing RFC 5424 escapes.
fn parse_sd(sd: &str) -> (String, HashMap<String, String>) {
    let inner = sd
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("one SD element: {sd}"));
    let (id, mut rest) = inner.split_once(' ').unwrap();
    let mut params = HashMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap();
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (_, '\\') => value.push(chars.next().unwrap().1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        params.insert(name.trim().to_owned(), value);
        rest = after[end + 1..].trim_start();
    }
    (id.to_owned(), params)
}

fn sd_seq(line: &Value) -> i64 {
    let (_, p) = parse_sd(line["sd"].as_str().unwrap());
    p["seq"].parse().unwrap()
}

/// Splits a CEF message into its 7 header fields and the extension map.
fn parse_cef(msg: &str) -> (Vec<String>, HashMap<String, String>) {
    let mut header = Vec::new();
    let mut cur = String::new();
    let mut chars = msg.chars();
    while header.len() < 7 {
        match chars.next().expect("7 header fields") {
            '\\' => cur.push(chars.next().unwrap()),
            '|' => header.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    let ext: String = chars.collect();
    // Keys are the words right before an unescaped '='.
    let mut map = HashMap::new();
    let mut key = String::new();
    let mut val = String::new();
    let mut it = ext.chars().peekable();
    let mut in_key = true;
    while let Some(c) = it.next() {
        match (in_key, c) {
            (true, '=') => in_key = false,
            (true, c) => key.push(c),
            (false, '\\') => match it.next().unwrap() {
                'n' => val.push('\n'),
                'r' => val.push('\r'),
                c => val.push(c),
            },
            (false, '=') => {
                // The last word of `val` was the next key.
                let (v, k) = val.rsplit_once(' ').unwrap();
                map.insert(std::mem::take(&mut key), v.to_owned());
                key = k.to_owned();
                val.clear();
            }
            (false, c) => val.push(c),
        }
    }
    map.insert(key, val);
    (header, map)
}

fn cef_seq(line: &Value) -> i64 {
    let (_, ext) = parse_cef(line["msg"].as_str().unwrap().trim_start());
    ext["externalId"].parse().unwrap()
}

fn stream_once(env: &Env) -> (bool, Value, String) {
    let out = env.cli("alice", &["audit", "stream", "--once", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report<'a>(reports: &'a Value, name: &str) -> &'a Value {
    reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

fn cursor_seq(env: &Env, sink: &str) -> i64 {
    let p = env
        .vault
        .parent()
        .unwrap()
        .join("siem")
        .join(format!("{sink}.cursor.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["seq"].as_i64().unwrap()
}

/// Checks that `seqs` holds every record 1..=head in order, allowing only
/// re-sent runs (a run restarting at or before where the previous one
/// stopped, as after a reconnect). Returns how many duplicates there were.
fn assert_complete_in_order(seqs: &[i64], head: i64, what: &str) -> usize {
    let mut next = 1;
    let mut dups = 0;
    let mut prev = 0;
    for (i, &s) in seqs.iter().enumerate() {
        if s == next {
            next += 1;
        } else if s < next {
            // A re-sent record: only allowed as part of a contiguous
            // resend that starts at or before the newest record seen.
            assert!(
                s == prev + 1 || s <= prev,
                "{what}: record {s} at position {i} out of order after {prev}: {seqs:?}"
            );
            dups += 1;
        } else {
            panic!("{what}: record {next} missing (got {s} at position {i}): {seqs:?}");
        }
        prev = s;
    }
    assert_eq!(
        next - 1,
        head,
        "{what}: records missing at the end: {seqs:?}"
    );
    if dups > 0 {
        eprintln!(
            "{what}: {dups} duplicate(s) re-sent at a reconnect boundary (allowed: at-least-once)"
        );
    }
    dups
}

fn config(sinks: &str) -> String {
    format!(
        "[rate_limit]\ncodes = 0\nburst = 0\n[siem]\nkick = false\nconfirm_ms = 100\npoll_ms = 100\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\nhostname = \"ws-test\"\n{sinks}"
    )
}

#[test]
fn rfc5424_and_cef_reach_rsyslog_in_order_across_outages() {
    if !have_rsyslog() {
        panic!("rsyslogd is not installed: apt-get install rsyslog (cargo xtask setup does)");
    }
    let env = Env::new();
    let (p5424, pcef) = (free_port(), free_port());
    env.set_config(&config(&format!(
        "[[siem.sink]]\nname = \"rfc5424\"\nkind = \"syslog-tcp\"\naddress = \"127.0.0.1:{p5424}\"\n\
         [[siem.sink]]\nname = \"cef\"\nkind = \"syslog-tcp\"\naddress = \"127.0.0.1:{pcef}\"\nformat = \"cef\"\nfacility = \"local4\"\n"
    )));
    let rdir = env.dir.path().join("rsyslog");
    std::fs::create_dir_all(&rdir).unwrap();
    let mut rsyslog = Rsyslog::start(&rdir, &[p5424, pcef], None);

    bob_code_only(&env, SEED);
    bob_fills(&env, 5);
    let (ok, reports, stderr) = stream_once(&env);
    assert!(ok, "{reports} {stderr}");
    let audit = env.audit("alice");
    let head = audit.len() as i64;
    assert_eq!(report(&reports, "rfc5424")["cursor"], head);
    assert_eq!(report(&reports, "rfc5424")["delivered"], head);
    assert_eq!(report(&reports, "cef")["cursor"], head);

    // Every record, in order, with its fields, as rsyslog parsed them.
    let got = rsyslog.wait_for(p5424, audit.len());
    assert_eq!(got.len(), audit.len(), "{got:?}");
    for (line, rec) in got.iter().zip(&audit) {
        let failure = rec["event"]["outcome"] == "failure";
        assert_eq!(line["pri"], if failure { "84" } else { "85" }, "{line}");
        assert_eq!(line["app"], "twofill");
        assert_eq!(line["host"], "ws-test");
        assert_eq!(line["msgid"], rec["event"]["action"]);
        let (id, sd) = parse_sd(line["sd"].as_str().unwrap());
        assert_eq!(id, "twofill@32473");
        assert_eq!(sd["seq"], rec["event"]["sequence"].to_string());
        assert_eq!(sd["action"], rec["event"]["action"].as_str().unwrap());
        assert_eq!(sd["outcome"], rec["event"]["outcome"].as_str().unwrap());
        assert_eq!(sd["user"], rec["user"]["name"].as_str().unwrap());
        assert_eq!(sd["mac"], rec["event"]["hash"].as_str().unwrap());
        assert_eq!(
            sd["prev"],
            rec["twofill"]["chain"]["prev_mac"].as_str().unwrap()
        );
        if rec["event"]["action"] == AuditAction::CodeFill.as_str() {
            assert_eq!(sd["origin"], rec["url"]["original"].as_str().unwrap());
            assert_eq!(
                sd["ext"],
                rec["twofill"]["extension_id"].as_str().unwrap(),
                "{line}"
            );
            if !failure {
                assert_eq!(sd["token"], rec["twofill"]["token"]["id"].as_str().unwrap());
            }
        }
        assert!(
            line["msg"]
                .as_str()
                .unwrap()
                .contains(rec["event"]["action"].as_str().unwrap()),
            "{line}"
        );
    }
    let refusal = got
        .iter()
        .find(|l| l["pri"] == "84")
        .expect("the refusal went out as a warning");
    assert!(
        parse_sd(refusal["sd"].as_str().unwrap())
            .1
            .contains_key("reason"),
        "{refusal}"
    );

    let cef = rsyslog.wait_for(pcef, audit.len());
    assert_eq!(cef.len(), audit.len());
    for (line, rec) in cef.iter().zip(&audit) {
        // local4 (20) * 8 + notice/warning
        let failure = rec["event"]["outcome"] == "failure";
        assert_eq!(line["pri"], if failure { "164" } else { "165" });
        let (header, ext) = parse_cef(line["msg"].as_str().unwrap().trim_start());
        assert_eq!(header[0], "CEF:0");
        assert_eq!(header[1..3], ["twofill", "twofill-host"]);
        assert_eq!(header[4], rec["event"]["action"].as_str().unwrap());
        assert_eq!(header[6], if failure { "6" } else { "3" });
        assert_eq!(ext["externalId"], rec["event"]["sequence"].to_string());
        assert_eq!(ext["suser"], rec["user"]["name"].as_str().unwrap());
        assert_eq!(ext["outcome"], rec["event"]["outcome"].as_str().unwrap());
        assert_eq!(ext["cs4"], rec["event"]["hash"].as_str().unwrap());
        assert_eq!(ext["cs4Label"], "mac");
    }

    // The receiver goes away: records written meanwhile stay behind the
    // cursor, the run says so and fails, nothing is marked delivered.
    rsyslog.stop();
    bob_fills(&env, 3);
    let (ok, reports, _) = stream_once(&env);
    assert!(!ok, "{reports}");
    let r = report(&reports, "rfc5424");
    assert_eq!(r["cursor"], head, "{r}");
    assert!(r["error"].as_str().unwrap().contains("connect"), "{r}");
    assert_eq!(cursor_seq(&env, "rfc5424"), head);
    assert_eq!(cursor_seq(&env, "cef"), head);

    // The long-running streamer, started while the receiver is still down,
    // retries; the receiver comes back; then, while codes keep coming, it
    // is stopped in the middle of the stream and restarted again.
    let mut streamer = env
        .command("alice")
        .args(["audit", "stream"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    rsyslog.restart(None);
    std::thread::scope(|s| {
        let producer = s.spawn(|| {
            for _ in 0..8 {
                bob_fills(&env, 4);
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        rsyslog.stop();
        std::thread::sleep(Duration::from_millis(700));
        rsyslog.restart(None);
        producer.join().unwrap();
    });
    let head = env.audit("alice").len() as i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while (cursor_seq(&env, "rfc5424") < head || cursor_seq(&env, "cef") < head)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(streamer.id() as i32, libc::SIGTERM) };
    let status = streamer.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut streamer.stderr.take().unwrap(), &mut log).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("sink rfc5424: "), "outage not reported: {log}");
    assert_eq!(cursor_seq(&env, "rfc5424"), head, "{log}");
    assert_eq!(cursor_seq(&env, "cef"), head, "{log}");

    let seqs: Vec<i64> = rsyslog
        .wait_for(p5424, head as usize)
        .iter()
        .map(sd_seq)
        .collect();
    assert_complete_in_order(&seqs, head, "rfc5424");
    let seqs: Vec<i64> = rsyslog
        .wait_for(pcef, head as usize)
        .iter()
        .map(cef_seq)
        .collect();
    assert_complete_in_order(&seqs, head, "cef");
}

fn tls_files(dir: &Path) -> (TlsFiles, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca = |name: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    };
    let issuer = ca("twofill test CA");
    let mut p =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.ca, issuer.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    let other = dir.join("other-ca.pem");
    std::fs::write(&other, ca("someone else's CA").pem()).unwrap();
    (files, other)
}

#[test]
fn rfc5424_over_tls_to_rsyslog_checks_the_certificate() {
    if !have_rsyslog() {
        panic!("rsyslogd is not installed: apt-get install rsyslog rsyslog-openssl");
    }
    let env = Env::new();
    let rdir = env.dir.path().join("rsyslog");
    std::fs::create_dir_all(&rdir).unwrap();
    let (tls, other_ca) = tls_files(&rdir);
    let port = free_port();
    env.set_config(&config(&format!(
        "[[siem.sink]]\nname = \"tls\"\nkind = \"syslog-tcp\"\naddress = \"127.0.0.1:{port}\"\ntls = {{ ca = \"{}\", server_name = \"localhost\" }}\n\
         [[siem.sink]]\nname = \"wrong-ca\"\nkind = \"syslog-tcp\"\naddress = \"127.0.0.1:{port}\"\ntls = {{ ca = \"{}\" }}\n",
        tls.ca.display(),
        other_ca.display()
    )));
    let rsyslog = Rsyslog::start(&rdir, &[port], Some(&tls));
    bob_code_only(&env, SEED);
    bob_fills(&env, 3);
    let (ok, reports, _) = stream_once(&env);
    assert!(!ok, "the sink with the wrong CA must fail: {reports}");
    let head = env.audit("alice").len() as i64;
    let good = report(&reports, "tls");
    assert_eq!(
        (good["cursor"].as_i64(), &good["error"]),
        (Some(head), &Value::Null)
    );
    let bad = report(&reports, "wrong-ca");
    assert_eq!(bad["cursor"], 0);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{bad}"
    );
    let got = rsyslog.wait_for(port, head as usize);
    let seqs: Vec<i64> = got.iter().map(sd_seq).collect();
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>());
    assert_eq!(got[0]["app"], "twofill");
}
