//! `!syllabus load <Markdown on the following lines>`: load or replace the course's syllabus.

use crate::decide::community::where_we_are_with;
use crate::decide::course::managed_course;
use crate::decide::plan::{plan_prompts, topic};
use crate::syllabus;
use crate::syllabus::Syllabus;
use super::{Arg, ArgKind, Audience, Cmd, CommandError, Spec, Where};
use crate::decide::{Effect, Turn, plural};
use crate::ids::Slug;
use crate::state::{Change, CourseStatus};
use crate::text::Text;

/// `!syllabus load <Markdown on the following lines>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyllabusLoad {
    /// The syllabus, already checked, or what is wrong with it. A wrong syllabus is still
    /// this command, so who may load one is checked before what is wrong with it is told.
    pub syllabus: Result<Box<syllabus::Syllabus>, String>,
}

impl Cmd for SyllabusLoad {
    const SPEC: Spec = Spec {
        name: "syllabus load",
        who: "organizers",
        syntax: "!syllabus load <Markdown on the following lines>",
        example: "!syllabus load\n# Intro to Data\n## Week 1: Getting started\nRead the basics.",
        summary: "load or replace the course's syllabus",
        details: "The Markdown follows the command in the same message: a `# Title`, then `## Week N: title` sections with the prompt and links, and an optional `### Review` list per week. Past weeks are not rewritten.",
        audience: Audience::Organizer,
        place: Where::CourseRoom,
        args: &[Arg::required("file", "The syllabus as a Markdown file", ArgKind::File)],
        max_chars: syllabus::MAX_BYTES + 64,
        ..Spec::DEFAULT
    };

    fn parse(rest: &str) -> Result<Self, CommandError> {
        let source = rest.trim_start_matches([' ', '\t']).trim_start_matches(['\r', '\n']);
        let syllabus = if source.trim().is_empty() {
            Err("put the syllabus Markdown on the lines after `!syllabus load`, in the same message, or attach it as a Markdown file.".to_owned())
        } else {
            syllabus::Syllabus::parse(source).map(Box::new).map_err(|e| format!("the syllabus was not loaded: {e}."))
        };
        Ok(SyllabusLoad { syllabus })
    }

    fn too_long(problem: String) -> Result<Self, CommandError> {
        Ok(SyllabusLoad { syllabus: Err(problem.replace("that message is", "that syllabus is")) })
    }

    fn decide(&self, turn: &mut Turn<'_>) {
        load_syllabus(turn, &self.syllabus)
    }
}

fn load_syllabus(turn: &mut Turn<'_>, syllabus: &Result<Box<Syllabus>, String>) {
    let usage = SyllabusLoad::SPEC.syntax;
    // Who may load comes first: a learner hears that, not a review of the file.
    let Some(course) = managed_course(turn, usage) else { return };
    let syllabus: &Syllabus = match syllabus {
        Ok(s) => s,
        Err(problem) => return turn.refuse(Text::new().user(crate::decide::capitalise(problem)), Some(usage)),
    };
    if course.status == CourseStatus::Ended {
        return turn.refuse(Text::md("the course has ended."), None);
    }
    let posted = course.current_week().unwrap_or(0);
    if syllabus.len() < posted {
        return turn.refuse(
            Text::md(format!(
                "the course has already posted {posted} weeks, but this syllabus has only {}; past weeks cannot be removed.",
                syllabus.len()
            )),
            Some(usage),
        );
    }
    // Weeks already posted keep the text they were posted with; badges people hold stay
    // (retired when the new file drops them), so no award loses its meaning.
    let mut held: Vec<Slug> = course.awards.keys().map(|(b, _)| b.clone()).collect();
    held.dedup();
    let merged;
    let syllabus = match &course.syllabus {
        Some(old) if posted > 0 || !held.is_empty() => match old.merged_over(syllabus, posted, &held) {
            Ok(m) => {
                merged = m;
                &merged
            }
            Err(e) => {
                return turn.refuse(
                    Text::md("the syllabus could not be combined with the weeks already posted: ").user(e.to_string()),
                    Some(usage),
                );
            }
        },
        _ => syllabus,
    };
    let retired: Vec<&str> = syllabus.badges.iter().filter(|b| b.retired).map(|b| b.name.as_str()).collect();
    let mut after = course.clone();
    after.syllabus = Some(syllabus.clone());
    turn.out.change(Change::SyllabusLoaded {
        course: course.id,
        syllabus: Box::new(syllabus.clone()),
        by: turn.actor(),
        at: turn.now,
    });
    let mut planned: Option<Vec<(crate::state::JobKey, chrono::DateTime<chrono::Utc>)>> = None;
    let mut text =
        Text::md(if course.syllabus.is_some() { "Replaced the syllabus: **" } else { "Loaded the syllabus: **" })
            .user(syllabus.title.clone())
            .push_md(format!("**, {}.", plural(syllabus.weeks.len(), "week")));
    if syllabus.len() != course.settings.weeks {
        text =
            text.push_md(format!(" The course now has {} weeks (it had {}).", syllabus.len(), course.settings.weeks));
        after.settings.weeks = syllabus.len();
        turn.out.change(Change::CourseSettingsChanged { course: course.id, settings: after.settings.clone() });
        if course.status == CourseStatus::Active {
            let jobs = plan_prompts(&after, turn.now);
            planned = Some(jobs.clone());
            turn.out.change(Change::JobsPlanned { course: course.id, jobs });
        }
        turn.out.effect(Effect::SetTopic { course: course.id, topic: topic(&after) });
    }
    if posted > 0 {
        text =
            text.push_md(format!(" Weeks 1 to {posted} were already posted and keep the text they were posted with."));
    }
    if !retired.is_empty() {
        text = text
            .push_md(" Badges people hold stay, retired (no longer awarded): ")
            .user(retired.join(", "))
            .push_md(".");
    }
    let zones = turn.zones(&after);
    let state = turn.state;
    let prompt_time = |week: u32| match &planned {
        Some(jobs) => after
            .opened
            .get(&week)
            .map(|o| o.prompt_at)
            .or_else(|| jobs.iter().find(|(k, _)| k.week == week).map(|(_, at)| *at)),
        None => state.prompt_time(&after, week),
    };
    text = text.push_md("\n").append(where_we_are_with(&after, &prompt_time, &zones, turn.now));
    turn.reply(text);
}
