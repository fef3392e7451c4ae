//! The organizers' figures of a course, computed from a snapshot of the state: what the
//! dashboard shows, charts and downloads as CSV. Each figure is defined in one line
//! ([`DEFINITIONS`]), shown beside it on the page.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use facilitator_bot::state::{AssignmentStatus, ReviewerRole, Role};
use facilitator_bot::{Course, PersonId, State};

/// One opened week of a course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// Its number.
    pub week: u32,
    /// Its title, from the syllabus.
    pub title: String,
    /// Current learners who submitted before the deadline.
    pub on_time: usize,
    /// Current learners who submitted after it.
    pub late: usize,
    /// Current learners who have not submitted.
    pub not_yet: usize,
    /// Review assignments made for the week's work (handed-on ones included).
    pub assigned: usize,
    /// Reviews written.
    pub done: usize,
    /// Median time from assignment to review, of the reviews written.
    pub median_review: Option<Duration>,
    /// Work sent to mentors (at the review deadline, or when the peers were too few).
    pub escalated: usize,
}

/// A learner with no submission in the last two opened weeks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiet {
    /// Who.
    pub person: PersonId,
    /// Their name.
    pub name: String,
    /// Their last submission's week, if any.
    pub last_week: Option<u32>,
}

/// A course's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseFigures {
    /// Current learners.
    pub learners: usize,
    /// Each opened week, in order.
    pub weeks: Vec<Week>,
    /// Quiet learners (only once two weeks have opened).
    pub quiet: Vec<Quiet>,
    /// Badges awarded: (badge name, holders).
    pub badges: Vec<(String, usize)>,
}

/// One line per figure, as the page shows it.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("Learners", "people enrolled as learners now (organizers and mentors are not counted)."),
    ("On time", "learners (of those enrolled now) whose first submission for the week came before its deadline."),
    ("Late", "learners whose first submission for the week came after its deadline."),
    ("Not yet", "learners with no submission for the week."),
    ("Reviews assigned", "review assignments made for the week's work, including ones handed on when a lease ran out."),
    ("Reviews done", "reviews written for the week's work."),
    ("Median time to review", "the middle of the times from an assignment to its review, over the reviews written."),
    ("Sent to mentors", "assignments given to a mentor because peers did not review in time or were too few."),
    ("Quiet", "learners with no submission in the last two weeks that opened; worth a friendly word."),
    ("Badges", "awards of each badge held now (revoked ones are not counted)."),
];

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    values.sort();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2 })
}

/// The figures of `course` as of `state`.
pub fn course(state: &State, course: &Course) -> CourseFigures {
    let learners: BTreeSet<PersonId> = course.with_role(Role::Learner).collect();
    let mut weeks = Vec::new();
    for &week in course.opened.keys() {
        let (mut on_time, mut late) = (0, 0);
        for person in &learners {
            match course.submissions.get(&(week, *person)) {
                Some(s) if s.late => late += 1,
                Some(_) => on_time += 1,
                None => {}
            }
        }
        let assignments: Vec<_> = course.assignments.values().filter(|a| a.week == week).collect();
        let times: Vec<Duration> = assignments
            .iter()
            .filter(|a| a.status == AssignmentStatus::Done)
            .filter_map(|a| course.reviews.get(&a.id).map(|r| r.first_at - a.assigned_at))
            .collect();
        weeks.push(Week {
            week,
            title: course.week_title(week).unwrap_or_default().to_owned(),
            on_time,
            late,
            not_yet: learners.len() - on_time - late,
            assigned: assignments.len(),
            done: assignments.iter().filter(|a| a.status == AssignmentStatus::Done).count(),
            median_review: median(times),
            escalated: assignments.iter().filter(|a| a.role == ReviewerRole::Mentor).count(),
        });
    }
    let recent: Vec<u32> = course.opened.keys().rev().take(2).copied().collect();
    let quiet = if recent.len() < 2 {
        Vec::new()
    } else {
        learners
            .iter()
            .filter(|p| recent.iter().all(|w| !course.submissions.contains_key(&(*w, **p))))
            .map(|p| Quiet {
                person: *p,
                name: state.persons.get(p).map_or_else(|| format!("person {}", p.0), |p| p.name.clone()),
                last_week: course.submissions.keys().filter(|(_, who)| who == p).map(|(w, _)| *w).max(),
            })
            .collect()
    };
    let mut held: BTreeMap<&facilitator_bot::Slug, usize> = BTreeMap::new();
    for (badge, _) in course.awards.keys() {
        *held.entry(badge).or_default() += 1;
    }
    let badges = course.badges().iter().filter_map(|b| held.get(&b.slug).map(|n| (b.name.clone(), *n))).collect();
    CourseFigures { learners: learners.len(), weeks, quiet, badges }
}

/// A duration as people read it: "3 h 20 min", "2 d 4 h".
pub fn human(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    match (minutes / (24 * 60), (minutes / 60) % 24, minutes % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// The community's figures: courses per school and cycle, active learners per week,
/// completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    /// (school, cycle) → number of courses.
    pub courses: BTreeMap<(String, String), usize>,
    /// Monday of each week (UTC) → distinct learners who submitted that week, in any course.
    pub active: BTreeMap<chrono::NaiveDate, usize>,
    /// Learners of ended courses who submitted every week, and all learners of ended courses.
    pub completion: (usize, usize),
}

/// The community's figures as of `state`.
pub fn community(state: &State) -> Community {
    let mut courses = BTreeMap::new();
    let mut active: BTreeMap<chrono::NaiveDate, BTreeSet<PersonId>> = BTreeMap::new();
    let (mut completed, mut enrolled) = (0, 0);
    for course in state.all_courses() {
        let school =
            course.settings.school.and_then(|s| state.schools.get(&s)).map_or("(none)".to_owned(), |s| s.name.clone());
        let cycle = course.settings.cycle.clone().unwrap_or_else(|| "(none)".to_owned());
        *courses.entry((school, cycle)).or_default() += 1;
        for ((_, person), submission) in &course.submissions {
            active.entry(monday(submission.first_at)).or_default().insert(*person);
        }
        if course.status == facilitator_bot::state::CourseStatus::Ended {
            let weeks: Vec<u32> = course.opened.keys().copied().collect();
            for learner in course.with_role(Role::Learner) {
                enrolled += 1;
                if !weeks.is_empty() && weeks.iter().all(|w| course.submissions.contains_key(&(*w, learner))) {
                    completed += 1;
                }
            }
        }
    }
    Community {
        courses,
        active: active.into_iter().map(|(week, people)| (week, people.len())).collect(),
        completion: (completed, enrolled),
    }
}

fn monday(at: DateTime<Utc>) -> chrono::NaiveDate {
    use chrono::Datelike;
    let day = at.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// A CSV table: a header row, then rows; fields quoted where they need it, and cells that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`) prefixed with `'`.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let field = |f: &str| {
        let f = if f.starts_with(['=', '+', '-', '@']) { format!("'{f}") } else { f.to_owned() };
        if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
    };
    let mut out = header.iter().map(|h| field(h)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![Duration::hours(5), Duration::hours(1), Duration::hours(3)]), Some(Duration::hours(3)));
        assert_eq!(median(vec![Duration::hours(4), Duration::hours(2)]), Some(Duration::hours(3)));
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let out = csv(&["name", "note"], &[vec!["Ana, B".into(), "=HYPERLINK(\"x\")".into()]]);
        assert_eq!(out, "name,note\r\n\"Ana, B\",\"'=HYPERLINK(\"\"x\"\")\"\r\n");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::minutes(42)), "42 min");
        assert_eq!(human(Duration::minutes(200)), "3 h 20 min");
        assert_eq!(human(Duration::hours(52)), "2 d 4 h");
    }
}
