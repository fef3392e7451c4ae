//! The web face of the running binary: hosted Open Badges checked by 1EdTech's own validator,
//! and what it answers to bad addresses.

use std::io::{BufReader, Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::binary::{read_until, spawn_run};

/// One HTTP/1.1 request; the status, the headers (lower-cased names) and the body.
fn http(port: u16, method: &str, target: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    write!(stream, "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Asks until the answer has `status` (the engine publishes its snapshot within moments of a
/// batch) or 10 s pass; the last answer.
fn http_until(port: u16, target: &str, accept: Option<&str>, status: u16) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = http(port, "GET", target, accept);
        if answer.0 == status || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const JSON: Option<&str> = Some("application/ld+json, application/json");
const BROWSER: Option<&str> = Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

fn validator() -> Command {
    let python = std::env::var("FACILITATOR_TEST_OB_PYTHON")
        .expect("FACILITATOR_TEST_OB_PYTHON is not set: run scripts/test.sh, which installs 1EdTech's validator");
    let mut cmd = Command::new(python);
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ob_verify.py"));
    cmd
}

#[test]
fn an_award_is_hosted_as_an_open_badge_that_1edtech_s_validator_accepts_and_that_names_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The ops endpoints share the web face's listener when both name one address.
    let mut child = spawn_run(
        dir.path(),
        &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n\n[ops]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(stdin, "olga@lobby: !course new data-101 \"Intro to Data\" weeks=1").unwrap();
    let seen = read_until(&mut stdout, "created the room data-101");
    assert!(seen.contains("created the room data-101"), "{seen}");
    write!(
        stdin,
        "olga@data-101: !syllabus load\\\n# Intro\\\n## Week 1: One\\\nDo it.\\\n## Badges\\\n### Data Star\\\nCleans data well.\\\n- earned: by organizer\n"
    )
    .unwrap();
    writeln!(stdin, "anastasia@lobby: !join data-101").unwrap();
    let seen = read_until(&mut stdout, "Welcome to **Intro to Data**");
    assert!(seen.contains("Welcome"), "{seen}");
    writeln!(stdin, "olga@data-101: !badge award @anastasia data-star Shines.").unwrap();
    // The room's announcement and the learner's DM, in whichever order their lanes deliver.
    let mut seen = read_until(&mut stdout, "Its page is the address");
    if !seen.contains("awarded @anastasia") {
        seen.push_str(&read_until(&mut stdout, "awarded @anastasia"));
    } else if !seen.contains("Its page is the address") {
        seen.push_str(&read_until(&mut stdout, "Its page is the address"));
    }
    let announcement = seen.lines().find(|l| l.contains("awarded @anastasia")).expect(&seen);
    let link = announcement
        .split("(see the badge)](")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no link in the announcement: {announcement}"))
        .to_owned();
    let origin = format!("http://127.0.0.1:{port}");
    assert!(link.starts_with(&format!("{origin}/assertions/")), "{link}");
    let id = link.rsplit('/').next().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let dm = seen.lines().find(|l| l.starts_with("[dm anastasia]")).expect(&seen);
    assert!(dm.contains(&link), "the learner's DM carries the same link: {dm}");
    let path = format!("/assertions/{id}");

    let (status, head, body) = http_until(port, &path, JSON, 200);
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("content-type: application/ld+json"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let assertion: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(assertion["type"], "Assertion");
    assert_eq!(assertion["id"], link.as_str());
    assert_eq!(assertion["badge"], format!("{origin}/badges/data-101/data-star"));
    assert_eq!(assertion["recipient"]["hashed"], true);
    assert!(assertion["recipient"]["identity"].as_str().unwrap().starts_with("sha256$"));
    assert!(!body.to_lowercase().contains("anastasia"), "the assertion names nobody: {body}");

    // People get a page: the badge, what it means, how to verify; still no name.
    let (status, head, page) = http(port, "GET", &path, BROWSER);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    for part in [
        "<html lang=\"en\">",
        "<main id=\"main\">",
        "<h1>Data Star</h1>",
        "a learner of",
        "Cleans data well.",
        "alt=\"The Data Star badge\"",
        "Verify it",
    ] {
        assert!(page.contains(part), "{part} missing from the page:\n{page}");
    }
    assert!(!page.to_lowercase().contains("anastasia"), "the page names nobody");
    let (status, head, _) = http(port, "GET", &format!("{path}.json"), BROWSER);
    assert_eq!(status, 200);
    assert!(head.contains("content-disposition: attachment"), "{head}");

    let (status, _, class) = http(port, "GET", "/badges/data-101/data-star", JSON);
    assert_eq!(status, 200);
    let class: serde_json::Value = serde_json::from_str(&class).unwrap();
    assert_eq!(class["type"], "BadgeClass");
    assert_eq!(class["issuer"], format!("{origin}/issuer"));
    let (status, head, svg) = http(port, "GET", "/badges/data-101/data-star/image.svg", None);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: image/svg+xml") && svg.contains("Data Star"), "{head}");
    let (status, _, issuer) = http(port, "GET", "/issuer", JSON);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&issuer).unwrap()["type"], "Issuer");
    assert_eq!(http(port, "GET", "/healthz", None).0, 200, "ops on the same listener");

    // 1EdTech's validator fetches the assertion, its badge class and issuer from the bot.
    let out = validator().arg(&link).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("\"valid\": true"), "{report}");
    // ... and fails an address that is not one of its assertions.
    let forged = format!("{origin}/assertions/{}", "0".repeat(32));
    let out = validator().arg(&forged).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // Bad addresses: a clear 4xx, and nothing in the answer but the explanation.
    for (target, want) in [
        ("/assertions/not-an-id".to_owned(), 404),
        (format!("/assertions/{}", "0".repeat(32)), 404),
        (format!("/assertions/{}", id.to_uppercase()), 404),
        ("/badges/nope-1/data-star".to_owned(), 404),
        ("/badges/data-101/nope".to_owned(), 404),
        ("/badges/data-101/../../etc/passwd".to_owned(), 404),
        ("/badges/%2e%2e/%2e%2e/etc/passwd".to_owned(), 404),
        (format!("{path}?{}", "q".repeat(5000)), 414),
    ] {
        let (status, _, body) = http(port, "GET", &target, BROWSER);
        assert_eq!(status, want, "{target}: {body}");
        assert!(!body.contains("Shines") && !body.to_lowercase().contains("anastasia"), "{target}: {body}");
    }
    assert_eq!(http(port, "POST", &path, JSON).0, 405);
    assert_eq!(http(port, "DELETE", "/issuer", JSON).0, 405);

    // Revoked: the same address answers 410 with the reason, the validator fails it, the
    // learner is told by DM, and only the organizer hears the answer.
    writeln!(stdin, "anastasia@data-101: !badge revoke @anastasia data-star nope").unwrap();
    let seen = read_until(&mut stdout, "organizers can revoke badges");
    assert!(seen.contains("organizers can revoke badges"), "{seen}");
    writeln!(stdin, "olga@data-101: !badge revoke @anastasia data-star awarded by mistake").unwrap();
    let seen = read_until(&mut stdout, "was revoked by its organizers");
    let dm = seen.lines().find(|l| l.starts_with("[dm anastasia]")).expect(&seen);
    assert!(dm.contains("awarded by mistake") && dm.contains(&link), "{dm}");
    let (status, head, body) = http_until(port, &path, JSON, 410);
    assert_eq!(status, 410, "{body}");
    assert!(head.contains("content-type: application/ld+json"), "{head}");
    let gone: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(gone["revoked"], true);
    assert_eq!(gone["revocationReason"], "awarded by mistake");
    assert_eq!(gone["id"], link.as_str());
    let (status, _, page) = http(port, "GET", &path, BROWSER);
    assert_eq!(status, 410);
    assert!(page.contains("revoked") && page.contains("awarded by mistake"), "{page}");
    let out = validator().arg(&link).output().unwrap();
    assert!(!out.status.success(), "a revoked badge must not verify: {}", String::from_utf8_lossy(&out.stdout));
    // Awarded again by an organizer: a new address, which verifies; the old one stays revoked.
    writeln!(stdin, "olga@data-101: !badge award @anastasia data-star Shines again.").unwrap();
    let seen = read_until(&mut stdout, "Shines again.");
    let again = seen
        .split("(see the badge)](")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no link: {seen}"))
        .to_owned();
    assert_ne!(again, link, "a new award, a new address");
    let again_path = again.trim_start_matches(&origin).to_owned();
    assert_eq!(http_until(port, &again_path, JSON, 200).0, 200);
    let out = validator().arg(&again).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(http(port, "GET", &path, JSON).0, 410);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the web face stops with the bot");
}
