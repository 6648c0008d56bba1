//! `quire repo new`.

use crate::hook::repo;
use crate::paths::DataDir;

pub(super) fn new(data: &DataDir, name: &str) -> Result<(), String> {
    let quire = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let path = repo::create(data, name, &quire).map_err(|e| e.to_string())?;
    println!("created {}", path.display());
    Ok(())
}
