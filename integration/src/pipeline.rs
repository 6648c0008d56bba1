//! Building the text of `config.fnl` files and pipelines in tests.

use std::path::Path;

/// Returns a Fennel string literal holding `text`.
pub fn fennel_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Returns a `config.fnl` with the given transport (`filesystem` or `api`),
/// secrets (the inside of the `:secrets` table, in Fennel) and room
/// for two runs at once.
pub fn config(transport: &str, secrets: &str) -> String {
    format!(
        "{{:secrets {{{secrets}}}\n \
         :ci {{:transport :{transport} :max-concurrent-runs 2}}}}\n"
    )
}

/// Returns a shell snippet that waits until `path` exists, for at most 20
/// seconds, so a pipeline can hold a job open while the test acts and
/// never outlives the test by long.
pub fn wait_for_path(path: &Path) -> String {
    let path = path.display();
    format!(
        "i=0; while [ ! -e '{path}' ] && [ $i -lt 200 ]; do \
         sleep 0.1; i=$((i+1)); done"
    )
}

/// Returns a shell snippet that writes quire-ci's pid (the command's parent)
/// and the run's token, read from quire-ci's initial environment, to
/// `<dir>/<tag>.pid` and `<dir>/<tag>.token`. The token is removed
/// from the environment commands inherit, but `/proc` still shows
/// the parent's, which is how a hostile command would find it.
pub fn capture_runner(dir: &Path, tag: &str) -> String {
    let dir = dir.display();
    format!(
        "tr '\\0' '\\n' < /proc/$PPID/environ \
         | sed -n 's/^QUIRE_CI_TOKEN=//p' > '{dir}/{tag}.token.tmp' && \
         mv '{dir}/{tag}.token.tmp' '{dir}/{tag}.token' && \
         echo $PPID > '{dir}/{tag}.pid.tmp' && \
         mv '{dir}/{tag}.pid.tmp' '{dir}/{tag}.pid'"
    )
}
