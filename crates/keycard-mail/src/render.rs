//! A message's subject and bodies, from its kind, its fields and its language. The words are
//! kept per language in `words`; one pair of templates lays every message out, and HTML is
//! escaped by askama.

use crate::words::{self, Words};
use askama::Template;
use keycard_core::mail::{Mail, MailKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "message.txt")]
struct Text<'a> {
    greeting: &'a str,
    paragraphs: &'a [String],
    link: Option<&'a str>,
    footer: &'a [String],
}

#[derive(Template)]
#[template(path = "message.html")]
struct Html<'a> {
    lang: &'a str,
    subject: &'a str,
    greeting: &'a str,
    paragraphs: &'a [String],
    button: &'a str,
    link: Option<&'a str>,
    footer: &'a [String],
}

/// The words of `kind` in `locale`, and the language they are in (English when Keycard has no
/// words in the one asked for).
fn words_for(kind: MailKind, locale: &str) -> (&'static str, &'static Words) {
    let es = locale == "es";
    let w = match kind {
        MailKind::VerifyEmail if es => &words::VERIFY_ES,
        MailKind::VerifyEmail => &words::VERIFY_EN,
        MailKind::PasswordReset if es => &words::RESET_ES,
        MailKind::PasswordReset => &words::RESET_EN,
        MailKind::PasswordChanged if es => &words::CHANGED_ES,
        MailKind::PasswordChanged => &words::CHANGED_EN,
        MailKind::SignupAttempt if es => &words::ATTEMPT_ES,
        MailKind::SignupAttempt => &words::ATTEMPT_EN,
        MailKind::ConfirmEmailChange if es => &words::CONFIRM_CHANGE_ES,
        MailKind::ConfirmEmailChange => &words::CONFIRM_CHANGE_EN,
        MailKind::EmailChanged if es => &words::CHANGED_EMAIL_ES,
        MailKind::EmailChanged => &words::CHANGED_EMAIL_EN,
        MailKind::SecurityChange if es => &words::SECURITY_ES,
        MailKind::SecurityChange => &words::SECURITY_EN,
    };
    (if es { "es" } else { "en" }, w)
}

/// Fills `{field}` placeholders from `extra` and the message's fields (strings and numbers), in
/// one pass over the template: what a field brings (an address with a brace in it, say) is never
/// read as a placeholder. `Err` names a placeholder no field fills.
fn fill(template: &str, mail: &Mail, extra: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("an unclosed placeholder in the {} mail", mail.kind.as_str()))?;
        let name = &after[..close];
        let value = extra
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| {
                let v = mail.fields.get(name)?;
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_i64().map(|n| n.to_string()))
            })
            .ok_or_else(|| format!("the {} mail has no {name}", mail.kind.as_str()))?;
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The message in its language. `Err` when a field the message needs is missing: it cannot be
/// sent as it is.
pub fn render(mail: &Mail) -> Result<Rendered, String> {
    let (lang, w) = words_for(mail.kind, &mail.locale);
    let link = mail
        .field("link")
        .ok_or_else(|| format!("the {} mail has no link", mail.kind.as_str()))?;
    let what = match mail.kind {
        MailKind::PasswordChanged => words::changed_what(lang, mail.field("reason").unwrap_or("")),
        MailKind::SecurityChange => words::security_what(lang, mail.field("change").unwrap_or("")),
        _ => "",
    };
    let extra = [("what", what)];
    let greeting = match mail.field("name") {
        Some(_) => fill(w.greeting_named, mail, &[])?,
        None => w.greeting.to_owned(),
    };
    let paragraphs = w
        .paragraphs
        .iter()
        .map(|p| fill(p, mail, &extra))
        .collect::<Result<Vec<_>, _>>()?;
    let footer = w
        .footer
        .iter()
        .map(|l| fill(l, mail, &extra))
        .collect::<Result<Vec<_>, _>>()?;
    let text = Text {
        greeting: &greeting,
        paragraphs: &paragraphs,
        link: Some(link),
        footer: &footer,
    }
    .render()
    .map_err(|e| e.to_string())?;
    let html = Html {
        lang,
        subject: w.subject,
        greeting: &greeting,
        paragraphs: &paragraphs,
        button: w.button,
        link: Some(link),
        footer: &footer,
    }
    .render()
    .map_err(|e| e.to_string())?;
    Ok(Rendered {
        subject: w.subject.to_owned(),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keycard_core::accounts::Email;
    use keycard_core::ids::MailId;

    fn mail(locale: &str, name: &str) -> Mail {
        let mut fields = serde_json::Map::new();
        fields.insert(
            "link".into(),
            "https://id.example.com/verify-email?token=kcev_abc".into(),
        );
        fields.insert("name".into(), name.into());
        fields.insert("expires_hours".into(), 24.into());
        Mail {
            id: MailId::new(),
            kind: MailKind::VerifyEmail,
            to: Email::from_trusted("ada@example.com".into()),
            locale: locale.into(),
            fields,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_name_is_escaped_in_html_and_plain_in_text() {
        let r = render(&mail("en", "<b>Ada</b> & co")).unwrap();
        assert!(
            r.html.contains("&#60;b&#62;Ada&#60;/b&#62; &#38; co")
                || r.html.contains("&lt;b&gt;Ada&lt;/b&gt; &amp; co"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<b>Ada"));
        assert!(r.text.contains("Hello <b>Ada</b> & co,"), "{}", r.text);
        assert!(
            r.text
                .contains("https://id.example.com/verify-email?token=kcev_abc")
        );
        assert!(
            r.html
                .contains("href=\"https://id.example.com/verify-email?token=kcev_abc\""),
            "{}",
            r.html
        );
        assert!(r.text.contains("24 hours"));
    }

    #[test]
    fn spanish_has_its_words_and_unknown_languages_get_english() {
        assert_eq!(
            render(&mail("es", "Ada")).unwrap().subject,
            "Confirma tu dirección de correo"
        );
        assert_eq!(
            render(&mail("fr", "Ada")).unwrap().subject,
            "Confirm your email address"
        );
    }

    fn of(kind: MailKind, locale: &str, fields: &[(&str, serde_json::Value)]) -> Mail {
        let mut m = mail(locale, "x");
        m.kind = kind;
        m.fields = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        m
    }

    #[test]
    fn the_reset_mail_says_how_long_its_link_holds() {
        let link = "https://id.example.com/password/reset?token=kcpr_x";
        let m = of(
            MailKind::PasswordReset,
            "en",
            &[("link", link.into()), ("expires_minutes", 30.into())],
        );
        let r = render(&m).unwrap();
        assert_eq!(r.subject, "Reset your password");
        assert!(
            r.text.contains(link) && r.text.contains("30 minutes"),
            "{}",
            r.text
        );
        assert!(r.html.contains("30 minutes"));
        let es = render(&of(
            MailKind::PasswordReset,
            "es",
            &[("link", link.into()), ("expires_minutes", 30.into())],
        ))
        .unwrap();
        assert!(es.text.contains("30 minutos"), "{}", es.text);
        // Without its lifetime the mail would say "{expires_minutes}": it is not sent so.
        assert!(render(&of(MailKind::PasswordReset, "en", &[("link", link.into())])).is_err());
    }

    #[test]
    fn the_change_notice_says_what_happened() {
        let link = "https://id.example.com/password/forgot";
        let reset = render(&of(
            MailKind::PasswordChanged,
            "en",
            &[("link", link.into()), ("reason", "reset".into())],
        ))
        .unwrap();
        assert!(
            reset.text.contains("reset through a link"),
            "{}",
            reset.text
        );
        assert!(reset.text.contains(link));
        let changed = render(&of(
            MailKind::PasswordChanged,
            "es",
            &[("link", link.into()), ("reason", "changed".into())],
        ))
        .unwrap();
        assert_eq!(changed.subject, "Tu contraseña ha cambiado");
        assert!(
            changed.text.contains("se acaba de cambiar"),
            "{}",
            changed.text
        );
    }

    #[test]
    fn security_notices_say_what_changed() {
        let link = "https://id.example.com/account";
        let on = render(&of(
            MailKind::SecurityChange,
            "en",
            &[("link", link.into()), ("change", "mfa_enabled".into())],
        ))
        .unwrap();
        assert!(on.text.contains("was turned on"), "{}", on.text);
        assert!(on.text.contains(link));
        let used = render(&of(
            MailKind::SecurityChange,
            "es",
            &[
                ("link", link.into()),
                ("change", "recovery_code_used".into()),
            ],
        ))
        .unwrap();
        assert!(
            used.text.contains("código de recuperación"),
            "{}",
            used.text
        );
        let added = render(&of(
            MailKind::SecurityChange,
            "en",
            &[("link", link.into()), ("change", "passkey_added".into())],
        ))
        .unwrap();
        assert!(added.text.contains("A passkey was added"), "{}", added.text);
    }

    #[test]
    fn a_brace_in_a_field_is_text_not_a_placeholder() {
        let r = render(&of(
            MailKind::EmailChanged,
            "en",
            &[
                (
                    "link",
                    "https://id.example.com/email/undo?token=kceu_x".into(),
                ),
                ("new_email", "a{b}@evil.test".into()),
                ("expires_days", 7.into()),
            ],
        ))
        .unwrap();
        assert!(r.text.contains("a{b}@evil.test"), "{}", r.text);
    }

    #[test]
    fn a_mail_without_its_link_cannot_be_rendered() {
        let mut m = mail("en", "Ada");
        m.fields.remove("link");
        assert!(render(&m).is_err());
    }
}
