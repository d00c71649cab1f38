//! Who receives which event: the owner organization always; a partner only when the event
//! names it in its audience (fixed when the event was written); a DRIVER its own events.

use uuid::Uuid;

use entity::status_event::{self, EventKind};

/// Whom a stream is for: an organization's managers, or one of its DRIVERs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscriber {
    /// The subscriber's organization.
    pub organization_id: Uuid,
    /// For a DRIVER (no manager role): its membership, whose own events alone it receives.
    pub driver: Option<Uuid>,
}

impl Subscriber {
    /// Whether this subscriber receives `event`.
    pub fn receives(&self, event: &status_event::Model) -> bool {
        match self.driver {
            None => receives(event, self.organization_id),
            Some(user_id) => driver_receives(event, self.organization_id, user_id),
        }
    }
}

/// Whether a DRIVER receives `event`: the events about itself, except its shares (which
/// partners it is shared with is its managers' business).
fn driver_receives(event: &status_event::Model, organization_id: Uuid, user_id: Uuid) -> bool {
    event.organization_id == organization_id
        && event.user_id == user_id
        && !matches!(event.kind, EventKind::Shared | EventKind::Unshared)
}

/// Whether a subscriber of `organization_id` receives `event`.
pub fn receives(event: &status_event::Model, organization_id: Uuid) -> bool {
    event.organization_id == organization_id || is_partner_audience(event, organization_id)
}

/// Whether `organization_id` receives `event` as a partner (not as the owner).
pub fn is_partner_audience(event: &status_event::Model, organization_id: Uuid) -> bool {
    event.organization_id != organization_id
        && event
            .audience
            .split(',')
            .any(|id| id.parse::<Uuid>().is_ok_and(|id| id == organization_id))
}
