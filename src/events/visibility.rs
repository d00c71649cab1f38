//! Who receives which event: the owner organization always; a partner only when the event
//! names it in its audience (fixed when the event was written).

use uuid::Uuid;

use entity::status_event;

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
