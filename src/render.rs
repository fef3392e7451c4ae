//! Domain [`Text`] into a platform message: people become mentions, times are written out in
//! the zones the domain asked for.

use chrono::{DateTime, Utc};
use facilitator_bot::{Span, Text, Zone};
use facilitator_chat::{OutgoingMessage, Platform, Segment};

use crate::directory::Directory;

/// Writes an instant in its main zone, and in the others where they differ:
/// `Mon 26 Oct 2026 09:00 Europe/Berlin (05:00 America/Sao_Paulo)`.
pub fn format_time(at: DateTime<Utc>, zones: &[Zone]) -> String {
    let Some((first, rest)) = zones.split_first() else {
        return at.format("%a %-d %b %Y %H:%M UTC").to_string();
    };
    let main = at.with_timezone(&first.tz());
    let mut out = format!("{} {}", main.format("%a %-d %b %Y %H:%M"), first.name());
    let others: Vec<String> = rest
        .iter()
        .map(|z| {
            let local = at.with_timezone(&z.tz());
            if local.date_naive() == main.date_naive() {
                format!("{} {}", local.format("%H:%M"), z.name())
            } else {
                format!("{} {}", local.format("%a %-d %b %H:%M"), z.name())
            }
        })
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(" ({})", others.join(", ")));
    }
    out
}

/// Renders a text for one platform. Links to the web face's pages use its public origin
/// (`[web] public_url`); without one they are left out, with the space before them.
pub fn render(text: &Text, platform: Platform, directory: &Directory, web: Option<&str>) -> OutgoingMessage {
    let mut segments: Vec<Segment> = Vec::with_capacity(text.spans.len());
    for span in &text.spans {
        let segment = match span {
            Span::Markdown(s) => Segment::Markdown(s.clone()),
            Span::User(s) => Segment::Text(s.clone()),
            Span::Code(s) => Segment::Code(s.clone()),
            Span::Person(p) => match directory.contact(*p) {
                Some(c) => match c.accounts.get(&platform) {
                    Some(user) => Segment::Mention { user: user.clone(), name: c.name.clone() },
                    None => Segment::Text(c.name.clone()),
                },
                None => Segment::Text("someone".to_owned()),
            },
            Span::Time { at, zones } => Segment::Time { at: *at, fallback: format_time(*at, zones) },
            Span::Page { path, label } => match web {
                Some(origin) => Segment::Markdown(format!("[{}]({origin}{path})", escape_label(label))),
                None => {
                    if let Some(Segment::Markdown(before)) = segments.last_mut() {
                        let kept = before.trim_end().len();
                        before.truncate(kept);
                    }
                    continue;
                }
            },
        };
        segments.push(segment);
    }
    OutgoingMessage { segments, reply_to: None, private: false, thread: None }
}

/// A link's words, with the brackets that would end them escaped.
fn escape_label(label: &str) -> String {
    label.replace('[', "\\[").replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_pages_are_links_under_the_public_origin_or_left_out_without_one() {
        let text = Text::md("Earned. ").page("/assertions/ab", "(see the badge)");
        let directory = Directory::default();
        let with = render(&text, Platform::Memory, &directory, Some("https://learn.example.org"));
        assert_eq!(
            with.segments.last(),
            Some(&Segment::Markdown("[(see the badge)](https://learn.example.org/assertions/ab)".into()))
        );
        let without = render(&text, Platform::Memory, &directory, None);
        assert_eq!(without.segments, vec![Segment::Markdown("Earned.".into())]);
    }

    #[test]
    fn times_show_the_main_zone_and_the_reader_zone() {
        let at: DateTime<Utc> = "2026-10-26T08:00:00Z".parse().unwrap();
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let la = Zone::parse("America/Los_Angeles").unwrap();
        let sp = Zone::parse("America/Sao_Paulo").unwrap();
        assert_eq!(format_time(at, &[berlin, sp]), "Mon 26 Oct 2026 09:00 Europe/Berlin (05:00 America/Sao_Paulo)");
        let late: DateTime<Utc> = "2026-10-26T05:00:00Z".parse().unwrap();
        assert_eq!(
            format_time(late, &[berlin, la]),
            "Mon 26 Oct 2026 06:00 Europe/Berlin (Sun 25 Oct 22:00 America/Los_Angeles)"
        );
    }
}
