//! Cross-check against OATH Toolkit's `oathtool`, an independent C
//! implementation. Fails (never skips) when oathtool is missing, so CI
//! cannot silently lose this coverage.

use std::process::Command;

use twofill_otp::{Algorithm, Kind, Secret, Token};

const HINT: &str = "install oathtool (apt-get install oathtool)";

fn oathtool(args: &[&str]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run oathtool ({e}); {HINT}"));
    assert!(
        out.status.success(),
        "oathtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Deterministic xorshift64*, so failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn google_example_80_bit_secret() {
    let t = Token::from_uri("otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(t.secret.as_bytes().len(), 10);
    assert_eq!(t.code_at(1_700_000_000), "324550");
    let reference = oathtool(&[
        "--totp",
        "-b",
        "JBSWY3DPEHPK3PXP",
        "--now",
        "2023-11-14 22:13:20 UTC",
    ]);
    assert_eq!(t.code_at(1_700_000_000), reference);
}

#[test]
fn matches_oathtool_across_parameters() {
    let mut rng = Rng(0x7f4a_7c15_9e37_79b9);
    let secrets = [
        Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(),
        Secret::from_bytes(rng.bytes(20)),
        Secret::from_bytes(rng.bytes(32)),
        Secret::from_bytes(rng.bytes(64)),
    ];
    let mut times = vec![0, 59, 1_700_000_000, 20_000_000_000];
    times.extend((0..4).map(|_| rng.next() % 4_102_444_800)); // up to 2100-01-01

    let mut compared = 0;
    for (algorithm, flag) in [
        (Algorithm::Sha1, "--totp=sha1"),
        (Algorithm::Sha256, "--totp=sha256"),
        (Algorithm::Sha512, "--totp=sha512"),
    ] {
        for digits in [6u32, 7, 8] {
            for period in [30u64, 60] {
                for (i, secret) in secrets.iter().enumerate() {
                    let token = Token {
                        kind: Kind::Totp,
                        algorithm,
                        digits,
                        period,
                        secret: secret.clone(),
                        issuer: None,
                        account: "x".into(),
                    };
                    let b32 = secret.to_base32();
                    // Two times per combination keeps the run short but
                    // still covers every time across the matrix.
                    for &t in times.iter().skip(i % 4).step_by(4) {
                        let expected = oathtool(&[
                            flag,
                            &format!("--digits={digits}"),
                            &format!("--time-step-size={period}s"),
                            "-b",
                            &b32,
                            "--now",
                            &format!("@{t}"),
                        ]);
                        assert_eq!(
                            token.code_at(t),
                            expected,
                            "{algorithm}/{digits}/{period}s, {}-byte secret, t={t}",
                            secret.as_bytes().len()
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 3 * 3 * 2 * 4 * 2);
}

#[test]
fn hotp_matches_oathtool_across_counters_and_digits() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let secrets = [
        Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(),
        Secret::from_bytes(rng.bytes(20)),
        Secret::from_bytes(rng.bytes(32)),
    ];
    let mut counters = vec![0, 1, 9, 10, 1_000_000, u64::from(u32::MAX) + 1, u64::MAX];
    counters.extend((0..3).map(|_| rng.next()));

    let mut compared = 0;
    for digits in [6u32, 7, 8] {
        for secret in &secrets {
            let token = Token {
                kind: Kind::Hotp { counter: 0 },
                algorithm: Algorithm::Sha1,
                digits,
                period: 30,
                secret: secret.clone(),
                issuer: None,
                account: "x".into(),
            };
            let b32 = secret.to_base32();
            // `oathtool --hotp -c N` prints the code for counter N alone
            // (no look-ahead window), so one call per counter.
            for &counter in &counters {
                let expected = oathtool(&[
                    "--hotp",
                    &format!("--digits={digits}"),
                    "-c",
                    &counter.to_string(),
                    "-b",
                    &b32,
                ]);
                assert_eq!(
                    token.code_for_counter(counter),
                    expected,
                    "{digits} digits, {}-byte secret, counter {counter}",
                    secret.as_bytes().len()
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 3 * 3 * 10);
}
