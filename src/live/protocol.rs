//! The wire of a live WebSocket: the two subprotocols, every message the server sends (one
//! enum, one serializer) and the close codes with their meanings.

use async_graphql::ServerError;
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

/// Which protocol the client speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protocol {
    /// `graphql-transport-ws` (graphql-ws library).
    TransportWs,
    /// `graphql-ws` (legacy subscriptions-transport-ws).
    LegacyWs,
}

impl Protocol {
    /// The protocol chosen from the client's `Sec-WebSocket-Protocol` list.
    pub fn choose<'a>(requested: impl IntoIterator<Item = &'a str>) -> Self {
        let requested: Vec<&str> = requested.into_iter().collect();
        if requested.contains(&Self::TransportWs.name()) {
            Self::TransportWs
        } else if requested.contains(&Self::LegacyWs.name()) {
            Self::LegacyWs
        } else {
            Self::TransportWs
        }
    }

    /// The subprotocol's registered name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }

    /// The message type carrying a result.
    fn next_type(self) -> &'static str {
        match self {
            Self::TransportWs => "next",
            Self::LegacyWs => "data",
        }
    }

    /// Whether an operation that failed as a whole ends with its `error` message alone
    /// (graphql-transport-ws) rather than a result with errors and a `complete`.
    pub fn error_ends_operation(self) -> bool {
        self == Self::TransportWs
    }
}

/// A result's payload: a GraphQL response to serialize, or one serialized already.
pub enum Payload<'a> {
    /// A response of this subscriber alone.
    Response(&'a async_graphql::Response),
    /// A response serialized once and shared by every member of a group.
    Serialized(&'a str),
}

/// Everything the server sends on a live socket.
pub enum ServerMessage<'a> {
    /// The connection is initialised.
    ConnectionAck,
    /// Keep-alive: `ping` (graphql-transport-ws) or `ka` (legacy).
    KeepAlive,
    /// Answer to the client's `ping`.
    Pong,
    /// One result of operation `id`.
    Next {
        /// The operation.
        id: &'a str,
        /// The result.
        payload: Payload<'a>,
    },
    /// Operation `id` failed as a whole (every error, or the legacy protocol's first).
    Error {
        /// The operation.
        id: &'a str,
        /// Why.
        errors: &'a [ServerError],
    },
    /// Operation `id` failed as a whole; its errors serialized once already (a JSON list).
    SerializedError {
        /// The operation.
        id: &'a str,
        /// The serialized errors list.
        errors: &'a str,
    },
    /// Operation `id` is over.
    Complete {
        /// The operation.
        id: &'a str,
    },
    /// Legacy protocol: `connection_init` was refused.
    ConnectionError {
        /// Why.
        message: &'a str,
    },
}

/// A message the server could not encode (never expected: every payload is JSON already).
#[derive(Debug)]
pub struct Unencodable(serde_json::Error);

impl std::fmt::Display for Unencodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a live message could not be encoded: {}", self.0)
    }
}

impl std::error::Error for Unencodable {}

impl ServerMessage<'_> {
    /// The message as the text frame `protocol` expects.
    pub fn encode(&self, protocol: Protocol) -> Result<Utf8Bytes, Unencodable> {
        let text = match self {
            Self::ConnectionAck => {
                return Ok(Utf8Bytes::from_static(r#"{"type":"connection_ack"}"#));
            }
            Self::KeepAlive => {
                return Ok(Utf8Bytes::from_static(match protocol {
                    Protocol::TransportWs => r#"{"type":"ping"}"#,
                    Protocol::LegacyWs => r#"{"type":"ka"}"#,
                }));
            }
            Self::Pong => return Ok(Utf8Bytes::from_static(r#"{"type":"pong"}"#)),
            Self::Next { id, payload } => {
                let kind = protocol.next_type();
                match payload {
                    Payload::Serialized(json) => envelope_raw(kind, id, json),
                    Payload::Response(response) => envelope(kind, id, response)?,
                }
            }
            Self::Error { id, errors } => match protocol {
                Protocol::TransportWs => envelope("error", id, errors)?,
                Protocol::LegacyWs => envelope("error", id, &errors.first())?,
            },
            Self::SerializedError { id, errors } => envelope_raw("error", id, errors),
            Self::Complete { id } => {
                let mut text = String::from(r#"{"type":"complete","id":"#);
                push_json_string(&mut text, id);
                text.push('}');
                text
            }
            Self::ConnectionError { message } => {
                #[derive(Serialize)]
                struct Reason<'a> {
                    message: &'a str,
                }
                serde_json::to_string(&Frame {
                    kind: "connection_error",
                    id: None,
                    payload: &Reason { message },
                })
                .map_err(Unencodable)?
            }
        };
        Ok(Utf8Bytes::from(text))
    }
}

/// `{"type":…,"id":…,"payload":…}`.
#[derive(Serialize)]
struct Frame<'a, P> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    payload: &'a P,
}

fn envelope<P: Serialize>(kind: &str, id: &str, payload: &P) -> Result<String, Unencodable> {
    serde_json::to_string(&Frame {
        kind,
        id: Some(id),
        payload,
    })
    .map_err(Unencodable)
}

/// The envelope around a payload that is JSON already: one allocation, one copy.
fn envelope_raw(kind: &str, id: &str, json: &str) -> String {
    let mut text = String::with_capacity(json.len() + id.len() + kind.len() + 32);
    text.push_str(r#"{"type":""#);
    text.push_str(kind);
    text.push_str(r#"","id":"#);
    push_json_string(&mut text, id);
    text.push_str(r#","payload":"#);
    text.push_str(json);
    text.push('}');
    text
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What a response that could not be serialized becomes (logged where it happens).
pub const INTERNAL_RESPONSE: &str = r#"{"data":null,"errors":[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// `value` as JSON; `fallback`, and an error in the log, should it not serialize.
pub fn to_json<T: Serialize>(value: &T, fallback: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| {
        tracing::error!(%error, "a live response could not be serialized");
        fallback.to_owned()
    })
}

/// Why the server closes a socket: each variant is one documented code and reason.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Close {
    /// 1000: the legacy client sent `connection_terminate`.
    Terminated,
    /// 1001: the server is shutting down; reconnect elsewhere and resume with the cursor.
    ShuttingDown,
    /// 4400: a binary frame (only text is spoken).
    BinaryMessage,
    /// 4400: a message that is not JSON of the protocol.
    InvalidMessage,
    /// 4400: a message type the protocol does not have.
    UnknownMessageType,
    /// 4400: `subscribe`/`complete` without an id.
    MissingId,
    /// 4400: a `subscribe` payload that is not a GraphQL request.
    InvalidSubscribePayload,
    /// 4401: subscribing before `connection_ack`.
    Unauthorized,
    /// 4401: the access token expired (each subscription was told first).
    TokenExpired,
    /// 4403: `connection_init` without a valid token, or an operation the session no longer allows.
    Forbidden,
    /// 4403: the membership was deleted or its roles changed.
    MembershipEnded,
    /// 4408: no `connection_init` within the allowed time.
    InitTimeout,
    /// 4409: a subscription id already running on this socket.
    DuplicateId,
    /// 4429: a second `connection_init`.
    TooManyInits,
}

impl Close {
    /// The close code.
    pub fn code(self) -> u16 {
        match self {
            Self::Terminated => 1000,
            Self::ShuttingDown => 1001,
            Self::BinaryMessage
            | Self::InvalidMessage
            | Self::UnknownMessageType
            | Self::MissingId
            | Self::InvalidSubscribePayload => 4400,
            Self::Unauthorized | Self::TokenExpired => 4401,
            Self::Forbidden | Self::MembershipEnded => 4403,
            Self::InitTimeout => 4408,
            Self::DuplicateId => 4409,
            Self::TooManyInits => 4429,
        }
    }

    /// The close reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Terminated => "Terminated",
            Self::ShuttingDown => "Server shutting down",
            Self::BinaryMessage => "Binary messages are not supported",
            Self::InvalidMessage => "Invalid message",
            Self::UnknownMessageType => "Unknown message type",
            Self::MissingId => "Missing id",
            Self::InvalidSubscribePayload => "Invalid subscribe payload",
            Self::Unauthorized => "Unauthorized",
            Self::TokenExpired => "Access token expired",
            Self::Forbidden => "Forbidden",
            Self::MembershipEnded => "Membership ended",
            Self::InitTimeout => "Connection initialisation timeout",
            Self::DuplicateId => "Subscriber for this id already exists",
            Self::TooManyInits => "Too many initialisation requests",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(message: ServerMessage<'_>, protocol: Protocol) -> serde_json::Value {
        let encoded = message.encode(protocol).expect("the message encodes");
        serde_json::from_str(encoded.as_str()).expect("the message is JSON")
    }

    #[test]
    fn a_shared_payload_is_wrapped_in_each_protocols_envelope_with_an_escaped_id() {
        let payload = Payload::Serialized(r#"{"data":{"x":1}}"#);
        let id = "a\"b\\c\n";
        let next = text(ServerMessage::Next { id, payload }, Protocol::TransportWs);
        assert_eq!(
            next,
            serde_json::json!({"type": "next", "id": id, "payload": {"data": {"x": 1}}})
        );
        let payload = Payload::Serialized(r#"{"data":null}"#);
        let data = text(ServerMessage::Next { id: "1", payload }, Protocol::LegacyWs);
        assert_eq!(
            data,
            serde_json::json!({"type": "data", "id": "1", "payload": {"data": null}})
        );
    }

    #[test]
    fn complete_and_connection_error_have_the_shapes_clients_expect() {
        let complete = text(ServerMessage::Complete { id: "7" }, Protocol::TransportWs);
        assert_eq!(complete, serde_json::json!({"type": "complete", "id": "7"}));
        let refused = text(
            ServerMessage::ConnectionError {
                message: "Forbidden",
            },
            Protocol::LegacyWs,
        );
        assert_eq!(
            refused,
            serde_json::json!({"type": "connection_error", "payload": {"message": "Forbidden"}})
        );
    }

    #[test]
    fn the_legacy_protocol_carries_only_the_first_error() {
        let errors = [ServerError::new("one", None), ServerError::new("two", None)];
        let all = text(
            ServerMessage::Error {
                id: "1",
                errors: &errors,
            },
            Protocol::TransportWs,
        );
        assert_eq!(all["payload"].as_array().map(Vec::len), Some(2));
        let first = text(
            ServerMessage::Error {
                id: "1",
                errors: &errors,
            },
            Protocol::LegacyWs,
        );
        assert_eq!(first["payload"]["message"], "one");
    }

    #[test]
    fn close_codes_keep_their_documented_numbers() {
        let codes: Vec<u16> = [
            Close::Terminated,
            Close::ShuttingDown,
            Close::InvalidMessage,
            Close::TokenExpired,
            Close::MembershipEnded,
            Close::InitTimeout,
            Close::DuplicateId,
            Close::TooManyInits,
        ]
        .iter()
        .map(|c| c.code())
        .collect();
        assert_eq!(codes, [1000, 1001, 4400, 4401, 4403, 4408, 4409, 4429]);
    }
}
