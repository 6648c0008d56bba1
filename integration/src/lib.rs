//! The end-to-end harness: a temporary data directory, the real
//! `quire serve` binary on a loopback port, bare repositories pushed to
//! with real `git`, and readers for what a run leaves behind.
//!
//! Tests drive quire only through its binaries and the files it
//! writes, the way an operator would, so they break when the product
//! breaks and not when an internal type changes. Every process a test
//! starts is killed when its [`Quire`] is dropped, also on panic, and a
//! failing test prints the server's and quire-ci's logs.

pub mod binaries;
pub mod git;
pub mod http;
pub mod pipeline;
pub mod quire;
pub mod run;
pub mod scan;

pub use quire::Quire;
pub use run::RunView;

/// Generates a `filesystem` and an `api` test from a function taking
/// the transport's name. Attributes after `filesystem:` or `api:`
/// (such as `#[ignore = "..."]`) apply to that test only.
#[macro_export]
macro_rules! in_both_transports {
    ($case:ident) => {
        $crate::in_both_transports!($case, filesystem: , api: );
    };
    (
        $case:ident,
        filesystem: $(#[$fs_attr:meta])*,
        api: $(#[$api_attr:meta])*
    ) => {
        mod $case {
            #[test]
            $(#[$fs_attr])*
            fn filesystem() {
                super::$case("filesystem");
            }

            #[test]
            $(#[$api_attr])*
            fn api() {
                super::$case("api");
            }
        }
    };
}
