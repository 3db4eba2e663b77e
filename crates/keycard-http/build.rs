//! Embeds every message catalogue in `locales/` (one `<language>.txt` file each), so adding a
//! language is adding a file: no code names the languages.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("locales");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = String::from("pub(crate) const CATALOGUES: &[(&str, &str)] = &[\n");
    for f in &files {
        let lang = f
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("catalogue file name is not UTF-8")?;
        println!("cargo:rerun-if-changed={}", f.display());
        writeln!(
            out,
            "    ({lang:?}, include_str!({:?})),",
            f.display().to_string()
        )?;
    }
    out.push_str("];\n");
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR")?).join("catalogues.rs"),
        out,
    )?;
    Ok(())
}
