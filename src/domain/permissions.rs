//! The permission table of the contract, as pure functions.

use super::model::{Principal, Role, RoomKind, RoomRole};

/// Only teachers and admins create group rooms.
pub fn can_create_group(p: &Principal) -> bool {
    matches!(p.role, Role::Teacher | Role::Admin)
}

/// Read, send and join: members, and admins anywhere.
pub fn can_access_room(p: &Principal, membership: Option<RoomRole>) -> bool {
    p.is_admin() || membership.is_some()
}

/// Add members: the room's owner or room admins, and admins anywhere.
pub fn can_manage_members(p: &Principal, membership: Option<RoomRole>) -> bool {
    p.is_admin() || matches!(membership, Some(RoomRole::Owner | RoomRole::Admin))
}

/// Remove a member: yourself always (leaving); others if you manage members,
/// except that only the owner or an admin may remove the owner.
pub fn can_remove_member(
    p: &Principal,
    membership: Option<RoomRole>,
    target_id: &str,
    target_role: RoomRole,
) -> bool {
    if p.user_id == target_id {
        return true;
    }
    if !can_manage_members(p, membership) {
        return false;
    }
    target_role != RoomRole::Owner || p.is_admin() || membership == Some(RoomRole::Owner)
}

/// Delete a message: your own; teachers also students' messages in rooms they
/// belong to; admins any.
pub fn can_delete_message(
    p: &Principal,
    is_member: bool,
    sender_id: &str,
    sender_role: Option<Role>,
) -> bool {
    match p.role {
        Role::Admin => true,
        Role::Teacher => {
            is_member && (sender_id == p.user_id || sender_role == Some(Role::Student))
        }
        Role::Student => is_member && sender_id == p.user_id,
    }
}

/// Cluster stats are for admins.
pub fn can_view_stats(p: &Principal) -> bool {
    p.is_admin()
}

/// Another user's status: your own, a contact's, or anyone's for admins.
pub fn can_view_status(p: &Principal, target: &str, is_contact: bool) -> bool {
    p.is_admin() || p.user_id == target || is_contact
}

/// Start a meeting: in a group room its teachers, owner and room admins; in a 1:1 room
/// either member; admins anywhere.
pub fn can_start_meeting(p: &Principal, kind: RoomKind, membership: Option<RoomRole>) -> bool {
    if p.is_admin() {
        return true;
    }
    match kind {
        RoomKind::Personal => membership.is_some(),
        RoomKind::Group => {
            matches!(membership, Some(RoomRole::Owner | RoomRole::Admin))
                || (membership.is_some() && p.role == Role::Teacher)
        }
    }
}

/// Pin or unpin messages: as for starting a meeting (group rooms: teachers who are
/// members, the owner and room admins; 1:1 rooms: either member; admins anywhere).
pub fn can_pin(p: &Principal, kind: RoomKind, membership: Option<RoomRole>) -> bool {
    can_start_meeting(p, kind, membership)
}

/// End a meeting and act as its host: its starter, the room's owner and room admins,
/// and admins.
pub fn is_meeting_host(p: &Principal, membership: Option<RoomRole>, started_by: &str) -> bool {
    p.is_admin()
        || p.user_id == started_by
        || matches!(membership, Some(RoomRole::Owner | RoomRole::Admin))
}

/// See everyone's attendance lines (others see only their own): teachers, the room's
/// owner and room admins, admins.
pub fn sees_all_attendance(p: &Principal, membership: Option<RoomRole>) -> bool {
    matches!(p.role, Role::Teacher | Role::Admin)
        || matches!(membership, Some(RoomRole::Owner | RoomRole::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> Principal {
        Principal {
            user_id: "me".into(),
            role,
            name: None,
        }
    }

    #[test]
    fn only_teachers_and_admins_create_groups() {
        assert!(!can_create_group(&who(Role::Student)));
        assert!(can_create_group(&who(Role::Teacher)));
        assert!(can_create_group(&who(Role::Admin)));
    }

    #[test]
    fn teachers_delete_students_messages_only_in_their_rooms() {
        let t = who(Role::Teacher);
        assert!(can_delete_message(&t, true, "s1", Some(Role::Student)));
        assert!(!can_delete_message(&t, false, "s1", Some(Role::Student)));
        assert!(!can_delete_message(&t, true, "t2", Some(Role::Teacher)));
        assert!(can_delete_message(&t, true, "me", Some(Role::Teacher)));
    }

    #[test]
    fn students_delete_only_their_own() {
        let s = who(Role::Student);
        assert!(can_delete_message(&s, true, "me", Some(Role::Student)));
        assert!(!can_delete_message(&s, true, "s2", Some(Role::Student)));
    }

    #[test]
    fn room_admins_cannot_remove_the_owner() {
        let s = who(Role::Student);
        assert!(!can_remove_member(
            &s,
            Some(RoomRole::Admin),
            "o",
            RoomRole::Owner
        ));
        assert!(can_remove_member(
            &s,
            Some(RoomRole::Admin),
            "m",
            RoomRole::Member
        ));
        assert!(can_remove_member(
            &s,
            Some(RoomRole::Member),
            "me",
            RoomRole::Member
        ));
        assert!(!can_remove_member(
            &s,
            Some(RoomRole::Member),
            "m",
            RoomRole::Member
        ));
    }

    #[test]
    fn meetings_start_by_staff_in_groups_and_by_either_member_of_a_pair() {
        let (s, t, a) = (who(Role::Student), who(Role::Teacher), who(Role::Admin));
        let member = Some(RoomRole::Member);
        assert!(!can_start_meeting(&s, RoomKind::Group, member));
        assert!(can_start_meeting(
            &s,
            RoomKind::Group,
            Some(RoomRole::Owner)
        ));
        assert!(can_start_meeting(&t, RoomKind::Group, member));
        assert!(!can_start_meeting(&t, RoomKind::Group, None));
        assert!(can_start_meeting(&a, RoomKind::Group, None));
        assert!(can_start_meeting(&s, RoomKind::Personal, member));
    }

    #[test]
    fn hosts_are_the_starter_room_managers_and_admins() {
        let s = who(Role::Student);
        assert!(is_meeting_host(&s, Some(RoomRole::Member), "me"));
        assert!(!is_meeting_host(&s, Some(RoomRole::Member), "other"));
        assert!(is_meeting_host(&s, Some(RoomRole::Admin), "other"));
        assert!(is_meeting_host(&who(Role::Admin), None, "other"));
        assert!(!is_meeting_host(
            &who(Role::Teacher),
            Some(RoomRole::Member),
            "other"
        ));
        assert!(sees_all_attendance(
            &who(Role::Teacher),
            Some(RoomRole::Member)
        ));
        assert!(!sees_all_attendance(&s, Some(RoomRole::Member)));
    }
}
