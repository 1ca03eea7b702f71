//! The load-test kit (load-tests/) works: the k6 scripts parse (`node --check`; k6 itself is
//! not packaged for Debian or crates.io), and every wrk script and oha scenario runs for two
//! seconds against a gateway started here, with the status codes it must see. Traffic goes
//! to 127.0.0.1 only. wrk and oha are installed by `make deps` (scripts/ensure-deps.sh).

mod common;
mod demo;

use std::path::{Path, PathBuf};
use std::process::Command;

use demo::*;

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../load-tests")
}

fn tool(name: &str) -> &str {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{name} is not installed: run `make deps`");
    name
}

#[test]
fn k6_scripts_parse() {
    let mut checked = 0;
    for entry in std::fs::read_dir(kit().join("k6")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "js") {
            let out = Command::new(tool("node"))
                .arg("--check")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("tlsAuth") && text.contains("thresholds"));
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

fn statuses(out: &str) -> Vec<(u16, u64)> {
    out.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("status ")?;
            let (code, n) = rest.split_once(": ")?;
            Some((code.parse().ok()?, n.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn wrk_scripts_run_against_a_local_gateway() {
    let d = Demo::start();
    let url = format!("http://127.0.0.1:{}/validate/weather/Oslo", d.plain);
    let wrk = |script: &str, env: &[(&str, String)]| {
        let out = Command::new(tool("wrk"))
            .args(["-t1", "-c4", "-d2s", "-s"])
            .arg(kit().join("wrk").join(script))
            .arg(&url)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let out = wrk(
        "forwarded-header.lua",
        &[("CERT", d.pki("dev-valid-client.pem"))],
    );
    let seen = statuses(&out);
    assert!(
        seen.len() == 1 && seen[0].0 == 200 && seen[0].1 > 10,
        "{out}"
    );
    let certs = [
        "dev-valid-client",
        "dev-expired-client",
        "dev-unregistered-client",
        "tst-untrusted-client",
    ]
    .map(|c| d.pki(&format!("{c}.pem")))
    .join(",");
    let out = wrk("mixed-clients.lua", &[("CERTS", certs)]);
    let seen = statuses(&out);
    let total: u64 = seen.iter().map(|s| s.1).sum();
    let ok: u64 = seen.iter().filter(|s| s.0 == 200).map(|s| s.1).sum();
    assert!(total > 20, "{out}");
    assert!(seen.iter().all(|s| [200, 401, 403].contains(&s.0)), "{out}");
    // One certificate in four is valid; rotation is per request, so the share is close to 1/4.
    let share = ok as f64 / total as f64;
    assert!((0.15..0.35).contains(&share), "share {share}: {out}");
}

#[test]
fn oha_scenarios_run_against_a_local_gateway() {
    let d = Demo::start();
    tool("oha");
    for scenario in ["keepalive", "handshake", "invalid", "forwarded"] {
        let out = Command::new("bash")
            .arg(kit().join("oha/scenario.sh"))
            .arg(scenario)
            .env(
                "URL",
                format!("https://{API}:{}/validate/weather/Oslo", d.tls),
            )
            .env(
                "PLAIN_URL",
                format!("http://127.0.0.1:{}/validate/weather/Oslo", d.plain),
            )
            .env("CONNECT_TO", format!("{API}:{}:127.0.0.1:{}", d.tls, d.tls))
            .env("PKI", d.dir.path().join("pki"))
            .env("DURATION", "2s")
            .env("CONCURRENCY", "4")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{scenario}: {stderr}{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.contains("ok: "), "{scenario}: {stderr}");
    }
}
