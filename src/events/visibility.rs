//! Who receives which event: the owner organization always; a partner only when the event
//! names it in its audience (fixed when the event was written); a DRIVER its own events.

use std::sync::Arc;

use uuid::Uuid;

use entity::status_event::{self, EventKind};

/// The partner organizations an event goes to besides its owner, read once from the log's
/// text form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience(Box<[Uuid]>);

impl Audience {
    /// The audience of the log's comma-separated column (malformed entries name nobody).
    pub fn parse(column: &str) -> Self {
        Self(column.split(',').filter_map(|id| id.parse().ok()).collect())
    }

    /// The audience of these organizations.
    pub fn of(organizations: impl IntoIterator<Item = Uuid>) -> Self {
        Self(organizations.into_iter().collect())
    }

    /// Whether `organization_id` is in it.
    pub fn contains(&self, organization_id: Uuid) -> bool {
        self.0.contains(&organization_id)
    }

    /// The organizations.
    pub fn organizations(&self) -> &[Uuid] {
        &self.0
    }

    /// The log's text form.
    pub fn to_column(&self) -> String {
        self.0
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// An event as subscribers check it: the log row and its audience, typed.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// The row of the event log.
    pub model: Arc<status_event::Model>,
    /// Its audience, read once.
    pub audience: Audience,
}

impl From<status_event::Model> for LiveEvent {
    fn from(model: status_event::Model) -> Self {
        Self {
            audience: Audience::parse(&model.audience),
            model: Arc::new(model),
        }
    }
}

impl LiveEvent {
    /// The event's cursor.
    pub fn id(&self) -> i64 {
        self.model.id
    }
}

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
    pub fn receives(&self, event: &LiveEvent) -> bool {
        let model = &event.model;
        match self.driver {
            None => {
                model.organization_id == self.organization_id
                    || event.audience.contains(self.organization_id)
            }
            Some(user_id) => driver_receives(model, self.organization_id, user_id),
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
        && Audience::parse(&event.audience).contains(organization_id)
}
