//! The community's state as the domain sees it, and the changes that move it.
//!
//! The runtime keeps one [`State`] in memory, loaded from storage at start. A decision reads it
//! and returns [`Change`]s; storage writes those changes in one transaction, and the same changes
//! are applied here with [`State::apply`]. Storage and memory therefore never disagree about what
//! a change means: the storage conformance suite checks that a state loaded back from the
//! database equals the state built in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{Account, AssertionId, AssignmentId, CourseId, Email, PersonId, SchoolId, Slug, SubmissionId, Zone};
use crate::schedule::{Offset, PromptSchedule, resolve_local};
use crate::syllabus::Syllabus;

/// A person's role in one course.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Runs the course.
    Organizer,
    /// Helps where peers cannot.
    Mentor,
    /// Takes the course.
    Learner,
}

impl Role {
    /// Lowercase name, also the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Organizer => "organizer",
            Role::Mentor => "mentor",
            Role::Learner => "learner",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "organizer" => Some(Role::Organizer),
            "mentor" => Some(Role::Mentor),
            "learner" => Some(Role::Learner),
            _ => None,
        }
    }
}

/// Whether a course's schedule runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CourseStatus {
    /// Runs on its schedule.
    Active,
    /// Schedule held.
    Paused,
    /// Closed.
    Ended,
}

impl CourseStatus {
    /// Lowercase name, also the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            CourseStatus::Active => "active",
            CourseStatus::Paused => "paused",
            CourseStatus::Ended => "ended",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<CourseStatus> {
        match text {
            "active" => Some(CourseStatus::Active),
            "paused" => Some(CourseStatus::Paused),
            "ended" => Some(CourseStatus::Ended),
            _ => None,
        }
    }
}

/// A person the bot knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    /// Display name from the platform at first contact.
    pub name: String,
    /// Their own zone, set with `!tz`.
    pub zone: Option<Zone>,
    /// Their chat accounts.
    pub accounts: Vec<Account>,
    /// A bot admin: may create courses and schools and acts as an organizer of every course.
    /// Synced from the config's `[bot] admins` when the bot starts.
    pub admin: bool,
    /// They asked for a public profile (`!profile public`): the web face may name them, list
    /// their badges on their page, and name them as an organizer on a course page.
    pub public: bool,
    /// The address their badges are issued to (hashed), given by DM with `!badge email`.
    pub badge_email: Option<Email>,
}

/// A school.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct School {
    pub id: SchoolId,
    /// Derived from the name.
    pub slug: Slug,
    /// As given.
    pub name: String,
}

/// What organizers can change about a course.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseSettings {
    pub title: String,
    /// School, if any.
    pub school: Option<SchoolId>,
    /// Cycle label.
    pub cycle: Option<String>,
    /// First day (in the course's zone) a prompt may fall on.
    pub start: NaiveDate,
    /// Number of weeks.
    pub weeks: u32,
    /// The course's zone.
    pub zone: Zone,
    /// When prompts are posted.
    pub prompt: PromptSchedule,
    /// Submission deadline after each prompt.
    pub deadline: Offset,
    /// Peer reviews each submission should get (k).
    pub reviews: u32,
    /// Review deadline after the submission deadline.
    pub review_window: Offset,
    /// How long a reviewer has an assignment before it is handed on.
    pub lease: Offset,
    /// Whether authors see who reviewed them.
    pub anonymous: bool,
    /// Whether each week's prompt opens a thread for that week's discussion and submissions.
    pub threads: bool,
    /// Whether the course is in the web face's public catalogue with its own page.
    pub public: bool,
}

/// Who a review assignment went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ReviewerRole {
    /// A fellow learner.
    Peer,
    /// A mentor (or an organizer when the course has no mentor) covering what peers could not.
    Mentor,
}

impl ReviewerRole {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewerRole::Peer => "peer",
            ReviewerRole::Mentor => "mentor",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<ReviewerRole> {
        match text {
            "peer" => Some(ReviewerRole::Peer),
            "mentor" => Some(ReviewerRole::Mentor),
            _ => None,
        }
    }
}

/// Where an assignment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AssignmentStatus {
    /// Waiting for the review.
    Open,
    /// Reviewed.
    Done,
    /// Not done within its lease; handed on.
    Expired,
}

impl AssignmentStatus {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Open => "open",
            AssignmentStatus::Done => "done",
            AssignmentStatus::Expired => "expired",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<AssignmentStatus> {
        match text {
            "open" => Some(AssignmentStatus::Open),
            "done" => Some(AssignmentStatus::Done),
            "expired" => Some(AssignmentStatus::Expired),
            _ => None,
        }
    }
}

/// A reviewer and a submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub id: AssignmentId,
    pub week: u32,
    /// The work.
    pub submission: SubmissionId,
    /// Its author.
    pub author: PersonId,
    /// The reviewer.
    pub reviewer: PersonId,
    /// Peer or mentor.
    pub role: ReviewerRole,
    /// When assigned.
    pub assigned_at: DateTime<Utc>,
    /// When the lease ends (the reviewer's deadline).
    pub due: DateTime<Utc>,
    pub status: AssignmentStatus,
    /// Reminders sent.
    pub reminders: u32,
    /// The last one.
    pub last_reminder: Option<DateTime<Utc>>,
}

/// A review written for an assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// Latest feedback.
    pub feedback: String,
    /// Latest score, 1 to 5.
    pub score: Option<u8>,
    /// Versions.
    pub revisions: u32,
    /// First version's time.
    pub first_at: DateTime<Utc>,
    /// Latest version's time.
    pub latest_at: DateTime<Utc>,
    /// Whether the author was told "a peer" rather than the reviewer's name: fixed when the
    /// review is first written, so a later change of the course's setting never unmasks it.
    pub anonymous: bool,
}

/// A badge awarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Award {
    pub reason: String,
    /// By whom (`None`: earned by criteria).
    pub by: Option<PersonId>,
    pub at: DateTime<Utc>,
    /// Its public id (the hosted assertion's address).
    pub assertion: AssertionId,
}

/// An award taken back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The award's public id, which now answers "revoked".
    pub assertion: AssertionId,
    /// When the award was made.
    pub awarded_at: DateTime<Utc>,
    /// Why it was taken back (shown in the revoked assertion).
    pub reason: String,
    pub by: PersonId,
    pub at: DateTime<Utc>,
}

/// A member of a course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub role: Role,
    /// Since when.
    pub joined_at: DateTime<Utc>,
}

/// A week whose prompt has been posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenedWeek {
    /// When it was scheduled (deadlines count from here).
    pub prompt_at: DateTime<Utc>,
    /// When it was actually posted.
    pub posted_at: DateTime<Utc>,
    /// Posted after downtime.
    pub late: bool,
}

/// A learner's work for one week.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub id: SubmissionId,
    pub week: u32,
    /// Learner.
    pub author: PersonId,
    /// First version's time.
    pub first_at: DateTime<Utc>,
    /// First version came after the deadline.
    pub late: bool,
    /// Number of versions (1 = no revisions).
    pub revisions: u32,
    /// Latest version's time.
    pub latest_at: DateTime<Utc>,
    /// Latest version's text.
    pub body: String,
}

/// A course.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Course {
    pub id: CourseId,
    /// Unique short name.
    pub slug: Slug,
    pub settings: CourseSettings,
    pub status: CourseStatus,
    /// When the status last changed.
    pub status_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Creator (the first organizer).
    pub created_by: PersonId,
    /// Members by person.
    pub members: BTreeMap<PersonId, Member>,
    /// The syllabus, once loaded.
    pub syllabus: Option<Syllabus>,
    /// Weeks posted so far.
    pub opened: BTreeMap<u32, OpenedWeek>,
    /// Submissions by (week, author).
    pub submissions: BTreeMap<(u32, PersonId), Submission>,
    /// The course's pairing seed.
    pub seed: u64,
    /// Weeks whose reviewers were paired, and when.
    pub paired: BTreeMap<u32, DateTime<Utc>>,
    /// Review assignments.
    pub assignments: BTreeMap<AssignmentId, Assignment>,
    /// Reviews, by assignment.
    pub reviews: BTreeMap<AssignmentId, Review>,
    /// Badges awarded, by (badge, learner).
    pub awards: BTreeMap<(Slug, PersonId), Award>,
    /// Nominations, by (badge, nominee): nominator and reason.
    pub nominations: BTreeMap<(Slug, PersonId), BTreeMap<PersonId, String>>,
    /// Index: the assignments of each submission (kept by [`Course::insert_assignment`]).
    pub by_submission: BTreeMap<SubmissionId, Vec<AssignmentId>>,
    /// Index: the assignments of each reviewer (kept by [`Course::insert_assignment`]).
    pub by_reviewer: BTreeMap<PersonId, Vec<AssignmentId>>,
    /// Index: where each submission is in `submissions` (kept by [`Course::insert_submission`]).
    pub submission_keys: BTreeMap<SubmissionId, (u32, PersonId)>,
    /// Awards taken back, by badge and person, oldest first: their hosted assertions answer
    /// "revoked", and criteria and nominations never award that badge to that person again
    /// (an organizer may).
    pub revocations: BTreeMap<(Slug, PersonId), Vec<Revocation>>,
    /// Index: the award (current or revoked) each public id names.
    pub by_assertion: BTreeMap<AssertionId, (Slug, PersonId)>,
}

impl Course {
    /// The review deadline of an opened week.
    pub fn review_deadline(&self, week: u32) -> Option<DateTime<Utc>> {
        Some(self.settings.review_window.after(self.settings.zone, self.deadline(week)?))
    }

    /// The badge definitions from the syllabus.
    pub fn badges(&self) -> &[crate::badges::BadgeDef] {
        self.syllabus.as_ref().map_or(&[], |s| s.badges.as_slice())
    }

    /// One badge definition.
    pub fn badge(&self, slug: &Slug) -> Option<&crate::badges::BadgeDef> {
        self.badges().iter().find(|b| &b.slug == slug)
    }

    /// The submission with this id.
    pub fn submission(&self, id: SubmissionId) -> Option<&Submission> {
        self.submissions.get(self.submission_keys.get(&id)?)
    }

    /// Adds or replaces an assignment, keeping the indexes.
    pub fn insert_assignment(&mut self, a: Assignment) {
        if !self.assignments.contains_key(&a.id) {
            self.by_submission.entry(a.submission).or_default().push(a.id);
            self.by_reviewer.entry(a.reviewer).or_default().push(a.id);
        }
        self.assignments.insert(a.id, a);
    }

    /// Adds a submission (its first version), keeping the index.
    pub fn insert_submission(&mut self, s: Submission) {
        self.submission_keys.insert(s.id, (s.week, s.author));
        self.submissions.insert((s.week, s.author), s);
    }

    /// A reviewer's assignments, in the order they were made.
    pub fn assignments_for(&self, reviewer: PersonId) -> impl Iterator<Item = &Assignment> {
        self.by_reviewer.get(&reviewer).into_iter().flatten().filter_map(|id| self.assignments.get(id))
    }

    /// The people `person` met in review before `week` (reviewed them or was reviewed by them):
    /// from the indexes, without walking every assignment of the course.
    pub fn met_before(&self, person: PersonId, week: u32) -> std::collections::BTreeSet<PersonId> {
        let mut met: std::collections::BTreeSet<PersonId> =
            self.assignments_for(person).filter(|a| a.week < week).map(|a| a.author).collect();
        for w in 1..week {
            if let Some(s) = self.submissions.get(&(w, person)) {
                met.extend(self.assignments_of(s.id).map(|a| a.reviewer));
            }
        }
        met
    }

    /// Submissions of one week, in id order.
    pub fn week_submissions(&self, week: u32) -> Vec<&Submission> {
        let mut subs: Vec<&Submission> =
            self.submissions.range((week, PersonId(i64::MIN))..=(week, PersonId(i64::MAX))).map(|(_, s)| s).collect();
        subs.sort_by_key(|s| s.id);
        subs
    }

    /// Assignments of one submission.
    pub fn assignments_of(&self, submission: SubmissionId) -> impl Iterator<Item = &Assignment> {
        self.by_submission.get(&submission).into_iter().flatten().filter_map(|id| self.assignments.get(id))
    }

    /// (weeks submitted, weeks on time, reviews done) of a person.
    pub fn record(&self, person: PersonId) -> (u32, u32, u32) {
        // From the indexes: the person's weeks and their own assignments, not the whole course.
        let (mut weeks, mut on_time) = (0, 0);
        for s in (1..=self.settings.weeks.max(self.opened.keys().next_back().copied().unwrap_or(0)))
            .filter_map(|w| self.submissions.get(&(w, person)))
        {
            weeks += 1;
            if !s.late {
                on_time += 1;
            }
        }
        let reviews = self.assignments_for(person).filter(|a| a.status == AssignmentStatus::Done).count();
        (weeks, on_time, u32::try_from(reviews).unwrap_or(u32::MAX))
    }

    pub fn role(&self, person: PersonId) -> Option<Role> {
        self.members.get(&person).map(|m| m.role)
    }

    /// Whether `person` (if known) or a bot admin may act as this course's organizer: the rule
    /// every organizer command applies, and the engine's before it fetches an attached file.
    pub fn organized_by(&self, person: Option<PersonId>, admin: bool) -> bool {
        admin || person.and_then(|p| self.role(p)) == Some(Role::Organizer)
    }

    /// Members with a role, in id order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = PersonId> + '_ {
        self.members.iter().filter(move |(_, m)| m.role == role).map(|(p, _)| *p)
    }

    /// The latest week posted.
    pub fn current_week(&self) -> Option<u32> {
        self.opened.keys().next_back().copied()
    }

    /// The submission deadline of an opened week.
    pub fn deadline(&self, week: u32) -> Option<DateTime<Utc>> {
        let opened = self.opened.get(&week)?;
        Some(self.settings.deadline.after(self.settings.zone, opened.prompt_at))
    }

    /// Start of the first day, as an instant.
    pub fn start_instant(&self) -> DateTime<Utc> {
        resolve_local(self.settings.zone, self.settings.start.and_hms_opt(0, 0, 0).expect("midnight exists"))
    }

    /// The title of week `n` from the syllabus, if loaded.
    pub fn week_title(&self, n: u32) -> Option<&str> {
        self.syllabus.as_ref()?.week(n).map(|w| w.title.as_str())
    }
}

/// Kinds of scheduled job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum JobKind {
    /// Post a week's prompt.
    Prompt,
    /// Pair reviewers at the submission deadline.
    Pair,
    /// Escalate work short of reviews to mentors at the review deadline.
    Escalate,
    /// Hand on assignments whose lease ran out.
    Leases,
    /// Remind reviewers of open assignments.
    Remind,
}

impl JobKind {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Prompt => "prompt",
            JobKind::Pair => "pair",
            JobKind::Escalate => "escalate",
            JobKind::Leases => "leases",
            JobKind::Remind => "remind",
        }
    }

    /// From the stored form.
    pub fn parse(text: &str) -> Option<JobKind> {
        match text {
            "prompt" => Some(JobKind::Prompt),
            "pair" => Some(JobKind::Pair),
            "escalate" => Some(JobKind::Escalate),
            "leases" => Some(JobKind::Leases),
            "remind" => Some(JobKind::Remind),
            _ => None,
        }
    }
}

/// What a job is about. A job names its subject rather than assuming a course, so anything
/// with a schedule of its own (a proposal's vote, a help ticket, a survey) becomes one more
/// variant here, stored in the same table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum About {
    /// A course (its weeks are the jobs' `week`).
    Course(CourseId),
}

impl About {
    /// The stored form: the kind of subject and its id.
    pub fn stored(self) -> (&'static str, i64) {
        match self {
            About::Course(c) => ("course", c.0),
        }
    }

    /// From the stored form.
    pub fn parse(kind: &str, id: i64) -> Option<About> {
        match kind {
            "course" => Some(About::Course(CourseId(id))),
            _ => None,
        }
    }
}

/// Identifies a job: one of each kind per subject and week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobKey {
    pub about: About,
    pub kind: JobKind,
    /// The course week it is for; 0 for a subject without weeks.
    pub week: u32,
}

impl JobKey {
    /// A job of a course's week.
    pub fn course(course: CourseId, kind: JobKind, week: u32) -> JobKey {
        JobKey { about: About::Course(course), kind, week }
    }
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.about {
            // Also the claim key of a run job: unchanged since jobs were keyed by course.
            About::Course(course) => write!(f, "{}:{}:{}", self.kind.as_str(), course, self.week),
        }
    }
}

/// A state change, as decided by the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// First contact with a person.
    PersonRegistered {
        /// New id.
        person: PersonId,
        /// Their account.
        account: Account,
        /// Display name.
        name: String,
    },
    /// `!tz`.
    PersonZoneSet { person: PersonId, zone: Zone },
    /// The name a person shows on the platform changed (seen when they next speak or join).
    PersonRenamed { person: PersonId, name: String },
    /// A person made their profile public or private (`!profile`).
    ProfileSet { person: PersonId, public: bool },
    /// A person gave (or withdrew) the email their badges are issued to (`!badge email`).
    BadgeEmailSet { person: PersonId, email: Option<Email> },
    /// Made a bot admin, or no longer one (the config's list, synced at start).
    AdminSet { person: PersonId, admin: bool },
    /// A new school.
    SchoolCreated {
        /// New id.
        school: SchoolId,
        slug: Slug,
        name: String,
    },
    /// A new course.
    CourseCreated {
        /// New id.
        course: CourseId,
        slug: Slug,
        settings: CourseSettings,
        created_by: PersonId,
        at: DateTime<Utc>,
        /// Pairing seed.
        seed: u64,
    },
    /// `!course set`.
    CourseSettingsChanged {
        course: CourseId,
        /// All settings, after the change.
        settings: CourseSettings,
    },
    /// Pause, resume, end.
    CourseStatusChanged {
        course: CourseId,
        /// New status.
        status: CourseStatus,
        at: DateTime<Utc>,
    },
    /// A person joins a course or gets a new role in it.
    MemberSet { course: CourseId, person: PersonId, role: Role, at: DateTime<Utc> },
    /// A person leaves a course.
    MemberRemoved { course: CourseId, person: PersonId },
    /// A syllabus loaded or replaced.
    SyllabusLoaded {
        course: CourseId,
        /// The syllabus.
        syllabus: Box<Syllabus>,
        by: PersonId,
        at: DateTime<Utc>,
    },
    /// A week's prompt was posted.
    WeekOpened { course: CourseId, week: u32, opened: OpenedWeek },
    /// The pending prompt jobs of a course, replacing its earlier pending prompt jobs.
    JobsPlanned {
        course: CourseId,
        /// Jobs and due times.
        jobs: Vec<(JobKey, DateTime<Utc>)>,
    },
    /// One job scheduled (or moved).
    JobScheduled { job: JobKey, due: DateTime<Utc> },
    /// A week's reviewers were paired.
    WeekPaired { course: CourseId, week: u32, at: DateTime<Utc> },
    /// A review assignment.
    AssignmentMade {
        course: CourseId,
        /// The assignment.
        assignment: Assignment,
    },
    /// An assignment's lease ran out.
    AssignmentExpired { course: CourseId, assignment: AssignmentId },
    /// Reminders went out for these assignments.
    RemindersSent { course: CourseId, assignments: Vec<AssignmentId>, at: DateTime<Utc> },
    /// A review or a revision of one.
    ReviewRecorded {
        course: CourseId,
        /// The assignment.
        assignment: AssignmentId,
        feedback: String,
        score: Option<u8>,
        at: DateTime<Utc>,
        /// 1 for the first version.
        revision: u32,
        /// The review is anonymous (the course's setting when its first version was written).
        anonymous: bool,
    },
    /// A badge awarded.
    BadgeAwarded {
        course: CourseId,
        badge: Slug,
        /// Learner.
        person: PersonId,
        reason: String,
        /// By whom (`None`: criteria).
        by: Option<PersonId>,
        at: DateTime<Utc>,
    },
    /// An award taken back by an organizer.
    BadgeRevoked {
        course: CourseId,
        badge: Slug,
        /// The learner who held it.
        person: PersonId,
        /// Why (shown in the revoked assertion).
        reason: String,
        by: PersonId,
        at: DateTime<Utc>,
    },
    /// A nomination for a badge.
    BadgeNominated {
        course: CourseId,
        badge: Slug,
        /// Who is nominated.
        nominee: PersonId,
        /// By whom.
        nominator: PersonId,
        reason: String,
        at: DateTime<Utc>,
    },
    /// A job ran.
    JobDone { job: JobKey },
    /// A submission or a revision of one.
    SubmissionRecorded {
        /// Id (the same for every revision).
        submission: SubmissionId,
        course: CourseId,
        week: u32,
        /// Learner.
        author: PersonId,
        /// Text or link.
        body: String,
        at: DateTime<Utc>,
        /// After the deadline.
        late: bool,
        /// 1 for the first version.
        revision: u32,
    },
}

/// Everything the domain knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Shared with the published snapshots: a change copies only the person it changes.
    pub persons: BTreeMap<PersonId, Arc<Person>>,
    /// Account to person.
    pub accounts: BTreeMap<Account, PersonId>,
    pub schools: BTreeMap<SchoolId, School>,
    /// Shared with the published snapshots: a change copies only the course it changes.
    pub courses: BTreeMap<CourseId, Arc<Course>>,
    /// Slug to course.
    pub course_slugs: BTreeMap<Slug, CourseId>,
    /// Pending jobs.
    pub jobs: BTreeMap<JobKey, DateTime<Utc>>,
    /// Pending jobs by due time (the scheduler's index: finding what is due never scans courses).
    pub due: BTreeSet<(DateTime<Utc>, JobKey)>,
    /// Highest submission id handed out.
    pub last_submission: i64,
    /// Assignment to course.
    pub assignment_courses: BTreeMap<AssignmentId, CourseId>,
    /// Award by public id: its course (whose `by_assertion` says which award). Fixed-size
    /// entries, so a published snapshot copies this index without a heap allocation per award.
    pub assertions: BTreeMap<AssertionId, CourseId>,
}

impl State {
    /// A course to change: copied first when a published snapshot still holds it.
    pub fn course_mut(&mut self, course: &CourseId) -> Option<&mut Course> {
        self.courses.get_mut(course).map(Arc::make_mut)
    }

    /// A person to change: copied first when a published snapshot still holds them.
    pub fn person_mut(&mut self, person: &PersonId) -> Option<&mut Person> {
        self.persons.get_mut(person).map(Arc::make_mut)
    }

    /// Records an award and indexes it by its public id.
    pub fn insert_award(
        &mut self,
        course: CourseId,
        badge: Slug,
        person: PersonId,
        reason: String,
        by: Option<PersonId>,
        at: DateTime<Utc>,
    ) {
        let Some(c) = self.course_mut(&course) else { return };
        let round = c.revocations.get(&(badge.clone(), person)).map_or(0, Vec::len);
        let assertion = crate::badges::assertion_id(c.seed, course, &badge, person, at, round);
        c.by_assertion.insert(assertion, (badge.clone(), person));
        if let Some(old) = c.awards.insert((badge, person), Award { reason, by, at, assertion })
            && old.assertion != assertion
        {
            c.by_assertion.remove(&old.assertion);
            self.assertions.remove(&old.assertion);
        }
        self.assertions.insert(assertion, course);
    }

    /// Records an award taken back (the award itself already removed), keeping its public id
    /// answerable.
    pub fn insert_revocation(&mut self, course: CourseId, badge: Slug, person: PersonId, revocation: Revocation) {
        let Some(c) = self.course_mut(&course) else { return };
        let assertion = revocation.assertion;
        c.by_assertion.insert(assertion, (badge.clone(), person));
        c.revocations.entry((badge, person)).or_default().push(revocation);
        self.assertions.insert(assertion, course);
    }

    /// The revoked award with this public id.
    pub fn revocation_by_assertion(&self, id: &AssertionId) -> Option<(&Course, &Slug, &Revocation)> {
        let course = self.course(self.assertions.get(id)?)?;
        let (badge, person) = course.by_assertion.get(id)?;
        let revocation = course.revocations.get(&(badge.clone(), *person))?.iter().find(|r| r.assertion == *id)?;
        Some((course, badge, revocation))
    }

    /// The award with this public id: its course, badge and learner.
    pub fn award_by_assertion(&self, id: &AssertionId) -> Option<(&Course, &Slug, PersonId, &Award)> {
        let course = self.course(self.assertions.get(id)?)?;
        let (badge, person) = course.by_assertion.get(id)?;
        let award = course.awards.get(&(badge.clone(), *person)).filter(|a| a.assertion == *id)?;
        Some((course, badge, *person, award))
    }

    /// Every course, in id order.
    pub fn all_courses(&self) -> impl Iterator<Item = &Course> {
        self.courses.values().map(|c| &**c)
    }

    /// The course with this id.
    pub fn course(&self, course: &CourseId) -> Option<&Course> {
        self.courses.get(course).map(|c| &**c)
    }

    /// The course with this slug.
    pub fn course_by_slug(&self, slug: &Slug) -> Option<&Course> {
        self.course(self.course_slugs.get(slug)?)
    }

    /// The school with this slug.
    pub fn school_by_slug(&self, slug: &Slug) -> Option<&School> {
        self.schools.values().find(|s| &s.slug == slug)
    }

    /// Whether `person` is a bot admin.
    pub fn is_admin(&self, person: PersonId) -> bool {
        self.persons.get(&person).is_some_and(|p| p.admin)
    }

    /// The bot admins, in id order.
    pub fn admins(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.persons.values().filter(|p| p.admin).map(|p| p.id)
    }

    /// The next free person id.
    pub fn next_person_id(&self) -> PersonId {
        PersonId(self.persons.keys().next_back().map_or(1, |p| p.0 + 1))
    }

    /// The next free course id.
    pub fn next_course_id(&self) -> CourseId {
        CourseId(self.courses.keys().next_back().map_or(1, |c| c.0 + 1))
    }

    /// The next free school id.
    pub fn next_school_id(&self) -> SchoolId {
        SchoolId(self.schools.keys().next_back().map_or(1, |s| s.0 + 1))
    }

    /// The next free submission id.
    pub fn next_submission_id(&self) -> SubmissionId {
        SubmissionId(self.last_submission + 1)
    }

    /// The next free assignment id.
    pub fn next_assignment_id(&self) -> AssignmentId {
        AssignmentId(self.assignment_courses.keys().next_back().map_or(1, |a| a.0 + 1))
    }

    /// An assignment and its course.
    pub fn assignment(&self, id: AssignmentId) -> Option<(&Course, &Assignment)> {
        let course = self.courses.get(self.assignment_courses.get(&id)?)?;
        Some((course, course.assignments.get(&id)?))
    }

    /// The earliest pending job due at or before `now`.
    pub fn next_due_job(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, JobKey)> {
        self.due.first().copied().filter(|(at, _)| *at <= now)
    }

    /// When the next job falls due, if any.
    pub fn next_due_time(&self) -> Option<DateTime<Utc>> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Pending jobs of one course.
    pub fn course_jobs(&self, course: CourseId) -> impl Iterator<Item = (&JobKey, &DateTime<Utc>)> {
        let from = JobKey::course(course, JobKind::Prompt, 0);
        self.jobs.range(from..).take_while(move |(k, _)| k.about == About::Course(course))
    }

    /// When week `n` of a course opens (opened or planned).
    pub fn prompt_time(&self, course: &Course, week: u32) -> Option<DateTime<Utc>> {
        if let Some(o) = course.opened.get(&week) {
            return Some(o.prompt_at);
        }
        self.jobs.get(&JobKey::course(course.id, JobKind::Prompt, week)).copied()
    }

    /// The zones to show a person a time of this course in: the course's, then theirs.
    pub fn zones_for(&self, person: PersonId, course: &Course) -> Vec<Zone> {
        let mut zones = vec![course.settings.zone];
        if let Some(z) = self.persons.get(&person).and_then(|p| p.zone) {
            zones.push(z);
        }
        zones
    }

    /// Applies one change.
    ///
    /// Changes refer to things that exist: a decision only emits changes about what it found in
    /// this state, so a missing course or person here means the change is ignored, never a panic.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::PersonRegistered { person, account, name } => {
                let entry = Arc::make_mut(self.persons.entry(*person).or_insert_with(|| {
                    Arc::new(Person {
                        id: *person,
                        name: name.clone(),
                        zone: None,
                        accounts: Vec::new(),
                        admin: false,
                        public: false,
                        badge_email: None,
                    })
                }));
                if !entry.accounts.contains(account) {
                    entry.accounts.push(account.clone());
                    entry.accounts.sort();
                }
                self.accounts.insert(account.clone(), *person);
            }
            Change::PersonZoneSet { person, zone } => {
                if let Some(p) = self.person_mut(person) {
                    p.zone = Some(*zone);
                }
            }
            Change::AdminSet { person, admin } => {
                if let Some(p) = self.person_mut(person) {
                    p.admin = *admin;
                }
            }
            Change::PersonRenamed { person, name } => {
                if let Some(p) = self.person_mut(person) {
                    p.name.clone_from(name);
                }
            }
            Change::ProfileSet { person, public } => {
                if let Some(p) = self.person_mut(person) {
                    p.public = *public;
                }
            }
            Change::BadgeEmailSet { person, email } => {
                if let Some(p) = self.person_mut(person) {
                    p.badge_email.clone_from(email);
                }
            }
            Change::SchoolCreated { school, slug, name } => {
                self.schools.insert(*school, School { id: *school, slug: slug.clone(), name: name.clone() });
            }
            Change::CourseCreated { course, slug, settings, created_by, at, seed } => {
                self.course_slugs.insert(slug.clone(), *course);
                self.courses.insert(
                    *course,
                    Arc::new(Course {
                        id: *course,
                        slug: slug.clone(),
                        settings: settings.clone(),
                        status: CourseStatus::Active,
                        status_at: *at,
                        created_at: *at,
                        created_by: *created_by,
                        members: BTreeMap::new(),
                        syllabus: None,
                        opened: BTreeMap::new(),
                        submissions: BTreeMap::new(),
                        seed: *seed,
                        paired: BTreeMap::new(),
                        assignments: BTreeMap::new(),
                        reviews: BTreeMap::new(),
                        awards: BTreeMap::new(),
                        nominations: BTreeMap::new(),
                        by_submission: BTreeMap::new(),
                        by_reviewer: BTreeMap::new(),
                        submission_keys: BTreeMap::new(),
                        revocations: BTreeMap::new(),
                        by_assertion: BTreeMap::new(),
                    }),
                );
            }
            Change::CourseSettingsChanged { course, settings } => {
                if let Some(c) = self.course_mut(course) {
                    c.settings = settings.clone();
                }
            }
            Change::CourseStatusChanged { course, status, at } => {
                if let Some(c) = self.course_mut(course) {
                    c.status = *status;
                    c.status_at = *at;
                }
            }
            Change::MemberSet { course, person, role, at } => {
                if let Some(c) = self.course_mut(course) {
                    c.members.insert(*person, Member { role: *role, joined_at: *at });
                }
            }
            Change::MemberRemoved { course, person } => {
                if let Some(c) = self.course_mut(course) {
                    c.members.remove(person);
                }
            }
            Change::SyllabusLoaded { course, syllabus, .. } => {
                if let Some(c) = self.course_mut(course) {
                    c.syllabus = Some((**syllabus).clone());
                }
            }
            Change::WeekOpened { course, week, opened } => {
                if let Some(c) = self.course_mut(course) {
                    c.opened.insert(*week, *opened);
                }
            }
            Change::JobsPlanned { course, jobs } => {
                let old: Vec<(JobKey, DateTime<Utc>)> = self
                    .course_jobs(*course)
                    .filter(|(k, _)| k.kind == JobKind::Prompt)
                    .map(|(k, t)| (*k, *t))
                    .collect();
                for (key, at) in old {
                    self.jobs.remove(&key);
                    self.due.remove(&(at, key));
                }
                for (key, at) in jobs {
                    self.jobs.insert(*key, *at);
                    self.due.insert((*at, *key));
                }
            }
            Change::JobDone { job } => {
                if let Some(at) = self.jobs.remove(job) {
                    self.due.remove(&(at, *job));
                }
            }
            Change::JobScheduled { job, due } => {
                if let Some(at) = self.jobs.insert(*job, *due) {
                    self.due.remove(&(at, *job));
                }
                self.due.insert((*due, *job));
            }
            Change::WeekPaired { course, week, at } => {
                if let Some(c) = self.course_mut(course) {
                    c.paired.insert(*week, *at);
                }
            }
            Change::AssignmentMade { course, assignment } => {
                self.assignment_courses.insert(assignment.id, *course);
                if let Some(c) = self.course_mut(course) {
                    c.insert_assignment(assignment.clone());
                }
            }
            Change::AssignmentExpired { course, assignment } => {
                if let Some(a) = self.course_mut(course).and_then(|c| c.assignments.get_mut(assignment)) {
                    a.status = AssignmentStatus::Expired;
                }
            }
            Change::RemindersSent { course, assignments, at } => {
                if let Some(c) = self.course_mut(course) {
                    for id in assignments {
                        if let Some(a) = c.assignments.get_mut(id) {
                            a.reminders += 1;
                            a.last_reminder = Some(*at);
                        }
                    }
                }
            }
            Change::ReviewRecorded { course, assignment, feedback, score, at, revision, anonymous } => {
                if let Some(c) = self.course_mut(course) {
                    if let Some(a) = c.assignments.get_mut(assignment) {
                        a.status = AssignmentStatus::Done;
                    }
                    let review = c.reviews.entry(*assignment).or_insert_with(|| Review {
                        feedback: String::new(),
                        score: None,
                        revisions: 0,
                        first_at: *at,
                        latest_at: *at,
                        anonymous: *anonymous,
                    });
                    review.feedback = feedback.clone();
                    review.score = *score;
                    review.revisions = (*revision).max(review.revisions);
                    review.latest_at = *at;
                }
            }
            Change::BadgeAwarded { course, badge, person, reason, by, at } => {
                self.insert_award(*course, badge.clone(), *person, reason.clone(), *by, *at);
            }
            Change::BadgeRevoked { course, badge, person, reason, by, at } => {
                let Some(c) = self.course_mut(course) else { return };
                let Some(award) = c.awards.remove(&(badge.clone(), *person)) else { return };
                let revocation = Revocation {
                    assertion: award.assertion,
                    awarded_at: award.at,
                    reason: reason.clone(),
                    by: *by,
                    at: *at,
                };
                self.insert_revocation(*course, badge.clone(), *person, revocation);
            }
            Change::BadgeNominated { course, badge, nominee, nominator, reason, .. } => {
                if let Some(c) = self.course_mut(course) {
                    c.nominations.entry((badge.clone(), *nominee)).or_default().insert(*nominator, reason.clone());
                }
            }
            Change::SubmissionRecorded { submission, course, week, author, body, at, late, revision } => {
                self.last_submission = self.last_submission.max(submission.0);
                if let Some(c) = self.course_mut(course) {
                    if !c.submissions.contains_key(&(*week, *author)) {
                        c.insert_submission(Submission {
                            id: *submission,
                            week: *week,
                            author: *author,
                            first_at: *at,
                            late: *late,
                            revisions: 0,
                            latest_at: *at,
                            body: String::new(),
                        });
                    }
                    let Some(entry) = c.submissions.get_mut(&(*week, *author)) else { return };
                    entry.revisions = (*revision).max(entry.revisions);
                    entry.latest_at = *at;
                    entry.body = body.clone();
                }
            }
        }
    }
}

/// How late a job may run before its post says it is late.
pub fn late_grace() -> Duration {
    Duration::minutes(5)
}
