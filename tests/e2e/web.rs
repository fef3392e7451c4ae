//! The web face of the running binary: hosted Open Badges checked by 1EdTech's own validator,
//! and what it answers to bad addresses.

use std::io::{BufReader, Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::binary::{read_until, spawn_run};

/// One HTTP/1.1 request; the status, the headers (lower-cased names) and the body.
fn http(port: u16, method: &str, target: &str, accept: Option<&str>) -> (u16, String, String) {
    let (status, head, body) = http_bytes(port, method, target, accept);
    (status, head, String::from_utf8(body).expect("a text answer"))
}

/// One HTTP/1.1 request, its body as bytes.
fn http_bytes(port: u16, method: &str, target: &str, accept: Option<&str>) -> (u16, String, Vec<u8>) {
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let (status, head, body) = http_raw(port, method, target, &accept);
    (status, head.to_ascii_lowercase(), body)
}

/// One HTTP/1.1 request with a session cookie (when given); the headers as sent (secrets keep
/// their case), the body as text.
fn http_as(port: u16, method: &str, target: &str, session: Option<&str>) -> (u16, String, String) {
    let headers = format!(
        "Accept: text/html\r\nContent-Length: 0\r\n{}",
        session.map(|s| format!("Cookie: facilitator_session={s}\r\n")).unwrap_or_default()
    );
    let (status, head, body) = http_raw(port, method, target, &headers);
    (status, head, String::from_utf8(body).expect("a text answer"))
}

fn http_raw(port: u16, method: &str, target: &str, headers: &str) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, body)
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

/// Asks until the body contains `needle` (the engine publishes its snapshot within moments of
/// a batch) or 10 s pass; the last answer.
fn http_until_contains(port: u16, target: &str, accept: Option<&str>, needle: &str) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = http(port, "GET", target, accept);
        if answer.2.contains(needle) || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const JSON: Option<&str> = Some("application/ld+json, application/json");
const BROWSER: Option<&str> = Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");

/// The independent Open Badges 3.0 check (jwcrypto), from the same venv.
fn ob3_verifier() -> Command {
    let python = std::env::var("FACILITATOR_TEST_OB_PYTHON")
        .expect("FACILITATOR_TEST_OB_PYTHON is not set: run scripts/test.sh, which installs the checkers");
    let mut cmd = Command::new(python);
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ob3_verify.py"));
    cmd
}

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
    // Baked: the PNG and the SVG carry the assertion (as openbadges-bakery reads them), and
    // the validator accepts the PNG as a backpack would take an upload.
    for kind in ["png", "svg"] {
        let (status, head, body) = http_bytes(port, "GET", &format!("{path}/badge.{kind}"), BROWSER);
        assert_eq!(status, 200, "{kind}: {head}");
        assert!(head.contains(&format!("content-type: image/{kind}")), "{head}");
        assert!(head.contains("content-disposition: attachment"), "{head}");
        let file = dir.path().join(format!("badge.{kind}"));
        std::fs::write(&file, &body).unwrap();
        let out = validator().arg("--unbake").arg(&file).output().unwrap();
        assert!(out.status.success(), "{kind}: nothing baked: {}", String::from_utf8_lossy(&out.stderr));
        let baked = String::from_utf8(out.stdout).unwrap();
        if kind == "png" {
            let baked: serde_json::Value = serde_json::from_str(&baked).unwrap();
            assert_eq!(baked, assertion, "the baked assertion is the hosted one");
        } else {
            // The bakery reads an SVG's `verify` address first, as its own SVGs hold it; the
            // JSON beside it is the hosted assertion.
            assert_eq!(baked, link, "an SVG's verify address is the assertion's");
            let svg = String::from_utf8(body).unwrap();
            let json = svg.split("<![CDATA[").nth(1).and_then(|j| j.split("]]>").next()).unwrap();
            assert_eq!(serde_json::from_str::<serde_json::Value>(json).unwrap(), assertion);
        }
        // The validator takes baked PNGs (it reads SVGs no further than their address).
        if kind == "png" {
            let out = validator().arg(&file).output().unwrap();
            assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stdout));
        }
    }
    assert_eq!(http(port, "GET", &format!("{path}/badge.gif"), BROWSER).0, 404);

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
    let out = validator().arg(dir.path().join("badge.png")).output().unwrap();
    assert!(!out.status.success(), "nor its baked image: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(http(port, "GET", &format!("{path}/badge.png"), BROWSER).0, 410);
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
    // Issued to an email, given by DM: the validator matches the address, as a backpack does,
    // and no answer ever contains it.
    writeln!(stdin, "anastasia@data-101: !badge email anastasia@example.org").unwrap();
    let seen = read_until(&mut stdout, "tell me in a direct message");
    assert!(seen.contains("tell me in a direct message"), "{seen}");
    writeln!(stdin, "anastasia@dm: !badge email Anastasia@Example.org").unwrap();
    let seen = read_until(&mut stdout, "Done: your badges are issued to");
    assert!(seen.contains("anastasia@example.org"), "{seen}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let document = loop {
        let (_, _, body) = http(port, "GET", &again_path, JSON);
        let document: serde_json::Value = serde_json::from_str(&body).unwrap();
        if document["recipient"]["type"] == "email" || Instant::now() > deadline {
            break document;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(document["recipient"]["type"], "email", "{document}");
    assert!(!document.to_string().to_lowercase().contains("anastasia"), "only the hash: {document}");
    let out = validator().args(["--email", "anastasia@example.org", &again]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = validator().args(["--email", "someone@example.org", &again]).output().unwrap();
    assert!(!out.status.success(), "another address does not match: {}", String::from_utf8_lossy(&out.stdout));

    // Open Badges 3.0: the same award as a credential, signed; checked by jwcrypto against
    // the published JWKS, as a token, baked into a PNG, and tampered with.
    let jwks = format!("{origin}/.well-known/jwks.json");
    let (status, head, keys) = http(port, "GET", "/.well-known/jwks.json", None);
    assert_eq!(status, 200, "{keys}");
    assert!(head.contains("application/jwk-set+json"), "{head}");
    let keys: serde_json::Value = serde_json::from_str(&keys).unwrap();
    assert_eq!(keys["keys"][0]["kty"], "OKP");
    assert!(keys["keys"][0].get("d").is_none(), "only the public half");
    let credential_path = again_path.replace("/assertions/", "/credentials/");
    let (status, _, credential) = http(port, "GET", &credential_path, None);
    assert_eq!(status, 200, "{credential}");
    let credential: serde_json::Value = serde_json::from_str(&credential).unwrap();
    assert_eq!(credential["type"], serde_json::json!(["VerifiableCredential", "OpenBadgeCredential"]));
    assert_eq!(credential["credentialSubject"]["identifier"][0]["identityType"], "emailAddress");
    assert!(!credential.to_string().to_lowercase().contains("anastasia"), "{credential}");
    let token_url = format!("{origin}{credential_path}.jwt");
    let out = ob3_verifier().args(["--jwks", &jwks, &token_url]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (status, head, png) = http_bytes(port, "GET", &format!("{credential_path}/badge.png"), None);
    assert_eq!(status, 200, "{head}");
    let baked = dir.path().join("credential.png");
    std::fs::write(&baked, png).unwrap();
    let out = ob3_verifier().arg("--jwks").arg(&jwks).arg(&baked).output().unwrap();
    assert!(out.status.success(), "baked: {}", String::from_utf8_lossy(&out.stdout));
    let (_, _, token) = http(port, "GET", &format!("{credential_path}.jwt"), None);
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload["iss"], format!("{origin}/issuer"));
    payload["name"] = "Gold Star".into();
    let tampered = dir.path().join("tampered.jwt");
    std::fs::write(&tampered, format!("{}.{}.{}", parts[0], b64.encode(payload.to_string()), parts[2])).unwrap();
    let out = ob3_verifier().arg("--jwks").arg(&jwks).arg(&tampered).output().unwrap();
    assert!(!out.status.success(), "a tampered credential must not verify: {}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(http(port, "GET", &path, JSON).0, 410);

    // Revoked, the signed credential fails too: its address answers 410.
    writeln!(stdin, "olga@data-101: !badge revoke @anastasia data-star second mistake").unwrap();
    read_until(&mut stdout, "second mistake");
    assert_eq!(http_until(port, &credential_path, None, 410).0, 410);
    let out = ob3_verifier().arg("--jwks").arg(&jwks).arg(&baked).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("revoked: second mistake"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the web face stops with the bot");
}

/// The first `(origin)/people/N` link in `text`.
fn profile_link(text: &str) -> String {
    let at = text.find("/people/").unwrap_or_else(|| panic!("no profile link in: {text}"));
    let digits: String = text[at + "/people/".len()..].chars().take_while(char::is_ascii_digit).collect();
    format!("/people/{digits}")
}

#[test]
fn the_catalogue_and_course_pages_show_public_courses_and_name_only_people_who_asked() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = spawn_run(dir.path(), &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for (slug, extra) in [("data-101", "cycle=2026-fall"), ("data-102", "cycle=2027-spring"), ("secret-1", "public=no")]
    {
        let title = if slug == "secret-1" { "Secret Course" } else { "Intro to Data" };
        writeln!(
            stdin,
            "olga@lobby: !course new {slug} \"{title}\" school=\"School of Data\" weeks=2 tz=Europe/Berlin {extra}"
        )
        .unwrap();
        let seen = read_until(&mut stdout, &format!("created the room {slug}"));
        assert!(seen.contains(&format!("created the room {slug}")), "{seen}");
    }
    write!(
        stdin,
        "olga@data-101: !syllabus load\\\n# Intro to Data\\\nLearn to **clean** data. <script>alert(1)</script>\\\n\
         ## Week 1: Getting started\\\nRead the basics and [the notes](https://example.org/notes).\\\n\
         - [Basics](https://example.org/basics)\\\n### Review\\\n- Is it clear?\\\n\
         ## Week 2: Cleaning\\\nClean a dataset.\\\n## Badges\\\n### Data Star\\\nCleans data well.\\\n- earned: by organizer\n"
    )
    .unwrap();
    let seen = read_until(&mut stdout, "Loaded the syllabus");
    assert!(seen.contains("Loaded the syllabus"), "{seen}");
    writeln!(stdin, "ana@lobby: !join data-101").unwrap();
    read_until(&mut stdout, "Welcome to **Intro to Data**");

    let (status, head, catalogue) = http_until_contains(port, "/", BROWSER, "1 learner");
    assert_eq!(status, 200);
    assert!(head.contains("content-security-policy"), "{head}");
    for part in ["School of Data", "Cycle 2026-fall", "Cycle 2027-spring", "href=\"/courses/data-101\"", "1 learner"] {
        assert!(catalogue.contains(part), "{part} missing from the catalogue:\n{catalogue}");
    }
    assert!(!catalogue.contains("Secret Course"), "a course with public=no is not listed");

    let (status, _, page) = http(port, "GET", "/courses/data-101", BROWSER);
    assert_eq!(status, 200, "{page}");
    for part in [
        "<h1>Intro to Data</h1>",
        "<strong>clean</strong>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "<h3 id=\"week-1\">Week 1: Getting started</h3>",
        "<h3 id=\"week-2\">Week 2: Cleaning</h3>",
        "<a href=\"https://example.org/notes\">the notes</a>",
        "Questions for reviewers",
        "Is it clear?",
        "<time datetime=\"",
        "(Europe/Berlin)",
        "<code>!join data-101</code>",
        "Organized by 1 volunteer.",
        "Data Star",
        "0 hold it",
        "href=\"/courses/data-102\"",
        "<script src=\"/static/local-time.js\" defer></script>",
    ] {
        assert!(page.contains(part), "{part} missing from the course page:\n{page}");
    }
    assert!(!page.contains("<script>alert"), "the syllabus's HTML is text");
    assert!(!page.to_lowercase().contains("olga") && !page.contains("ana"), "nobody named without asking:\n{page}");

    // Olga asks to be named; Ana earns the badge and asks for a profile.
    writeln!(stdin, "olga@lobby: !profile public").unwrap();
    let seen = read_until(&mut stdout, "Done: your profile is public");
    let olga = profile_link(&seen);
    writeln!(stdin, "olga@data-101: !badge award @ana data-star Clean work.").unwrap();
    read_until(&mut stdout, "awarded @ana");
    let (_, _, page) = http_until_contains(port, "/courses/data-101", BROWSER, "1 holds it");
    assert!(page.contains("1 holds it"), "{page}");
    assert!(page.contains(&format!("<a href=\"{olga}\">olga</a>")), "an organizer who asked is named:\n{page}");
    assert!(!page.contains(">ana<"), "holders are counted, not named");
    let (status, _, profile) = http(port, "GET", &olga, BROWSER);
    assert_eq!(status, 200, "{profile}");
    assert!(profile.contains("<h1>olga</h1>") && profile.contains("href=\"/courses/data-101\""), "{profile}");

    writeln!(stdin, "ana@lobby: !profile").unwrap();
    let seen = read_until(&mut stdout, "Your profile is private");
    assert!(seen.contains("Your profile is private"), "{seen}");
    writeln!(stdin, "ana@lobby: !profile public").unwrap();
    let seen = read_until(&mut stdout, "Done: your profile is public");
    let ana = profile_link(&seen);
    let (status, _, profile) = http_until(port, &ana, BROWSER, 200);
    assert_eq!(status, 200, "{profile}");
    assert!(profile.contains("Data Star") && profile.contains("/assertions/"), "her badges, linked:\n{profile}");
    writeln!(stdin, "ana@lobby: !profile private").unwrap();
    read_until(&mut stdout, "no longer name you");
    assert_eq!(http_until(port, &ana, BROWSER, 404).0, 404, "private again: gone");

    // Hidden: not listed, no page, as an unknown course.
    writeln!(stdin, "olga@data-102: !course set public=no").unwrap();
    read_until(&mut stdout, "not listed publicly");
    assert_eq!(http_until(port, "/courses/data-102", BROWSER, 404).0, 404);
    let (_, _, catalogue) = http(port, "GET", "/", BROWSER);
    assert!(!catalogue.contains("data-102"), "{catalogue}");
    let (_, _, page) = http(port, "GET", "/courses/data-101", BROWSER);
    assert!(!page.contains("data-102"), "a hidden run is not linked");
    for target in [
        "/courses/secret-1",
        "/courses/nope",
        "/courses/..%2f..%2fetc",
        "/people/abc",
        "/people/-1",
        "/people/99999999999999999999",
    ] {
        let (status, _, body) = http(port, "GET", target, BROWSER);
        assert_eq!(status, 404, "{target}: {body}");
        assert!(!body.contains("Secret"), "{target}: {body}");
    }
    let (status, head, script) = http(port, "GET", "/static/local-time.js", None);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/javascript") && script.contains("data-local"), "{head}");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// Debian's Chromium, headless, with its own profile in `profile`.
fn chromium(profile: &std::path::Path) -> Command {
    let bin = std::env::var("FACILITATOR_TEST_CHROMIUM")
        .expect("FACILITATOR_TEST_CHROMIUM is not set: run scripts/test.sh, which installs Debian's chromium");
    // A browser that hangs fails the test instead of holding the suite.
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", "90"]).arg(bin);
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--lang=en-US"])
        .arg(format!("--user-data-dir={}", profile.display()))
        // Time for the page's script to run before the DOM is read.
        .arg("--virtual-time-budget=3000")
        .env("TZ", "America/Sao_Paulo");
    cmd
}

#[test]
fn a_browser_shows_a_course_page_s_weeks_and_each_time_also_in_the_reader_s_zone() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = spawn_run(dir.path(), &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(
        stdin,
        "olga@lobby: !course new data-101 \"Intro to Data\" school=\"School of Data\" cycle=2026-fall weeks=3 tz=Europe/Berlin"
    )
    .unwrap();
    read_until(&mut stdout, "created the room data-101");
    write!(
        stdin,
        "olga@data-101: !syllabus load\\\n# Intro to Data\\\nLearn to find, **clean** and share data, one week at a time.\\\n\
         ## Week 1: Getting started\\\nRead the basics and post one question you have about data.\\\n\
         - [Basics of data](https://example.org/basics)\\\n### Review\\\n- Is the question clear?\\\n\
         ## Week 2: Cleaning\\\nClean a small public dataset and describe every change.\\\n\
         - [A messy dataset](https://example.org/messy.csv)\\\n\
         ## Week 3: Sharing\\\nShare your dataset with a short story about it.\\\n\
         ## Badges\\\n### Data Star\\\nCleans data well.\\\n- earned: by organizer\\\n### Finisher\\\nDid every week.\\\n- earned: weeks >= 3\n"
    )
    .unwrap();
    read_until(&mut stdout, "Loaded the syllabus");
    for name in ["ana", "ben", "chen"] {
        writeln!(stdin, "{name}@lobby: !join data-101").unwrap();
        read_until(&mut stdout, "Welcome to **Intro to Data**");
    }
    writeln!(stdin, "olga@data-101: !badge award @ana data-star Clean work.").unwrap();
    read_until(&mut stdout, "awarded @ana");
    let url = format!("http://127.0.0.1:{port}/courses/data-101");
    assert_eq!(http_until_contains(port, "/courses/data-101", BROWSER, "1 holds it").0, 200);

    let out = chromium(&dir.path().join("profile")).arg("--dump-dom").arg(&url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    for week in 1..=3 {
        assert!(dom.contains(&format!("<h3 id=\"week-{week}\">Week {week}: ")), "week {week} missing:\n{dom}");
    }
    assert_eq!(dom.matches("href=\"https://example.org/basics\"").count(), 1, "a material linked once:\n{dom}");
    // The page's one script ran (the CSP allows it) and added the reader's own time to each
    // course time: 3 weeks, opening and due.
    let local = dom.matches("your time:").count();
    assert_eq!(local, 6, "the reader's zone beside each time:\n{dom}");
    assert!(dom.contains("(Europe/Berlin)"), "{dom}");

    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (name, address) in [("course-page.png", url.clone()), ("catalogue.png", format!("http://127.0.0.1:{port}/"))] {
        let file = shots.join(name);
        let _ = std::fs::remove_file(&file);
        let out = chromium(&dir.path().join("profile"))
            .arg("--window-size=1000,1500")
            .arg(format!("--screenshot={}", file.display()))
            .arg(&address)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let png = std::fs::read(&file).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}: a screenshot of a rendered page");
    }

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}

/// The sign-in path in a DM that `!dashboard` brought.
fn sign_in_path(text: &str) -> String {
    let at = text.find("/login/").unwrap_or_else(|| panic!("no sign-in link in: {text}"));
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_')).collect()
}

/// Signs in with the link in `dm`; the session's secret.
fn sign_in(port: u16, dm: &str) -> String {
    let path = sign_in_path(dm);
    let (status, _, page) = http_as(port, "GET", &path, None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form id=\"sign-in\" method=\"post\""), "{page}");
    let (status, head, _) = http_as(port, "POST", &path, None);
    assert_eq!(status, 303, "{head}");
    assert!(head.to_ascii_lowercase().contains("location: /dashboard"), "{head}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    cookie.split("facilitator_session=").nth(1).unwrap().split(';').next().unwrap().to_owned()
}

#[test]
fn organizers_sign_in_by_a_one_time_link_and_see_their_course_s_figures_and_nobody_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = spawn_run(dir.path(), &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // Held until everyone is in (start tomorrow), then started today: a week every 10 s.
    let (today, tomorrow) = (chrono::Utc::now().date_naive(), chrono::Utc::now().date_naive() + chrono::Days::new(1));
    writeln!(stdin, "olga@lobby: !course new data-101 \"Intro to Data\" weeks=3 start={tomorrow} prompt=\"*/10 * * * * *\" deadline=1h").unwrap();
    read_until(&mut stdout, "created the room data-101");
    writeln!(stdin, "olga@lobby: !course new data-102 \"Other\" weeks=3").unwrap();
    read_until(&mut stdout, "created the room data-102");
    for name in ["ana", "ben", "chen"] {
        writeln!(stdin, "{name}@lobby: !join data-101").unwrap();
        read_until(&mut stdout, "Welcome to");
    }
    writeln!(stdin, "mia@lobby: !join data-102").unwrap();
    read_until(&mut stdout, "Welcome to");
    writeln!(stdin, "olga@data-101: !mentor add @mia").unwrap();
    read_until(&mut stdout, "is now a mentor of");
    writeln!(stdin, "olga@data-101: !course set start={today}").unwrap();
    let seen = read_until(&mut stdout, "**Week 1 of 3**");
    assert!(seen.contains("**Week 1 of 3**"), "{seen}");
    writeln!(stdin, "ana@data-101: !submit https://example.org/ana-1").unwrap();
    let seen = read_until(&mut stdout, "**Week 2 of 3**");
    assert!(seen.contains("**Week 2 of 3**"), "{seen}");
    // Learners have no dashboard; nobody without a session sees one.
    writeln!(stdin, "ben@lobby: !dashboard").unwrap();
    let seen = read_until(&mut stdout, "have a dashboard");
    assert!(seen.contains("Only organizers, mentors and bot admins have a dashboard"), "{seen}");
    assert_eq!(http_as(port, "GET", "/dashboard", None).0, 401);
    assert_eq!(http_as(port, "GET", "/dashboard/courses/data-101", None).0, 401);
    assert_eq!(http_as(port, "GET", "/dashboard/courses/data-101", Some(&"x".repeat(43))).0, 401, "a made-up session");

    writeln!(stdin, "olga@data-101: !dashboard").unwrap();
    let seen = read_until(&mut stdout, "Your sign-in link");
    let dm = seen.lines().find(|l| l.starts_with("[dm olga]") && l.contains("/login/")).expect(&seen);
    assert!(!seen.lines().any(|l| l.starts_with("[data-101]") && l.contains("/login/")), "the link goes only by DM");
    let olga = sign_in(port, dm);
    let (status, _, again) = http_as(port, "POST", &sign_in_path(dm), None);
    assert_eq!(status, 410, "a link works once: {again}");
    // Another site cannot post a link of its choosing (login CSRF).
    for from in ["Origin: https://evil.example\r\n", "Sec-Fetch-Site: cross-site\r\nOrigin: null\r\n"] {
        let (status, _, _) = http_raw(port, "POST", &sign_in_path(dm), &format!("{from}Content-Length: 0\r\n"));
        assert_eq!(status, 403, "{from}");
    }

    let (status, head, home) = http_as(port, "GET", "/dashboard", Some(&olga));
    assert_eq!(status, 200, "{home}");
    assert!(head.to_ascii_lowercase().contains("cache-control: no-store"), "{head}");
    assert!(
        home.contains("href=\"/dashboard/courses/data-101\"") && home.contains("The community's figures"),
        "{home}"
    );
    let (_, _, page) = http_as(port, "GET", "/dashboard/courses/data-101", Some(&olga));
    for part in [
        "<h1>Intro to Data</h1>",
        "<svg role=\"img\"",
        "<th scope=\"row\">1",
        "<th scope=\"row\">2",
        "Quiet learners",
        "<td>ben</td>",
        "<td>chen</td>",
        "Write to them",
        "On time</dt>",
        "weeks.csv",
    ] {
        assert!(page.contains(part), "{part} missing from the dashboard:\n{page}");
    }
    assert!(!page.contains("<td>ana</td>"), "ana submitted in the last two weeks");
    let (status, head, csv) = http_as(port, "GET", "/dashboard/courses/data-101/weeks.csv", Some(&olga));
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/csv") && head.contains("attachment"), "{head}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("week,title,on_time,late,not_yet,reviews_assigned,reviews_done,median_minutes_to_review,sent_to_mentors")
    );
    let week1: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!((week1[0], week1[2], week1[3], week1[4]), ("1", "1", "0", "2"), "{csv}");
    assert_eq!(http_as(port, "GET", "/dashboard/community", Some(&olga)).0, 200);
    let (status, _, community) = http_as(port, "GET", "/dashboard/community/courses.csv", Some(&olga));
    assert_eq!(status, 200);
    assert!(community.starts_with("school,cycle,courses\r\n"), "{community}");

    // A mentor reads the course's figures without the links to act; a learner's pages are not theirs.
    writeln!(stdin, "mia@dm: !dashboard").unwrap();
    let seen = read_until(&mut stdout, "Your sign-in link");
    let mia = sign_in(port, seen.lines().find(|l| l.starts_with("[dm mia]") && l.contains("/login/")).expect(&seen));
    let (status, _, page) = http_as(port, "GET", "/dashboard/courses/data-101", Some(&mia));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("read only") && !page.contains("Write to them"), "{page}");
    for target in [
        "/dashboard/courses/data-102",
        "/dashboard/courses/data-102/weeks.csv",
        "/dashboard/community",
        "/dashboard/community/active.csv",
    ] {
        let (status, _, body) = http_as(port, "GET", target, Some(&mia));
        assert_eq!(status, 403, "{target}: {body}");
        assert!(!body.contains("ana") && !body.contains("<td>"), "nothing leaks: {body}");
    }
    for target in [
        "/dashboard/courses/nope",
        "/dashboard/courses/data-101/secrets.csv",
        "/login/short",
        "/dashboard/courses/..%2f..%2fetc",
    ] {
        assert_eq!(http_as(port, "GET", target, Some(&olga)).0, 404, "{target}");
    }
    let (status, _, _) = http_as(port, "POST", &format!("/login/{}", "A".repeat(43)), None);
    assert_eq!(status, 410, "an unknown link");

    // Signing out ends every session of that person, and only theirs.
    writeln!(stdin, "olga@lobby: !dashboard logout").unwrap();
    read_until(&mut stdout, "signed out of the dashboard");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http_as(port, "GET", "/dashboard", Some(&olga)).0 != 401 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http_as(port, "GET", "/dashboard", Some(&olga)).0, 401);
    assert_eq!(http_as(port, "GET", "/dashboard", Some(&mia)).0, 200);

    // Chromium signs in by the link (its page submits itself), lands on the course's
    // dashboard and finds a bar per week in the chart.
    writeln!(stdin, "olga@lobby: !dashboard").unwrap();
    let seen = read_until(&mut stdout, "Your sign-in link");
    let path = sign_in_path(seen.lines().find(|l| l.starts_with("[dm olga]") && l.contains("/login/")).expect(&seen));
    let url = format!("http://127.0.0.1:{port}{path}?next=/dashboard/courses/data-101");
    let profile = dir.path().join("browser");
    let out = chromium(&profile).arg("--dump-dom").arg(&url).output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<h1>Intro to Data</h1>"), "signed in and sent on:\n{dom}");
    let weeks = dom.matches("<th scope=\"row\">").count();
    assert!(weeks >= 2, "{dom}");
    assert!(
        dom.matches("fill=\"#1D4ED8\"").count() >= 1 && dom.matches("fill=\"#A1A1AA\"").count() >= weeks,
        "a bar per week:\n{dom}"
    );
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let file = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&file);
    let out = chromium(&profile)
        .arg("--window-size=1000,1500")
        .arg(format!("--screenshot={}", file.display()))
        .arg(format!("http://127.0.0.1:{port}/dashboard/courses/data-101"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&file).unwrap_or_default().len() > 10_000, "a screenshot of the signed-in dashboard");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());
}
