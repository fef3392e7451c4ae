//! Commands anyone may use: help, the course list, joining and leaving, time zones.

use chrono::DateTime;
use chrono::Utc;

use super::{Ctx, Decision, Effect, Place, Turn, plural};
use crate::command::{Audience, COMMANDS, syntax};
use crate::ids::{CourseId, PersonId, Slug, Zone};
use crate::state::{Change, Course, CourseStatus, Role, State};
use crate::text::Text;

pub(super) fn help(turn: &mut Turn<'_>, topic: Option<&str>) {
    let state = turn.state;
    let actor = turn.actor();
    let here = match turn.input.place {
        Place::Course(id) => state.courses.get(&id),
        _ => None,
    };
    let mut audiences = vec![Audience::Everyone];
    let roles: Vec<Role> = match here {
        Some(c) => c.role(actor).into_iter().collect(),
        None => state.courses.values().filter_map(|c| c.role(actor)).collect(),
    };
    if !roles.is_empty() || turn.input.admin {
        audiences.push(Audience::Member);
    }
    if roles.contains(&Role::Learner) {
        audiences.push(Audience::Learner);
    }
    if roles.contains(&Role::Organizer) || turn.input.admin {
        audiences.push(Audience::Organizer);
    }
    if turn.input.admin {
        audiences.push(Audience::Admin);
    }

    if let Some(topic) = topic {
        let matches: Vec<_> =
            COMMANDS.iter().filter(|u| u.name == topic || u.name.starts_with(&format!("{topic} "))).collect();
        if matches.is_empty() {
            let shown: String = topic.chars().take(40).collect();
            turn.refuse(Text::md("there is no command ").code(format!("!{shown}")).push_md("."), Some(syntax("help")));
            return;
        }
        let mut text = Text::new();
        for (i, u) in matches.iter().enumerate() {
            if i > 0 {
                text = text.push_md("\n\n");
            }
            text = text.code(u.syntax).push_md(format!(" — {}.", u.summary));
            if !u.details.is_empty() {
                text = text.push_md(format!("\n{}", u.details));
            }
            if !audiences.contains(&u.audience) {
                text = text.push_md(format!("\n(For {} only.)", audience_name(u.audience)));
            }
        }
        turn.reply(text);
        return;
    }
    let mut text = Text::md("Commands you can use:");
    for u in COMMANDS.iter().filter(|u| audiences.contains(&u.audience)) {
        text = text.push_md("\n").code(u.syntax).push_md(format!(" — {}", u.summary));
    }
    text = text.push_md("\nSend ").code("!help COMMAND").push_md(" for details.");
    turn.reply(text);
}

fn audience_name(a: Audience) -> &'static str {
    match a {
        Audience::Everyone => "everyone",
        Audience::Member => "members of the course",
        Audience::Learner => "learners",
        Audience::Organizer => "organizers and bot admins",
        Audience::Admin => "bot admins",
    }
}

pub(super) fn courses(turn: &mut Turn<'_>) {
    let state = turn.state;
    let open: Vec<&Course> = state.courses.values().filter(|c| c.status != CourseStatus::Ended).collect();
    if open.is_empty() {
        turn.reply(
            Text::md("There are no courses yet. Bot admins can create one with ").code("!course new").push_md("."),
        );
        return;
    }
    let mut text = Text::md("Courses:");
    for c in open {
        text = text.push_md("\n• ").code(c.slug.as_str()).push_md(" — ").user(c.settings.title.clone());
        if let Some(school) = c.settings.school.and_then(|s| state.schools.get(&s)) {
            text = text.push_md(" (").user(school.name.clone()).push_md(")");
        }
        let week = match c.current_week() {
            Some(w) => format!("week {w} of {}", c.settings.weeks),
            None => format!("{} weeks, starting soon", c.settings.weeks),
        };
        let learners = c.with_role(Role::Learner).count();
        text = text.push_md(format!(" · {week} · {}", plural(learners, "learner")));
        if c.status == CourseStatus::Paused {
            text = text.push_md(" · paused");
        }
        if c.role(turn.actor()).is_some() {
            text = text.push_md(" · you're in");
        }
    }
    text = text.push_md("\nJoin one with ").code("!join COURSE").push_md(".");
    turn.reply(text);
}

fn find_course<'a>(turn: &mut Turn<'a>, slug: &Slug, usage: &str) -> Option<&'a Course> {
    let state = turn.state;
    match state.course_by_slug(slug) {
        Some(c) => Some(c),
        None => {
            turn.refuse(
                Text::md("there is no course ")
                    .code(slug.as_str())
                    .push_md(". ")
                    .code("!courses")
                    .push_md(" lists the courses."),
                Some(usage),
            );
            None
        }
    }
}

pub(super) fn join(turn: &mut Turn<'_>, slug: &Slug) {
    let usage = syntax("join");
    let Some(course) = find_course(turn, slug, usage) else { return };
    if course.status == CourseStatus::Ended {
        turn.refuse(Text::md("").code(slug.as_str()).push_md(" has ended; it takes no new learners."), None);
        return;
    }
    if let Some(role) = course.role(turn.actor()) {
        turn.refuse(
            Text::md("you're already in ").code(slug.as_str()).push_md(format!(" (as {}).", role.as_str())),
            None,
        );
        return;
    }
    let actor = turn.actor();
    turn.out.change(Change::MemberSet { course: course.id, person: actor, role: Role::Learner, at: turn.now });
    turn.out.effect(Effect::Invite { course: course.id, person: actor });
    turn.out.effect(Effect::SetRole { course: course.id, person: actor, role: Some(Role::Learner) });
    let zones = turn.zones(course);
    let text = Text::md("Welcome to **")
        .user(course.settings.title.clone())
        .push_md("** (")
        .code(course.slug.as_str())
        .push_md(")! You're a learner now, and its room is open to you.\n\n")
        .append(where_we_are(turn.state, course, &zones, turn.now));
    turn.reply(text);
}

/// What a newcomer needs to know: the current week, its prompt and deadline, or when it starts.
pub(super) fn where_we_are(state: &State, course: &Course, zones: &[Zone], now: DateTime<Utc>) -> Text {
    where_we_are_with(course, &|week| state.prompt_time(course, week), zones, now)
}

/// [`where_we_are`] with the prompt times given, for a course whose jobs are being re-planned.
pub(super) fn where_we_are_with(
    course: &Course,
    prompt_time: &dyn Fn(u32) -> Option<DateTime<Utc>>,
    zones: &[Zone],
    now: DateTime<Utc>,
) -> Text {
    let Some(week) = course.current_week() else {
        return match prompt_time(1) {
            Some(at) => Text::md("Week 1 opens ").time(at, zones).push_md("."),
            None => Text::md("The schedule is on hold; the organizers will resume it."),
        };
    };
    let mut text = Text::md(format!("This is week {week} of {}", course.settings.weeks));
    if let Some(title) = course.week_title(week) {
        text = text.push_md(": **").user(title.to_owned()).push_md("**");
    }
    text = text.push_md(".");
    if let Some(plan) = course.syllabus.as_ref().and_then(|s| s.week(week)) {
        text = text.push_md("\n\n").push_md(plan.prompt.clone());
    }
    if let Some(deadline) = course.deadline(week) {
        let verb = if deadline < now {
            "\n\nIts work was due "
        } else {
            "\n\nSubmit your work with `!submit <link or text>` in the course room by "
        };
        text = text.push_md(verb).time(deadline, zones).push_md(".");
        if deadline < now {
            text = text.push_md(" Late work is still welcome.");
        }
    }
    if let Some(next) = prompt_time(week + 1) {
        text = text.push_md(format!("\nWeek {} opens ", week + 1)).time(next, zones).push_md(".");
    }
    text
}

pub(super) fn leave(turn: &mut Turn<'_>, slug: &Slug) {
    let usage = syntax("leave");
    let Some(course) = find_course(turn, slug, usage) else { return };
    let actor = turn.actor();
    let Some(role) = course.role(actor) else {
        turn.refuse(Text::md("you're not in ").code(slug.as_str()).push_md("."), None);
        return;
    };
    if role == Role::Organizer && course.with_role(Role::Organizer).count() == 1 && course.status != CourseStatus::Ended
    {
        turn.refuse(
            Text::md("you're the only organizer of ")
                .code(slug.as_str())
                .push_md("; add another with ")
                .code("!organizer add @user")
                .push_md(" (or end the course) before leaving."),
            None,
        );
        return;
    }
    turn.out.change(Change::MemberRemoved { course: course.id, person: actor });
    turn.out.effect(Effect::SetRole { course: course.id, person: actor, role: None });
    let mut out = std::mem::take(&mut turn.out);
    super::review::hand_on_work(turn.state, course, actor, turn.now, &mut out);
    turn.out = out;
    turn.reply(
        Text::md("You've left ")
            .code(slug.as_str())
            .push_md(". Your submissions stay in the course record. Come back any time with ")
            .code(format!("!join {slug}"))
            .push_md("."),
    );
}

pub(super) fn tz(turn: &mut Turn<'_>, zone: Option<Zone>) {
    let actor = turn.actor();
    let current = turn.state.persons.get(&actor).and_then(|p| p.zone);
    let Some(zone) = zone else {
        let text = match current {
            Some(z) => Text::md("Your time zone is ")
                .code(z.name())
                .push_md(". Change it with ")
                .code("!tz Area/City")
                .push_md("."),
            None => Text::md("You haven't set a time zone, so I show deadlines in each course's zone. Set yours with ")
                .code("!tz Area/City")
                .push_md(", for example ")
                .code("!tz Europe/Berlin")
                .push_md("."),
        };
        turn.reply(text);
        return;
    };
    if current == Some(zone) {
        turn.reply(Text::md("Your time zone is already ").code(zone.name()).push_md("."));
        return;
    }
    turn.out.change(Change::PersonZoneSet { person: actor, zone });
    let mut text = Text::md("Done: I'll also show deadlines in ").code(zone.name()).push_md(".");
    let now = turn.now;
    let next = turn
        .state
        .courses
        .values()
        .filter(|c| c.role(actor) == Some(Role::Learner))
        .filter_map(|c| c.current_week().and_then(|w| c.deadline(w)).filter(|d| *d > now).map(|d| (d, c)))
        .min_by_key(|(d, _)| *d);
    if let Some((deadline, course)) = next {
        text = text
            .push_md(" Your next deadline (")
            .code(course.slug.as_str())
            .push_md(") is ")
            .time(deadline, &[course.settings.zone, zone])
            .push_md(".");
    }
    turn.reply(text);
}

pub(super) fn member_joined(state: &State, person: PersonId, course: CourseId, ctx: &Ctx) -> Decision {
    let mut out = Decision::default();
    let Some(course) = state.courses.get(&course) else { return out };
    if course.role(person).is_some() || course.status == CourseStatus::Ended {
        return out;
    }
    out.change(Change::MemberSet { course: course.id, person, role: Role::Learner, at: ctx.now });
    out.effect(Effect::SetRole { course: course.id, person, role: Some(Role::Learner) });
    let zones = state.zones_for(person, course);
    let text = Text::md("Welcome, ")
        .person(person)
        .push_md("! You've joined as a learner.\n\n")
        .append(where_we_are(state, course, &zones, ctx.now));
    out.effect(Effect::Post { course: course.id, text, thread: None });
    out
}
