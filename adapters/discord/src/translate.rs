//! Between serenity's types and the platform-neutral ones: rendering outgoing messages as
//! Discord content and embeds, reading users and errors. Pure functions, tested here.

use facilitator_chat::{AdapterErrorKind, OutgoingMessage, Segment};
use std::time::Duration;

/// Discord's limit on a message's content.
pub const MAX_CONTENT: usize = 2000;
/// Discord's limit on an embed's description.
pub const MAX_DESCRIPTION: usize = 4096;
/// Discord's limit on an embed's title.
pub const MAX_TITLE: usize = 256;
/// The colour of the bot's embeds (P2PU's teal).
pub const EMBED_COLOUR: u32 = 0x0055_b0a6;

/// Escapes a user's text so Discord shows it as written: no formatting, no pings.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // A link is copied as it is: Discord turns it into a link without reading Markdown in
        // it, and a backslash inside would become part of the address (`ana\-w1` is another
        // page). Pings inside it are stopped by `allowed_mentions`, as everywhere.
        if let Some(len) = url_len(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' | '<' | '@' | '-') {
            out.push('\\');
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of the `http(s)://` link `text` starts with, up to the first space (and without
/// closing punctuation that usually ends a sentence), if it starts with one.
fn url_len(text: &str) -> Option<usize> {
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| text.len() > s.len() && text[..s.len()].eq_ignore_ascii_case(s))?;
    let end = text.find(|c: char| c.is_whitespace() || c == '<' || c == '>').unwrap_or(text.len());
    let link = text[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
    (link.len() > scheme.len()).then_some(link.len())
}

/// A message in Discord's terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// The Markdown content (mentions as `<@id>`, times as `<t:UNIX:F>`).
    pub text: String,
    /// Users mentioned (the only ones allowed to be pinged).
    pub mentions: Vec<u64>,
}

/// Renders a message's segments.
pub fn render(message: &OutgoingMessage) -> Rendered {
    let mut out = Rendered::default();
    for s in &message.segments {
        match s {
            Segment::Markdown(t) => out.text.push_str(&convert_markdown(t)),
            Segment::Text(t) => out.text.push_str(&escape_markdown(t)),
            Segment::Code(t) => {
                // A backtick inside is shown with a double-backtick fence.
                if t.contains('`') {
                    out.text.push_str(&format!("`` {} ``", t.replace("``", "`\u{200B}`")));
                } else {
                    out.text.push('`');
                    out.text.push_str(t);
                    out.text.push('`');
                }
            }
            Segment::Mention { user, name } => match user.raw().parse::<u64>() {
                Ok(id) => {
                    out.text.push_str(&format!("<@{id}>"));
                    if !out.mentions.contains(&id) {
                        out.mentions.push(id);
                    }
                }
                Err(_) => out.text.push_str(&escape_markdown(name)),
            },
            // Every reader sees the instant in their own time zone, and how far away it is.
            Segment::Time { at, .. } => {
                let t = at.timestamp();
                out.text.push_str(&format!("<t:{t}:F> (<t:{t}:R>)"));
            }
        }
    }
    out
}

/// The bot's Markdown is CommonMark; Discord's differs in one thing the bot uses: headings
/// beyond `###` are not shown, so they become bold lines.
fn convert_markdown(text: &str) -> String {
    if !text.contains("####") {
        return text.to_owned();
    }
    text.lines()
        .map(|l| {
            let trimmed = l.trim_start_matches('#');
            if l.starts_with("####") && trimmed.starts_with(' ') {
                format!("**{}**", trimmed.trim())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An embed: a bold first line becomes its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedParts {
    /// Title (without the asterisks).
    pub title: Option<String>,
    /// The rest.
    pub description: String,
}

/// Splits a post into an embed's title and description: a first line that opens with a bold
/// phrase (after an emoji, say) gives the title; what follows the phrase on that line leads the
/// description.
pub fn embed_parts(text: &str) -> EmbedParts {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim();
    let untitled = || EmbedParts { title: None, description: text.to_owned() };
    let Some(open) = first.find("**") else { return untitled() };
    let prefix = &first[..open];
    if prefix.chars().any(char::is_alphanumeric) {
        return untitled();
    }
    let after = &first[open + 2..];
    let Some(close) = after.find("**") else { return untitled() };
    let inner = &after[..close];
    let title = format!("{prefix}{inner}").trim().to_owned();
    if inner.trim().is_empty() || title.chars().count() > MAX_TITLE {
        return untitled();
    }
    let tail = after[close + 2..].trim().trim_start_matches(['·', '-', ':', '—']).trim();
    let rest = rest.trim_start_matches('\n');
    let description = match (tail.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (false, true) => tail.to_owned(),
        (false, false) => format!("{tail}\n\n{rest}"),
    };
    EmbedParts { title: Some(title), description }
}

/// Cuts text into pieces of at most `limit` characters, at line breaks where it can, never
/// inside a `<...>` mention or timestamp.
pub fn chunks(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > limit {
        let byte_limit = rest.char_indices().nth(limit).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..byte_limit];
        let mut cut = window.rfind('\n').filter(|&i| i > 0).or_else(|| window.rfind(' ').filter(|&i| i > 0));
        let mut at = cut.unwrap_or(byte_limit);
        // Do not split a `<@id>` or `<t:...>`.
        if let (Some(open), close) = (window[..at].rfind('<'), window[..at].rfind('>'))
            && close.is_none_or(|c| c < open)
            && open > 0
        {
            at = open;
            cut = None;
        }
        out.push(rest[..at].trim_end().to_owned());
        rest = if cut.is_some() { &rest[at + 1..] } else { &rest[at..] };
    }
    if !rest.trim().is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// A nonce for a message from an effect's idempotency key (Discord keeps nonces of up to 25
/// characters and, with `enforce_nonce`, answers a repeat with the message already made).
pub fn nonce(key: &str) -> String {
    // Discord takes a nonce of at most 25 characters.
    facilitator_chat::key_digest(key, 25)
}

/// Reads a user as people write them: `<@81234>`, `<@!81234>`, or a bare id.
pub fn parse_user_id(text: &str) -> Option<u64> {
    let t = text.trim();
    let inner = t.strip_prefix("<@").and_then(|s| s.strip_suffix('>')).map_or(t, |s| s.trim_start_matches('!'));
    let id: u64 = inner.parse().ok()?;
    // Snowflakes are 17 to 20 digits in practice; small numbers are typos (or review ids).
    (id >= 1 << 22).then_some(id)
}

/// What an HTTP failure means to the executor.
pub fn classify(status: u16, retry_after: Option<Duration>) -> AdapterErrorKind {
    // 50035 (invalid form body), 50006 (empty message) and the like come as a 400: resending
    // won't help, as the shared reading of statuses says.
    AdapterErrorKind::from_http_status(Some(status), retry_after)
}

/// A course's roles, as named in the server.
pub fn role_name(course: &str, role: facilitator_chat::CourseRole) -> String {
    let suffix = match role {
        facilitator_chat::CourseRole::Learner => "learners",
        facilitator_chat::CourseRole::Mentor => "mentors",
        facilitator_chat::CourseRole::Organizer => "organizers",
    };
    format!("{course} {suffix}")
}

/// The course a role belongs to, from its name.
pub fn course_of_role(name: &str) -> Option<(&str, facilitator_chat::CourseRole)> {
    use facilitator_chat::CourseRole::{Learner, Mentor, Organizer};
    let (course, suffix) = name.rsplit_once(' ')?;
    let role = match suffix {
        "learners" => Learner,
        "mentors" => Mentor,
        "organizers" => Organizer,
        _ => return None,
    };
    Some((course, role))
}

/// A channel name Discord accepts: lowercase, dashes for spaces, at most 100 characters.
pub fn channel_name(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c.to_ascii_lowercase() })
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        .take(100)
        .collect();
    if cleaned.is_empty() { "course".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_in_user_text_stay_links_and_the_rest_is_escaped() {
        assert_eq!(
            escape_markdown("see https://example.org/ana-w1-v2_final, *then* @ana"),
            "see https://example.org/ana-w1-v2_final, \\*then\\* \\@ana"
        );
        assert_eq!(escape_markdown("(https://x.example/a-b)."), "\\(https://x.example/a-b\\).");
        assert_eq!(escape_markdown("http:// alone - x"), "http:// alone \\- x");
    }
    use facilitator_chat::{Platform, UserRef};

    fn message(segments: Vec<Segment>) -> OutgoingMessage {
        OutgoingMessage { segments, ..OutgoingMessage::default() }
    }

    #[test]
    fn mentions_become_pings_and_user_text_is_escaped() {
        let ana = UserRef::new(Platform::Discord, "81234567890123456").unwrap();
        let r = render(&message(vec![
            Segment::Mention { user: ana, name: "ana".into() },
            Segment::Markdown(" submitted **".into()),
            Segment::Text("*bold* @everyone <@1>".into()),
            Segment::Markdown("**".into()),
        ]));
        assert_eq!(r.text, "<@81234567890123456> submitted **\\*bold\\* \\@everyone \\<\\@1\\>**");
        assert_eq!(r.mentions, vec![81_234_567_890_123_456]);
    }

    #[test]
    fn deadlines_are_discord_timestamps_every_reader_sees_in_their_own_zone() {
        let at = "2026-10-26T08:00:00Z".parse().unwrap();
        let r = render(&message(vec![
            Segment::Markdown("Due ".into()),
            Segment::Time { at, fallback: "Mon 26 Oct 2026 09:00 Europe/Berlin".into() },
        ]));
        assert_eq!(r.text, "Due <t:1793001600:F> (<t:1793001600:R>)");
    }

    #[test]
    fn code_with_backticks_keeps_them() {
        let r = render(&message(vec![Segment::Code("a`b".into())]));
        assert_eq!(r.text, "`` a`b ``");
    }

    #[test]
    fn a_bold_first_line_is_the_embeds_title() {
        let p = embed_parts("📅 **Week 1 of 3: Finding data**\nFind an open dataset.");
        assert_eq!(p.title.as_deref(), Some("📅 Week 1 of 3: Finding data"));
        assert_eq!(p.description, "Find an open dataset.");
        let plain = embed_parts("Welcome, <@1>! You've joined.");
        assert_eq!(plain.title, None);
        assert_eq!(plain.description, "Welcome, <@1>! You've joined.");
        let tailed = embed_parts("**Week 1 of 3: Finding data** · `data-101`\n\nFind it.");
        assert_eq!(tailed.title.as_deref(), Some("Week 1 of 3: Finding data"));
        assert_eq!(tailed.description, "`data-101`\n\nFind it.");
        assert_eq!(embed_parts("See **this**\nx").title, None);
    }

    #[test]
    fn long_text_is_cut_at_line_breaks_and_never_inside_a_mention() {
        let text = format!("{}\n{}", "a".repeat(1500), "b".repeat(1000));
        let parts = chunks(&text, MAX_CONTENT);
        assert_eq!(parts, vec!["a".repeat(1500), "b".repeat(1000)]);
        let tight = format!("{} <@81234567890123456> tail", "x".repeat(1990));
        let parts = chunks(&tight, MAX_CONTENT);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_CONTENT));
        assert!(parts[1].starts_with("<@81234567890123456>"), "{parts:?}");
        assert_eq!(chunks("short", MAX_CONTENT), vec!["short"]);
        let unbroken = "y".repeat(4500);
        let parts = chunks(&unbroken, MAX_CONTENT);
        assert_eq!(parts.iter().map(String::len).collect::<Vec<_>>(), vec![2000, 2000, 500]);
    }

    #[test]
    fn nonces_are_stable_and_within_discords_limit() {
        assert_eq!(nonce("e:1@discord"), nonce("e:1@discord"));
        assert_ne!(nonce("e:1@discord"), nonce("e:2@discord"));
        assert_eq!(nonce("x").len(), 25);
    }

    #[test]
    fn users_are_read_from_mentions_and_ids_only() {
        assert_eq!(parse_user_id("<@81234567890123456>"), Some(81_234_567_890_123_456));
        assert_eq!(parse_user_id("<@!81234567890123456>"), Some(81_234_567_890_123_456));
        assert_eq!(parse_user_id("81234567890123456"), Some(81_234_567_890_123_456));
        assert_eq!(parse_user_id("12"), None);
        assert_eq!(parse_user_id("@ana"), None);
    }

    #[test]
    fn http_failures_are_classified_for_the_executor() {
        assert_eq!(
            classify(429, Some(Duration::from_millis(300))),
            AdapterErrorKind::RateLimited { retry_after: Duration::from_millis(300) }
        );
        assert_eq!(classify(403, None), AdapterErrorKind::Forbidden);
        assert_eq!(classify(404, None), AdapterErrorKind::NotFound);
        assert_eq!(classify(400, None), AdapterErrorKind::InvalidInput);
        assert_eq!(classify(502, None), AdapterErrorKind::Transient);
        assert_eq!(classify(401, None), AdapterErrorKind::Fatal);
    }

    #[test]
    fn course_roles_are_named_after_the_course_and_read_back() {
        use facilitator_chat::CourseRole;
        assert_eq!(role_name("data-101", CourseRole::Learner), "data-101 learners");
        assert_eq!(course_of_role("data-101 organizers"), Some(("data-101", CourseRole::Organizer)));
        assert_eq!(course_of_role("Moderators"), None);
        assert_eq!(channel_name("Data 101!"), "data-101");
    }
}
