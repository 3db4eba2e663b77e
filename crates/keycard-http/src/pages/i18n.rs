//! Message catalogues (`locales/<language>.txt`, embedded at build time) and the choice of
//! language: `ui_locales` first (OpenID Connect's parameter), then `Accept-Language`, then
//! English. A missing message falls back to English, then to its key, so a partial catalogue
//! never breaks a page.

use std::collections::HashMap;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/catalogues.rs"));

const DEFAULT: &str = "en";

type Catalogue = HashMap<&'static str, &'static str>;

fn catalogues() -> &'static HashMap<&'static str, Catalogue> {
    static PARSED: OnceLock<HashMap<&'static str, Catalogue>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, text)| (*lang, parse(text)))
            .collect()
    })
}

fn parse(text: &'static str) -> Catalogue {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// The languages shipped, by code.
pub fn languages() -> Vec<&'static str> {
    let mut langs: Vec<_> = catalogues().keys().copied().collect();
    langs.sort_unstable();
    langs
}

/// The first shipped language among `ui_locales` (space-separated, by preference; `es-MX`
/// counts as `es`).
pub fn shipped(ui_locales: &str) -> Option<&'static str> {
    let all = catalogues();
    ui_locales.split_whitespace().find_map(|tag| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or(tag)
            .to_ascii_lowercase();
        all.get_key_value(primary.as_str()).map(|(k, _)| *k)
    })
}

/// The messages of one language.
#[derive(Debug, Clone, Copy)]
pub struct Messages {
    pub lang: &'static str,
    own: &'static Catalogue,
    fallback: &'static Catalogue,
}

static EMPTY: OnceLock<Catalogue> = OnceLock::new();

impl Messages {
    pub fn for_lang(lang: &str) -> Self {
        let all = catalogues();
        let empty = EMPTY.get_or_init(HashMap::new);
        let fallback = all.get(DEFAULT).unwrap_or(empty);
        match all.get_key_value(lang) {
            Some((lang, own)) => Self {
                lang,
                own,
                fallback,
            },
            None => Self {
                lang: DEFAULT,
                own: fallback,
                fallback,
            },
        }
    }

    /// Picks the language from `ui_locales` (space-separated, in order of preference), then
    /// `Accept-Language` (by q-value), matching on the primary subtag (`es-MX` → `es`).
    pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> Self {
        let known = catalogues();
        let pick = |tag: &str| {
            let primary = tag
                .split(['-', '_'])
                .next()
                .unwrap_or(tag)
                .to_ascii_lowercase();
            known.contains_key(primary.as_str()).then_some(primary)
        };
        if let Some(found) = ui_locales
            .into_iter()
            .flat_map(|s| s.split_whitespace())
            .find_map(pick)
        {
            return Self::for_lang(&found);
        }
        let mut ranked: Vec<(f32, &str)> = accept_language
            .into_iter()
            .flat_map(|s| s.split(','))
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (q > 0.0 && !tag.is_empty()).then_some((q, tag))
            })
            .collect();
        // Stable: equal weights keep the client's order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        match ranked.iter().find_map(|(_, tag)| pick(tag)) {
            Some(found) => Self::for_lang(&found),
            None => Self::for_lang(DEFAULT),
        }
    }

    /// The message `key`, with `{name}` placeholders filled from `args`.
    pub fn t(&self, key: &str, args: &[(&str, &str)]) -> String {
        let text = self
            .own
            .get(key)
            .or_else(|| self.fallback.get(key))
            .copied()
            .unwrap_or(key);
        let mut out = text.to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    pub fn has(&self, key: &str) -> bool {
        self.own.contains_key(key) || self.fallback.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_spanish_ship_with_the_same_keys() {
        assert_eq!(languages(), ["en", "es"]);
        let all = catalogues();
        let mut en: Vec<_> = all["en"].keys().collect();
        let mut es: Vec<_> = all["es"].keys().collect();
        en.sort();
        es.sort();
        assert_eq!(en, es, "every message exists in every language");
    }

    #[test]
    fn negotiation_prefers_ui_locales_then_accept_language() {
        assert_eq!(Messages::negotiate(Some("es-MX en"), Some("en")).lang, "es");
        assert_eq!(
            Messages::negotiate(Some("fr"), Some("fr-CA, es;q=0.8, en;q=0.5")).lang,
            "es"
        );
        assert_eq!(
            Messages::negotiate(None, Some("en;q=0.4, es;q=0.9")).lang,
            "es"
        );
        assert_eq!(Messages::negotiate(None, Some("es;q=0, de")).lang, "en");
        assert_eq!(Messages::negotiate(None, Some("garbage;;q=x")).lang, "en");
        assert_eq!(Messages::negotiate(None, None).lang, "en");
    }

    #[test]
    fn placeholders_are_filled_and_missing_keys_fall_back() {
        let es = Messages::for_lang("es");
        assert_eq!(
            es.t("login.with", &[("provider", "Google")]),
            "Continuar con Google"
        );
        assert_eq!(es.t("no.such.key", &[]), "no.such.key");
    }
}
