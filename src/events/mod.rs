//! Status events: the log written with each change ([`log`]), the per-instance dispatcher that
//! turns committed events into one ordered live stream ([`hub`]), the Redis relay that carries
//! them between instances ([`redis`]), and who may see which event ([`visibility`]).

pub mod hub;
pub mod log;
pub mod redis;
pub mod retention;
pub mod stream;
pub mod visibility;

pub use hub::EventHub;
pub use log::{NewEvent, append};
