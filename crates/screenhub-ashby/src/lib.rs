//! Everything Screenhub knows about Ashby, with no web framework and no database:
//!
//! - [`public`]: wire types of Ashby's public API, which the hub calls
//!   (`assessment.update`, `apiKey.info`) and Ashby's `{success, results}` envelope;
//! - [`partner`]: wire types of the partner API, which Ashby calls on the hub
//!   (`assessment.list`, `assessment.start`, `assessment.cancel`, custom fields),
//!   and the parser that turns a bad start request into a message for a recruiter;
//! - [`mapping`]: pure functions from an order change to the `assessment.update` body;
//! - [`validate`]: strict validation of an `assessment.update` body, as Ashby does it;
//! - [`client`]: the outbound client, which classifies every attempt for the delivery worker.

pub mod client;
pub mod mapping;
pub mod partner;
pub mod public;
pub mod validate;

pub use client::{AshbyClient, AshbyError, AttemptClass, AttemptOutcome};
pub use mapping::{assessment_update, UpdateKind};
pub use partner::{
    parse_cancel_request, parse_start_request, parse_start_request_keeping_body, StartRejection,
    StartRequest,
};
pub use public::{AssessmentUpdate, DataValue, DataValueType};
pub use validate::validate_update;
