//! Every exstack CLI test in one binary (ripgrep's layout); each module is one area.
//! Tests that talk to AWS run against the real LocalStack at $EXSTACK_TEST_ENDPOINT
//! (default http://127.0.0.1:4566); `scripts/test` starts one.

mod util;

mod accounts;
mod architecture;

mod cli;
mod convergence;
mod devloop;
mod drift;
mod e2e;
mod faults;
mod fleet;
mod grade;
mod interrupt;
mod json_output;
mod lifecycle;
mod manifest_errors;
mod output_snapshots;
mod ownership;
mod proxy;
mod safety;
mod terminal;
mod tls;
