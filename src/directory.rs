//! The runtime's map between domain ids and platform ids: which room is a course's on each
//! platform, and which account a person has there. The domain never sees any of it.

use std::collections::BTreeMap;

use facilitator_bot::{CourseId, PersonId, SchoolId, State};
use facilitator_chat::{ChatId, MessageRef, Platform, RoomRef, UserRef};
use facilitator_storage::{RoomOwner, RoomRow, ThreadRow};

/// A person as the executor needs them: a display name and their accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Display name.
    pub name: String,
    /// Accounts by platform.
    pub accounts: BTreeMap<Platform, UserRef>,
}

/// Rooms and contacts.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    rooms: BTreeMap<(RoomOwner, Platform), RoomRef>,
    courses_by_room: BTreeMap<RoomRef, CourseId>,
    contacts: BTreeMap<PersonId, Contact>,
    threads: BTreeMap<MessageRef, (CourseId, u32)>,
}

impl Directory {
    /// Builds the directory from stored rooms and week threads, and the domain's people.
    pub fn new(rooms: &[RoomRow], threads: &[ThreadRow], state: &State) -> Directory {
        let mut dir = Directory::default();
        for row in rooms {
            let Some(platform) = Platform::parse(&row.platform) else { continue };
            let Ok(room) = RoomRef::new(platform, &row.room) else { continue };
            dir.set_room(row.owner, room);
        }
        for row in threads {
            let Some(platform) = Platform::parse(&row.platform) else { continue };
            let (Ok(room), Ok(id)) = (RoomRef::new(platform, &row.room), ChatId::new(platform, &row.root)) else {
                continue;
            };
            dir.set_thread(row.course, row.week, MessageRef { room, id });
        }
        for person in state.persons.values() {
            for account in &person.accounts {
                dir.add_account(person.id, &person.name, &account.platform, &account.handle);
            }
        }
        dir
    }

    /// Records a room.
    pub fn set_room(&mut self, owner: RoomOwner, room: RoomRef) {
        if let RoomOwner::Course(course) = owner {
            self.courses_by_room.insert(room.clone(), course);
        }
        self.rooms.insert((owner, room.platform()), room);
    }

    /// Records an account of a person.
    pub fn add_account(&mut self, person: PersonId, name: &str, platform: &str, handle: &str) {
        let Some(platform) = Platform::parse(platform) else { return };
        let Ok(user) = UserRef::new(platform, handle) else { return };
        let contact =
            self.contacts.entry(person).or_insert_with(|| Contact { name: name.to_owned(), accounts: BTreeMap::new() });
        contact.accounts.entry(platform).or_insert(user);
    }

    /// A person's name changed.
    pub fn rename(&mut self, person: PersonId, name: &str) {
        if let Some(contact) = self.contacts.get_mut(&person) {
            name.clone_into(&mut contact.name);
        }
    }

    /// The course whose room this is.
    pub fn course_of(&self, room: &RoomRef) -> Option<CourseId> {
        self.courses_by_room.get(room).copied()
    }

    /// Records the thread a week's prompt opened.
    pub fn set_thread(&mut self, course: CourseId, week: u32, thread: MessageRef) {
        self.threads.insert(thread, (course, week));
    }

    /// The course and week whose thread this is.
    pub fn thread_week(&self, thread: &MessageRef) -> Option<(CourseId, u32)> {
        self.threads.get(thread).copied()
    }

    /// A course's room on a platform.
    pub fn course_room(&self, course: CourseId, platform: Platform) -> Option<&RoomRef> {
        self.rooms.get(&(RoomOwner::Course(course), platform))
    }

    /// A school's space on a platform.
    pub fn school_room(&self, school: SchoolId, platform: Platform) -> Option<&RoomRef> {
        self.rooms.get(&(RoomOwner::School(school), platform))
    }

    /// A person's contact details.
    pub fn contact(&self, person: PersonId) -> Option<&Contact> {
        self.contacts.get(&person)
    }
}
