//! Screenhub's domain, free of I/O: typed ids, secrets, the order state machine,
//! packages, events, deliveries and retry-schedule math. Time is always passed in.

pub mod account;
pub mod clock;
pub mod delivery;
pub mod event;
pub mod ids;
pub mod input;
pub mod intake;
pub mod order;
pub mod package;
pub mod retry;
pub mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AccountId, ApiKeyId, DeliveryId, EndpointId, OrderId};
