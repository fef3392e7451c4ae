//! Pure translation between Matrix and the platform-neutral types: outgoing messages to a plain
//! body, HTML with mention pills and the mentioned user ids; incoming bodies (pills back to user
//! ids); homeserver errors to adapter error kinds.

use std::time::Duration;

use facilitator_chat::{AdapterErrorKind, OutgoingMessage, Segment};
use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::events::relation::{InReplyTo, Reply, Thread};
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContentWithoutRelation};
use pulldown_cmark::{Event, Options, Parser, html};

/// A message ready for `m.room.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `body`: plain text.
    pub body: String,
    /// `formatted_body`: HTML.
    pub html: String,
    /// Users mentioned (for `m.mentions`).
    pub mentions: Vec<String>,
}

/// Backslash-escapes every ASCII punctuation character, so user text is never read as Markdown
/// or HTML.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The bot writes for chat: a line break is a line break, and lines that start with `• ` are
/// a list. Markdown would fold both into one run-on paragraph (HTML collapses a plain `\n`), so
/// each run of `• ` lines becomes a Markdown list set apart by blank lines, outside code fences.
fn chat_lines_to_markdown(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + 16);
    let mut in_fence = false;
    let mut in_list = false;
    for line in markdown.split('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        let item = if in_fence { None } else { line.strip_prefix("• ") };
        match item {
            Some(rest) => {
                if !in_list && !out.is_empty() && !out.ends_with("\n\n") {
                    out.push('\n');
                }
                in_list = true;
                out.push_str("- ");
                out.push_str(rest);
            }
            None => {
                if in_list && !line.trim().is_empty() {
                    out.push('\n');
                }
                in_list = false;
                out.push_str(line);
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// Markdown to HTML; raw HTML in the Markdown is shown as text, never passed through; line
/// breaks stay line breaks (`<br />`) and `• ` lines become a list.
pub fn markdown_to_html(markdown: &str) -> String {
    let markdown = chat_lines_to_markdown(markdown);
    let parser = Parser::new_ext(&markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::SoftBreak => Event::HardBreak,
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out.trim_end().to_owned()
}

/// How a message relates to others: in a thread (a reply inside it, or a plain thread message
/// that falls back to quoting the root for clients without threads), or a plain reply.
pub fn relation(message: &OutgoingMessage) -> Option<Relation<RoomMessageEventContentWithoutRelation>> {
    let event = |raw: &str| OwnedEventId::try_from(raw).ok();
    let reply_to = message.reply_to.as_ref().and_then(|r| event(r.id.raw()));
    match message.thread.as_ref().and_then(|t| event(t.id.raw())) {
        Some(root) => Some(Relation::Thread(match reply_to {
            Some(to) => Thread::reply(root, to),
            None => Thread::plain(root.clone(), root),
        })),
        None => reply_to.map(|to| Relation::Reply(Reply::new(InReplyTo::new(to)))),
    }
}

/// The thread root of an incoming message's relation, when it was said in a thread.
pub fn thread_root<C>(relation: Option<&Relation<C>>) -> Option<&OwnedEventId> {
    match relation {
        Some(Relation::Thread(t)) => Some(&t.event_id),
        _ => None,
    }
}

/// Renders an outgoing message: mentions become `https://matrix.to` pills.
pub fn render(message: &OutgoingMessage) -> Rendered {
    let mut markdown = String::new();
    let mut mentions = Vec::new();
    for segment in &message.segments {
        match segment {
            Segment::Markdown(m) => markdown.push_str(m),
            Segment::Text(t) => markdown.push_str(&escape_markdown(t)),
            Segment::Code(c) => markdown.push_str(&code_span(c)),
            Segment::Mention { user, name } => {
                markdown.push_str(&format!("[{}](https://matrix.to/#/{})", escape_markdown(name), user.raw()));
                if !mentions.iter().any(|m| m == user.raw()) {
                    mentions.push(user.raw().to_owned());
                }
            }
            Segment::Time { fallback, .. } => markdown.push_str(&escape_markdown(fallback)),
        }
    }
    Rendered { body: message.plain(), html: markdown_to_html(&markdown), mentions }
}

/// Largest `body` plus `formatted_body` of one Matrix message, in bytes. Synapse refuses an
/// event over 65,536 bytes (JSON escaping, signatures and hashes included), so a longer message
/// (a long week of a syllabus, a big pairing report) goes as several, cut at line breaks.
pub const MAX_PART_BYTES: usize = 24_000;

/// Cuts a message into parts whose rendering fits in `max` bytes each (body and HTML
/// together), at line breaks; a code block cut in two is closed at the end of one part and
/// opened again at the start of the next. A message that fits is one part, unchanged.
pub fn parts(message: &OutgoingMessage, max: usize) -> Vec<OutgoingMessage> {
    let size = |segments: &[Segment]| {
        let r = render(&OutgoingMessage { segments: segments.to_vec(), ..message.clone() });
        r.body.len() + r.html.len()
    };
    if size(&message.segments) <= max {
        return vec![message.clone()];
    }
    // The message as lines of segments; a line too long on its own is cut within.
    let mut lines: Vec<Vec<Segment>> = vec![Vec::new()];
    for segment in &message.segments {
        let (text, markdown) = match segment {
            Segment::Markdown(t) => (t, true),
            Segment::Text(t) => (t, false),
            other => {
                lines.last_mut().expect("never empty").push(other.clone());
                continue;
            }
        };
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                lines.push(Vec::new());
            }
            if !line.is_empty() {
                let piece = if markdown { Segment::Markdown(line.to_owned()) } else { Segment::Text(line.to_owned()) };
                lines.last_mut().expect("never empty").push(piece);
            }
        }
    }
    let mut cut_lines = Vec::with_capacity(lines.len());
    for line in lines {
        if size(&line) <= max / 2 {
            cut_lines.push(line);
            continue;
        }
        // Escaping and HTML may make a character up to a few times longer: pieces of max / 12
        // characters stay well inside the limit.
        for segment in line {
            let markdown = matches!(segment, Segment::Markdown(_));
            match segment {
                Segment::Markdown(t) | Segment::Text(t) if t.len() > max / 12 => {
                    let chars: Vec<char> = t.chars().collect();
                    for piece in chars.chunks(max / 12) {
                        let piece: String = piece.iter().collect();
                        cut_lines.push(vec![if markdown { Segment::Markdown(piece) } else { Segment::Text(piece) }]);
                    }
                }
                other => cut_lines.push(vec![other]),
            }
        }
    }
    let fence_line = |line: &[Segment]| {
        let markdown: String =
            line.iter().filter_map(|s| if let Segment::Markdown(t) = s { Some(t.as_str()) } else { None }).collect();
        let t = markdown.trim_start();
        t.starts_with("```") || t.starts_with("~~~")
    };
    let mut out: Vec<Vec<Segment>> = Vec::new();
    let mut current: Vec<Segment> = Vec::new();
    let mut current_size = 0;
    let mut in_fence = false;
    for line in cut_lines {
        // Each line is measured alone, with room for the line break and the markup around it.
        let line_size = size(&line) + 16;
        if !current.is_empty() && current_size + line_size > max {
            if in_fence {
                current.push(Segment::Markdown("\n```".into()));
            }
            out.push(std::mem::take(&mut current));
            current_size = 0;
            if in_fence {
                current.push(Segment::Markdown("```".into()));
            }
        }
        if fence_line(&line) {
            in_fence = !in_fence;
        }
        if !current.is_empty() {
            current.push(Segment::Markdown("\n".into()));
        }
        current.extend(line);
        current_size += line_size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter().map(|segments| OutgoingMessage { segments, ..message.clone() }).collect()
}

/// The text of an incoming message: when the HTML has mention pills, they become the user ids
/// they point at (the plain body only has display names), so `!organizer add @Ana` names a user.
pub fn inbound_text(body: &str, formatted: Option<&str>) -> String {
    let Some(html) = formatted.filter(|h| h.contains("https://matrix.to/#/@")) else {
        return body.to_owned();
    };
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start..start + end + 1];
        rest = &rest[start + end + 1..];
        if let Some(user) = tag.split("https://matrix.to/#/").nth(1).and_then(|t| t.split(['"', '\'', '?']).next())
            && tag.starts_with("<a ")
            && user.starts_with('@')
        {
            out.push_str(&percent_decode(user));
            // Skip the link text up to </a>.
            if let Some(close) = rest.find("</a>") {
                rest = &rest[close + 4..];
            }
            continue;
        }
        if tag.starts_with("<br") || tag == "</p>" || tag.starts_with("</li") || tag.starts_with("</h") {
            out.push('\n');
        }
    }
    out.push_str(rest);
    decode_entities(out.trim_end())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// What an error from the homeserver means for the executor: `errcode`, HTTP status, and the
/// `retry_after_ms` of a rate limit.
pub fn classify(errcode: Option<&str>, status: Option<u16>, retry_after: Option<Duration>) -> AdapterErrorKind {
    match errcode {
        Some("M_LIMIT_EXCEEDED") => {
            AdapterErrorKind::RateLimited { retry_after: retry_after.unwrap_or(Duration::from_secs(1)) }
        }
        Some("M_FORBIDDEN") => AdapterErrorKind::Forbidden,
        Some("M_NOT_FOUND") => AdapterErrorKind::NotFound,
        Some("M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN" | "M_USER_DEACTIVATED") => AdapterErrorKind::Fatal,
        Some(
            "M_BAD_JSON"
            | "M_NOT_JSON"
            | "M_INVALID_PARAM"
            | "M_MISSING_PARAM"
            | "M_TOO_LARGE"
            | "M_INVALID_ROOM_STATE",
        ) => AdapterErrorKind::InvalidInput,
        // Otherwise the status, read as on every platform (no answer at all: the network or the
        // homeserver went away).
        _ => AdapterErrorKind::from_http_status(status, retry_after),
    }
}

/// A Matrix transaction id for an idempotency key: the same key gives the same id, so the
/// homeserver drops a resend after a crash.
pub fn transaction_id(key: &str) -> String {
    format!("fac-{}", facilitator_chat::key_digest(key, 32))
}

#[cfg(test)]
mod tests {
    use facilitator_chat::{ChatId, MessageRef, Platform, RoomRef, UserRef};

    use super::*;

    fn message(segments: Vec<Segment>) -> OutgoingMessage {
        OutgoingMessage { segments, reply_to: None, private: false, thread: None }
    }

    #[test]
    fn a_message_too_long_for_one_event_goes_in_parts_that_each_fit_and_keep_every_line() {
        let lines: Vec<String> =
            (0..2_000).map(|n| format!("Line {n} of the week's reading <b>& notes</b>.")).collect();
        let long = message(vec![Segment::Markdown("**Week 1**\n".into()), Segment::Text(lines.join("\n"))]);
        let parts = parts(&long, MAX_PART_BYTES);
        assert!(parts.len() >= 4, "{}", parts.len());
        for part in &parts {
            let r = render(part);
            assert!(r.body.len() + r.html.len() <= MAX_PART_BYTES, "{}", r.body.len() + r.html.len());
            assert!(!r.html.contains("<b>"), "user text stays escaped in every part");
        }
        let body: Vec<String> = parts.iter().map(OutgoingMessage::plain).collect();
        assert_eq!(body.join("\n"), long.plain(), "nothing is lost or repeated");
        let short = message(vec![Segment::Text("hello".into())]);
        assert_eq!(parts_of(&short), vec![short.clone()]);
    }

    fn parts_of(m: &OutgoingMessage) -> Vec<OutgoingMessage> {
        parts(m, MAX_PART_BYTES)
    }

    #[test]
    fn a_code_block_cut_in_two_is_closed_and_opened_again() {
        let code: String = (0..3_000).map(|n| format!("let x{n} = {n};\n")).collect();
        let long = message(vec![Segment::Markdown(format!("Try this:\n```\n{code}```\nDone."))]);
        let parts = parts_of(&long);
        assert!(parts.len() >= 2);
        for part in &parts {
            let html = render(part).html;
            assert_eq!(html.matches("<pre>").count(), html.matches("</pre>").count(), "{html:.200}");
            assert!(html.contains("<pre>"), "each part shows its code as code");
        }
    }

    #[test]
    fn one_enormous_line_is_cut_within() {
        let long = message(vec![Segment::Text("x".repeat(100_000))]);
        let parts = parts_of(&long);
        assert!(parts.iter().all(|p| {
            let r = render(p);
            r.body.len() + r.html.len() <= MAX_PART_BYTES
        }));
        assert_eq!(parts.iter().map(|p| p.plain().matches('x').count()).sum::<usize>(), 100_000);
    }

    fn at(id: &str) -> MessageRef {
        MessageRef {
            room: RoomRef::new(Platform::Matrix, "!r:example.org").unwrap(),
            id: ChatId::new(Platform::Matrix, id).unwrap(),
        }
    }

    #[test]
    fn replies_in_a_thread_stay_in_it_and_thread_posts_fall_back_to_the_root() {
        let reply = OutgoingMessage { reply_to: Some(at("$cmd")), ..OutgoingMessage::default() };
        match relation(&reply) {
            Some(Relation::Reply(r)) => assert_eq!(r.in_reply_to.event_id, "$cmd"),
            other => panic!("a plain reply, not {other:?}"),
        }
        let in_thread = OutgoingMessage { thread: Some(at("$root")), ..reply.clone() };
        match relation(&in_thread) {
            Some(Relation::Thread(t)) => {
                assert_eq!(t.event_id, "$root");
                assert_eq!(t.in_reply_to.unwrap().event_id, "$cmd");
                assert!(!t.is_falling_back);
            }
            other => panic!("a reply in the thread, not {other:?}"),
        }
        let opening = OutgoingMessage { thread: Some(at("$root")), ..OutgoingMessage::default() };
        match relation(&opening) {
            Some(Relation::Thread(t)) => assert!(t.is_falling_back && t.event_id == "$root"),
            other => panic!("a thread message, not {other:?}"),
        }
        assert!(relation(&OutgoingMessage::default()).is_none());
        assert_eq!(thread_root(relation(&in_thread).as_ref()).map(|e| e.as_str()), Some("$root"));
        assert_eq!(thread_root(relation(&reply).as_ref()), None);
    }

    #[test]
    fn user_text_is_escaped_and_mentions_become_pills() {
        let message = OutgoingMessage {
            segments: vec![
                Segment::Markdown("**Hi** ".into()),
                Segment::Mention {
                    user: UserRef::new(Platform::Matrix, "@ana:example.org").unwrap(),
                    name: "Ana".into(),
                },
                Segment::Markdown(", your title: ".into()),
                Segment::Text("<script>alert(1)</script> *not bold*".into()),
                Segment::Markdown(" ".into()),
                Segment::Code("!submit".into()),
            ],
            ..OutgoingMessage::default()
        };
        let r = render(&message);
        assert_eq!(r.body, "**Hi** @Ana, your title: <script>alert(1)</script> *not bold* `!submit`");
        assert_eq!(
            r.html,
            "<p><strong>Hi</strong> <a href=\"https://matrix.to/#/@ana:example.org\">Ana</a>, your title: &lt;script&gt;alert(1)&lt;/script&gt; *not bold* <code>!submit</code></p>"
        );
        assert_eq!(r.mentions, vec!["@ana:example.org"]);
    }

    #[test]
    fn lines_stay_lines_and_bullets_become_lists_in_html() {
        let html =
            markdown_to_html("Your open review assignments (2):\n• #1 · week 1\n• #2 · week 2\nReview with `!review`.");
        assert_eq!(
            html,
            "<p>Your open review assignments (2):</p>\n<ul>\n<li>#1 · week 1</li>\n<li>#2 · week 2</li>\n</ul>\n<p>Review with <code>!review</code>.</p>"
        );
        assert_eq!(markdown_to_html("line one\nline two"), "<p>line one<br />\nline two</p>");
        // A prompt's own Markdown list and paragraphs are untouched, and so are code fences.
        assert_eq!(
            markdown_to_html("Read:\n\n- [A](https://a.example)\n\n```\n• not a list\n```"),
            "<p>Read:</p>\n<ul>\n<li><a href=\"https://a.example\">A</a></li>\n</ul>\n<pre><code>• not a list\n</code></pre>"
        );
    }

    #[test]
    fn raw_html_in_the_bots_markdown_is_shown_not_run() {
        assert_eq!(markdown_to_html("a <img src=x onerror=y> b"), "<p>a &lt;img src=x onerror=y&gt; b</p>");
    }

    #[test]
    fn pills_in_incoming_html_become_user_ids() {
        let html = "!organizer add <a href=\"https://matrix.to/#/@ana%3Aexample.org\">Ana</a> &amp; more";
        assert_eq!(inbound_text("!organizer add Ana & more", Some(html)), "!organizer add @ana:example.org & more");
        assert_eq!(inbound_text("!help", Some("<b>!help</b>")), "!help");
        assert_eq!(inbound_text("!help", None), "!help");
    }

    #[test]
    fn errors_are_classified_for_the_executor() {
        assert_eq!(
            classify(Some("M_LIMIT_EXCEEDED"), Some(429), Some(Duration::from_millis(1500))),
            AdapterErrorKind::RateLimited { retry_after: Duration::from_millis(1500) }
        );
        assert_eq!(classify(Some("M_FORBIDDEN"), Some(403), None), AdapterErrorKind::Forbidden);
        assert_eq!(classify(Some("M_UNKNOWN"), Some(502), None), AdapterErrorKind::Transient);
        assert_eq!(classify(None, None, None), AdapterErrorKind::Transient);
        assert_eq!(classify(Some("M_UNKNOWN_TOKEN"), Some(401), None), AdapterErrorKind::Fatal);
        assert!(classify(Some("M_LIMIT_EXCEEDED"), None, None).is_retryable());
    }

    #[test]
    fn transaction_ids_are_stable_per_key() {
        assert_eq!(transaction_id("k#0@matrix"), transaction_id("k#0@matrix"));
        assert_ne!(transaction_id("k#0@matrix"), transaction_id("k#1@matrix"));
        assert!(transaction_id("x").len() <= 36);
    }
}
