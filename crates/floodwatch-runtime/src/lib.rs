//! The run: discover → sniff → anchor → per-host merge → engine → sinks. `hunt` replays collected
//! files, `watch` follows one live stream; both are the same engine over different inputs, and every
//! command (and later the agent and the fleet worker) drives them from here.
//!
//! | stage | module |
//! |---|---|
//! | config, suppressions, clock, worker count | [`setup`] |
//! | discover files, sniff formats, anchor dateless sources | [`plan`] |
//! | per-host merge in event time into the engine | [`replay`] |
//! | a whole batch hunt over a worker pool | [`hunt`] |
//! | a collection as per-host event streams, in a hunt's order (`fleet publish`) | [`stream`] |
//! | a live stream from stdin | [`watch`] |
//! | every source of a Mac into one engine, findings to sinks | [`agent`] |
//! | a file's lines written out at a rate (rehearsing the agent) | [`playback`] |
//! | the store around a run (`--db`) | [`store`] |
//! | alerts, reports and the summary out | [`output`] |

pub mod agent;
mod ahead;
mod helpers;
pub mod hunt;
pub mod output;
pub mod plan;
pub mod playback;
pub mod replay;
pub mod setup;
pub mod store;
pub mod stream;
pub mod watch;

pub use hunt::{hunt, hunt_observed, hunt_with, visit_events, HuntOptions, HuntResult, InputInfo};
pub use setup::{default_threads, load_config, load_setup};
pub use watch::{watch, watch_with, WatchOptions};
