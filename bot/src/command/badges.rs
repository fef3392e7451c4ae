//! `!badges [@user]`: the course's badges and who holds them, or someone's badges.

use crate::badges::BadgeDef;
use super::{Arg, ArgKind, Cmd, CommandError, Mention, Spec, args, args::fail};
use crate::decide::{Place, Turn};
use crate::ids::PersonId;
use crate::state::Course;
use crate::text::Text;

/// `!badges [@user]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Badges {
    pub user: Option<Mention>,
}

impl Cmd for Badges {
    const SPEC: Spec = Spec {
        name: "badges",
        syntax: "!badges [@user]",
        example: "!badges @ana",
        summary: "the course's badges and who holds them, or someone's badges",
        args: &[Arg::optional("user", "Whose", ArgKind::User)],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        match args.as_slice() {
            [] => Ok(Badges { user: None }),
            [user] => Ok(Badges { user: Some(args::mention(&user.text, name)?) }),
            [_, extra, ..] => fail(format!("one person at a time; unexpected '{}'.", args::short(&extra.text)), name),
        }
    }

    fn mentions(&self) -> Vec<&Mention> {
        self.user.iter().collect()
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        list(turn, self.user.as_ref())
    }
}

/// `!badges [@user]`.
fn list(turn: &mut Turn<'_>, user: Option<&Mention>) {
    let state = turn.state;
    let actor = turn.actor();
    let here = match turn.input.place {
        Place::Course(id) => state.course(&id),
        _ => None,
    };
    let who = match user {
        Some(m) => match turn.mentioned(m, Some(Badges::SPEC.syntax)) {
            Some(p) => Some(p),
            None => return,
        },
        None => None,
    };
    match (here, who) {
        (Some(course), None) => {
            if course.badges().is_empty() {
                return turn.reply(
                    Text::md("")
                        .code(course.slug.as_str())
                        .push_md(" has no badges yet; organizers define them in the syllabus's ")
                        .code("## Badges")
                        .push_md(" section."),
                );
            }
            let mut text = Text::md("Badges of ").code(course.slug.as_str()).push_md(":");
            for b in course.badges() {
                text = text
                    .push_md("\n• ")
                    .code(b.slug.as_str())
                    .push_md(" **")
                    .user(b.name.clone())
                    .push_md("** — ")
                    .user(b.description.clone())
                    .push_md(if b.retired {
                        " (retired: no longer awarded)".to_owned()
                    } else {
                        format!(" ({})", b.rule.describe())
                    });
                let holders: Vec<PersonId> =
                    course.awards.keys().filter(|(s, _)| s == &b.slug).map(|(_, p)| *p).collect();
                if !holders.is_empty() {
                    text = text.push_md(". Held by ");
                    for (i, p) in holders.into_iter().enumerate() {
                        if i > 0 {
                            text = text.push_md(", ");
                        }
                        text = text.person(p);
                    }
                }
            }
            turn.reply(text);
        }
        (course, who) => {
            let person = who.unwrap_or(actor);
            let courses: Vec<&Course> = match course {
                Some(c) => vec![c],
                None => state.all_courses().collect(),
            };
            let awards: Vec<(&Course, &BadgeDef, &crate::state::Award)> = courses
                .iter()
                .flat_map(|c| {
                    c.awards
                        .iter()
                        .filter(|((_, p), _)| *p == person)
                        .filter_map(move |((slug, _), award)| c.badge(slug).map(|b| (*c, b, award)))
                })
                .collect();
            let mut text = if person == actor {
                Text::md("Your badges:")
            } else {
                Text::md("Badges of ").person(person).push_md(":")
            };
            if awards.is_empty() {
                text = text.push_md(" none yet.");
            }
            for (c, b, award) in awards {
                text = text
                    .push_md("\n• **")
                    .user(b.name.clone())
                    .push_md("** (")
                    .code(c.slug.as_str())
                    .push_md(") — ")
                    .user(award.reason.clone())
                    .push_md(" ")
                    .page(format!("/assertions/{}", award.assertion), "(its page)");
            }
            turn.reply(text);
        }
    }
}
