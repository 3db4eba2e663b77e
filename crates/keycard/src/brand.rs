//! The hosted pages' brand from the settings; the logo file is read once, at start-up.

use crate::Settings;
use anyhow::Context;
use keycard_http::Brand;
use std::path::Path;
use std::sync::Arc;

/// Larger logos are refused at start: every page shows it.
const MAX_LOGO_BYTES: u64 = 256 * 1024;

pub fn logo_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "svg" => Some("image/svg+xml"),
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        _ => None,
    }
}

pub fn load(settings: &Settings) -> anyhow::Result<Brand> {
    let logo = match &settings.brand_logo {
        None => None,
        Some(path) => {
            let kind = logo_type(path).context("KEYCARD_BRAND_LOGO: an .svg, .png or .jpg file")?;
            let size = std::fs::metadata(path)
                .with_context(|| format!("KEYCARD_BRAND_LOGO: reading {}", path.display()))?
                .len();
            anyhow::ensure!(
                size <= MAX_LOGO_BYTES,
                "KEYCARD_BRAND_LOGO: {} is larger than 256 KiB",
                path.display()
            );
            let bytes = std::fs::read(path)
                .with_context(|| format!("KEYCARD_BRAND_LOGO: reading {}", path.display()))?;
            Some(Arc::new((bytes, kind)))
        }
    };
    Ok(Brand {
        name: settings.brand_name.clone(),
        color: settings.brand_color.to_ascii_lowercase(),
        logo,
    })
}
