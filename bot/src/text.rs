//! What the bot says, before it knows which platform will carry it.
//!
//! A [`Text`] is a list of spans: the bot's own Markdown, text that came from a user (which every
//! adapter must escape, so a course title cannot inject HTML or Markdown), a person (a mention on
//! the platform), and a point in time (shown in the zones given; Discord shows it in the
//! reader's own zone).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{PersonId, Zone};

/// One piece of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Span {
    /// The bot's own Markdown.
    Markdown(String),
    /// Text a user wrote: shown literally, never interpreted as Markdown or HTML.
    User(String),
    /// Inline code (a command, a slug).
    Code(String),
    /// A person, shown as a mention.
    Person(PersonId),
    /// A page of the bot's web face: `path` under its public address, shown as a link with
    /// the bot's own words `label`; left out where the bot has no web face.
    Page {
        /// From the origin, starting with `/`.
        path: String,
        /// The link's words.
        label: String,
    },
    /// An instant, shown in each of the zones (the first is the main one).
    Time {
        /// The instant.
        at: DateTime<Utc>,
        /// Zones to show it in; never empty.
        zones: Vec<Zone>,
    },
}

/// A message the bot sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// The spans, in order.
    pub spans: Vec<Span>,
}

impl Text {
    /// An empty message.
    pub fn new() -> Text {
        Text::default()
    }

    /// A message of the bot's own Markdown.
    pub fn md(markdown: impl Into<String>) -> Text {
        Text::new().push_md(markdown)
    }

    /// Appends the bot's own Markdown.
    #[must_use]
    pub fn push_md(mut self, markdown: impl Into<String>) -> Text {
        let markdown = markdown.into();
        if let Some(Span::Markdown(last)) = self.spans.last_mut() {
            last.push_str(&markdown);
        } else {
            self.spans.push(Span::Markdown(markdown));
        }
        self
    }

    /// Appends text a user wrote.
    #[must_use]
    pub fn user(mut self, text: impl Into<String>) -> Text {
        self.spans.push(Span::User(text.into()));
        self
    }

    /// Appends inline code.
    #[must_use]
    pub fn code(mut self, text: impl Into<String>) -> Text {
        self.spans.push(Span::Code(text.into()));
        self
    }

    /// Appends a link to a page of the web face.
    #[must_use]
    pub fn page(mut self, path: impl Into<String>, label: impl Into<String>) -> Text {
        self.spans.push(Span::Page { path: path.into(), label: label.into() });
        self
    }

    /// Appends a mention.
    #[must_use]
    pub fn person(mut self, person: PersonId) -> Text {
        self.spans.push(Span::Person(person));
        self
    }

    /// Appends an instant shown in `zones` (duplicates removed, order kept).
    #[must_use]
    pub fn time(mut self, at: DateTime<Utc>, zones: &[Zone]) -> Text {
        let mut unique: Vec<Zone> = Vec::new();
        for z in zones {
            if !unique.contains(z) {
                unique.push(*z);
            }
        }
        if unique.is_empty() {
            unique.push(Zone::UTC);
        }
        self.spans.push(Span::Time { at, zones: unique });
        self
    }

    /// Appends another text.
    #[must_use]
    pub fn append(mut self, other: Text) -> Text {
        for span in other.spans {
            match span {
                Span::Markdown(m) => self = self.push_md(m),
                other => self.spans.push(other),
            }
        }
        self
    }

    /// A plain-text rendering for logs and tests: Markdown as written, people as `@p1`, times in
    /// UTC. Adapters render properly.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        for span in &self.spans {
            match span {
                Span::Markdown(s) | Span::User(s) => out.push_str(s),
                Span::Code(s) => {
                    out.push('`');
                    out.push_str(s);
                    out.push('`');
                }
                Span::Person(p) => out.push_str(&format!("@{p}")),
                Span::Page { path, label } => out.push_str(&format!("{label} <{path}>")),
                Span::Time { at, .. } => out.push_str(&at.format("%Y-%m-%d %H:%M UTC").to_string()),
            }
        }
        out
    }
}
