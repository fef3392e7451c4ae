//! A syllabus's Markdown as safe HTML: the author's formatting and links, never their HTML.
//!
//! A syllabus is written by organizers in chat, so its text is untrusted on a page anyone
//! reads: raw HTML is shown as text, and only `http`, `https` and `mailto` links and images
//! become links (an image is shown as a link to it, so a page never loads third-party content
//! behind its readers' backs; the CSP forbids it anyway).

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd, html};

/// Whether a link target may be followed from a page.
pub(crate) fn safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Renders Markdown to HTML, escaping raw HTML and dropping unsafe links (their text stays).
pub(crate) fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut dropped = 0usize;
    let mut events = Vec::new();
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Html(text) | Event::InlineHtml(text) => events.push(Event::Text(text)),
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                if safe_link(&dest_url) || matches!(link_type, LinkType::Email) {
                    events.push(Event::Start(Tag::Link { link_type, dest_url, title, id }));
                } else {
                    dropped += 1;
                }
            }
            Event::End(TagEnd::Link) => {
                if dropped > 0 {
                    dropped -= 1;
                } else {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Image { dest_url, title, id, .. }) => {
                if safe_link(&dest_url) {
                    events.push(Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url, title, id }));
                } else {
                    dropped += 1;
                }
            }
            Event::End(TagEnd::Image) => {
                if dropped > 0 {
                    dropped -= 1;
                } else {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Heading { level, id, classes, attrs }) => {
                events.push(Event::Start(Tag::Heading { level: under_page(level), id, classes, attrs }));
            }
            Event::End(TagEnd::Heading(level)) => {
                events.push(Event::End(TagEnd::Heading(under_page(level))));
            }
            other => events.push(other),
        }
    }
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    out
}

/// Headings inside a syllabus's text sit under the page's own `h2`/`h3`.
fn under_page(level: HeadingLevel) -> HeadingLevel {
    level.max(HeadingLevel::H4)
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn raw_html_is_shown_as_text_and_only_web_and_mail_links_are_links() {
        let html = to_html(
            "Read **this** <script>alert(1)</script> and [the notes](https://example.org/n).\n\n\
             [bad](javascript:alert(1)) ![pic](https://example.org/p.png) <img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<strong>this</strong>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(html.contains("<a href=\"https://example.org/n\">the notes</a>"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("bad"), "the text of a dropped link stays: {html}");
        assert!(html.contains("<a href=\"https://example.org/p.png\">pic</a>"), "an image is a link: {html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn a_syllabus_heading_sits_under_the_page_s_own() {
        assert!(to_html("# Big\n## Less").contains("<h4>Big</h4>\n<h4>Less</h4>"));
    }
}
