//! Authenticating providers' callbacks.
//!
//! Two schemes, because providers differ: [`standard`] verifies Standard Webhooks
//! signatures (our self-hosted transcribers and simulator sign that way), and [`job_token`]
//! mints the per-job URL tokens and header secrets for providers that sign nothing
//! (AssemblyAI echoes a header we choose; Deepgram calls back the URL we give it).

pub mod job_token;
pub mod standard;
