//! Protocol parameters as RFC 6749 §3.1 wants them read: each at most once, an empty value the
//! same as none.

use std::collections::HashMap;

/// The pairs of a query string or form body, or the name of a parameter sent twice.
pub fn unique(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(k);
        }
    }
    Ok(out)
}

pub fn decode(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}
