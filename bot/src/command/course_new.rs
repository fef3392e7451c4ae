//! `!course new SLUG "Title" [school=S] [start=YYYY-MM-DD] [weeks=N] [tz=Area/City] [prompt="CRON"] [deadline=5d] [cycle=NAME]`: create a course and its room.

use crate::decide::course::{DEFAULT_DEADLINE_DAYS, DEFAULT_LEASE_DAYS, DEFAULT_REVIEWS, DEFAULT_REVIEW_DAYS, DEFAULT_WEEKS, check_start, school_for};
use crate::decide::plan::{plan_prompts, topic};
use super::SettingsPatch;
use crate::schedule::{Offset, PromptSchedule};
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Write, args, args::fail};
use crate::decide::{Effect, Turn};
use crate::ids::{Slug, Zone};
use crate::state::{Change, Course, CourseSettings, CourseStatus, Role};
use crate::text::Text;

/// `!course new SLUG "Title" [school=S] [start=YYYY-MM-DD] [weeks=N] [tz=Area/City] [prompt="CRON"] [deadline=5d] [cycle=NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseNew {
    /// Its short name.
    pub slug: Slug,
    /// Title and the other settings (boxed: a parsed cron schedule is large).
    pub settings: Box<SettingsPatch>,
}

impl Cmd for CourseNew {
    const SPEC: Spec = Spec {
        name: "course new",
        aliases: &["course create"],
        who: "bot admins",
        syntax: "!course new SLUG \"Title\" [school=S] [start=YYYY-MM-DD] [weeks=N] [tz=Area/City] [prompt=\"CRON\"] [deadline=5d] [cycle=NAME]",
        example: "!course new data-101 \"Intro to Data\" weeks=6 tz=Europe/Berlin",
        summary: "create a course and its room",
        details: "Defaults: start today, 6 weeks, UTC, prompts Mondays 09:00 (\"0 9 * * Mon\"; 5-field cron, or 6 fields with seconds first), submissions due 5 days after each prompt.",
        audience: Audience::Admin,
        args: &[
            Arg::required("slug", "Short name: lowercase letters, digits and dashes, like data-101", ArgKind::Text),
            Arg { write: Write::Quoted, ..Arg::required("title", "The course's title", ArgKind::Text) },
            Arg::keyed("school", "The school it belongs to", ArgKind::Text),
            Arg::keyed("start", "First day, YYYY-MM-DD", ArgKind::Text),
            Arg::keyed("weeks", "How many weeks", ArgKind::Integer),
            Arg::keyed("tz", "Time zone, Area/City", ArgKind::Text),
            Arg::keyed("prompt", "When each week opens, as cron, like 0 9 * * Mon", ArgKind::Text),
            Arg::keyed("deadline", "Time to submit after a week opens, like 5d", ArgKind::Text),
            Arg::keyed("review", "Time to review after the deadline, like 2d", ArgKind::Text),
            Arg::keyed("cycle", "The cycle (term) it runs in", ArgKind::Text),
        ],
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let name = Self::SPEC.name;
        let args = args::tokens(rest, name)?;
        let positional: Vec<&args::Token> = args.iter().filter(|t| t.pair.is_none()).collect();
        let pairs: Vec<args::Token> = args.iter().filter(|t| t.pair.is_some()).cloned().collect();
        let Some(slug) = positional.first() else {
            return fail("give the course a short name and a title, like `!course new data-101 \"Intro to Data\"`.", name);
        };
        let slug = args::parse_slug(&slug.text, name)?;
        let Some(title) = positional.get(1) else {
            return fail("the course needs a title in quotes, like `!course new data-101 \"Intro to Data\"`.", name);
        };
        if let Some(extra) = positional.get(2) {
            return fail(format!("unexpected '{}': put the title in quotes if it has spaces.", args::short(&extra.text)), name);
        }
        let mut settings = args::parse_settings(&pairs, name)?;
        if settings.title.is_some() {
            return fail("give the title once, after the short name.", name);
        }
        settings.title = Some(args::check_title(&title.text, name)?);
        Ok(CourseNew { slug, settings: Box::new(settings) })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        create(turn, &self.slug, &self.settings)
    }
}

fn create(turn: &mut Turn<'_>, slug: &Slug, patch: &SettingsPatch) {
    let usage = crate::command::usage("course new").map(|u| u.syntax);
    if !turn.is_admin() {
        turn.refuse(
            Text::md("only bot admins can create courses; ask one of them (they are listed in the bot's config)."),
            None,
        );
        return;
    }
    if turn.state.course_by_slug(slug).is_some() {
        turn.refuse(
            Text::md("a course named ").code(slug.as_str()).push_md(" already exists; pick another short name."),
            usage,
        );
        return;
    }
    let zone = patch.tz.unwrap_or(Zone::UTC);
    let today = turn.now.with_timezone(&zone.tz()).date_naive();
    let start = patch.start.unwrap_or(today);
    if let Some(problem) = check_start(start, today) {
        turn.refuse(Text::md(problem), usage);
        return;
    }
    let school = match &patch.school {
        Some(name) => school_for(turn, name),
        None => None,
    };
    let settings = CourseSettings {
        title: patch.title.clone().unwrap_or_else(|| slug.to_string()),
        school,
        cycle: patch.cycle.clone(),
        start,
        weeks: patch.weeks.unwrap_or(DEFAULT_WEEKS),
        zone,
        prompt: patch.prompt.clone().unwrap_or_else(PromptSchedule::weekly_default),
        deadline: patch.deadline.unwrap_or(Offset::days(DEFAULT_DEADLINE_DAYS)),
        reviews: patch.reviews.unwrap_or(DEFAULT_REVIEWS),
        review_window: patch.review_window.unwrap_or(Offset::days(DEFAULT_REVIEW_DAYS)),
        lease: patch.lease.unwrap_or(Offset::days(DEFAULT_LEASE_DAYS)),
        anonymous: patch.anonymous.unwrap_or(false),
        threads: patch.threads.unwrap_or(false),
        public: patch.public.unwrap_or(true),
    };
    let id = turn.state.next_course_id();
    let actor = turn.actor();
    let now = turn.now;
    turn.out.change(Change::CourseCreated {
        course: id,
        slug: slug.clone(),
        settings: settings.clone(),
        created_by: actor,
        at: now,
        seed: turn.seed,
    });
    turn.out.change(Change::MemberSet { course: id, person: actor, role: Role::Organizer, at: now });
    // Plan against the course as it will be once created.
    let mut course = Course {
        id,
        slug: slug.clone(),
        settings,
        status: CourseStatus::Active,
        status_at: now,
        created_at: now,
        created_by: actor,
        members: Default::default(),
        syllabus: None,
        opened: Default::default(),
        submissions: Default::default(),
        seed: turn.seed,
        paired: Default::default(),
        assignments: Default::default(),
        reviews: Default::default(),
        awards: Default::default(),
        nominations: Default::default(),
        by_submission: Default::default(),
        by_reviewer: Default::default(),
        submission_keys: Default::default(),
        revocations: Default::default(),
        by_assertion: Default::default(),
    };
    let jobs = plan_prompts(&course, now);
    let first = jobs.first().map(|(_, at)| *at);
    turn.out.change(Change::JobsPlanned { course: id, jobs });
    course.members.insert(actor, crate::state::Member { role: Role::Organizer, joined_at: now });
    turn.out.effect(Effect::CreateCourseRoom { course: id, school, slug: slug.clone(), topic: topic(&course) });
    turn.out.effect(Effect::Invite { course: id, person: actor });
    turn.out.effect(Effect::SetRole { course: id, person: actor, role: Some(Role::Organizer) });
    let zones = turn.zones(&course);
    let mut text =
        Text::md("Created **").user(course.settings.title.clone()).push_md("** (").code(slug.as_str()).push_md(
            format!(
                "): {} weeks, prompts \"{}\" in {}, submissions due {} after each prompt, {} peer reviews each, due {} later. ",
                course.settings.weeks,
                course.settings.prompt.source(),
                zone,
                course.settings.deadline,
                course.settings.reviews,
                course.settings.review_window
            ),
        );
    if let Some(first) = first {
        text = text.push_md("Week 1 opens ").time(first, &zones).push_md(". ");
    }
    text =
        text.push_md("You're its organizer; load the syllabus in its room with ").code("!syllabus load").push_md(".");
    turn.reply(text);
}
