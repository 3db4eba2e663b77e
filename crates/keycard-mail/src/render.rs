//! A message's subject and bodies, from its kind, its fields and its language. The strings are
//! kept here, per language, beside the templates; HTML is escaped by askama.

use askama::Template;
use keycard_core::mail::{Mail, MailKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The words of the verification mail in one language.
struct VerifyWords {
    subject: &'static str,
    greeting: &'static str,
    greeting_named: &'static str,
    body: &'static str,
    button: &'static str,
    expires: &'static str,
    ignore: &'static str,
}

const VERIFY_EN: VerifyWords = VerifyWords {
    subject: "Confirm your email address",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    body: "Please confirm that this is your email address by opening the link below.",
    button: "Confirm my email address",
    expires: "The link works once and expires in {hours} hours.",
    ignore: "If you did not create an account, you can ignore this message.",
};

const VERIFY_ES: VerifyWords = VerifyWords {
    subject: "Confirma tu dirección de correo",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    body: "Confirma que esta es tu dirección de correo abriendo el enlace de abajo.",
    button: "Confirmar mi correo",
    expires: "El enlace sirve una sola vez y caduca en {hours} horas.",
    ignore: "Si no has creado una cuenta, puedes ignorar este mensaje.",
};

#[derive(Template)]
#[template(path = "verify_email.txt")]
struct VerifyText<'a> {
    greeting: &'a str,
    body: &'a str,
    link: &'a str,
    expires: &'a str,
    ignore: &'a str,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyHtml<'a> {
    lang: &'a str,
    subject: &'a str,
    greeting: &'a str,
    body: &'a str,
    button: &'a str,
    link: &'a str,
    expires: &'a str,
    ignore: &'a str,
}

/// The message in its language (English when Keycard has no words in it). `Err` when a field
/// the template needs is missing: the message cannot be sent as it is.
pub fn render(mail: &Mail) -> Result<Rendered, String> {
    match mail.kind {
        MailKind::VerifyEmail => {
            let (lang, w) = match mail.locale.as_str() {
                "es" => ("es", &VERIFY_ES),
                _ => ("en", &VERIFY_EN),
            };
            let link = mail
                .field("link")
                .ok_or("the verification mail has no link")?;
            let greeting = match mail.field("name") {
                Some(name) => w.greeting_named.replace("{name}", name),
                None => w.greeting.to_owned(),
            };
            let hours = mail
                .fields
                .get("expires_hours")
                .and_then(|h| h.as_i64())
                .unwrap_or(24)
                .to_string();
            let expires = w.expires.replace("{hours}", &hours);
            let text = VerifyText {
                greeting: &greeting,
                body: w.body,
                link,
                expires: &expires,
                ignore: w.ignore,
            }
            .render()
            .map_err(|e| e.to_string())?;
            let html = VerifyHtml {
                lang,
                subject: w.subject,
                greeting: &greeting,
                body: w.body,
                button: w.button,
                link,
                expires: &expires,
                ignore: w.ignore,
            }
            .render()
            .map_err(|e| e.to_string())?;
            Ok(Rendered {
                subject: w.subject.to_owned(),
                text,
                html,
            })
        }
    }
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

    #[test]
    fn a_mail_without_its_link_cannot_be_rendered() {
        let mut m = mail("en", "Ada");
        m.fields.remove("link");
        assert!(render(&m).is_err());
    }
}
