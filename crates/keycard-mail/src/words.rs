//! The words of each message, per language. A placeholder in braces (`{hours}`) is filled from
//! the message's fields by the renderer.

/// One message in one language: greeting, paragraphs, the button under them, and the small
/// print.
pub(crate) struct Words {
    pub subject: &'static str,
    pub greeting: &'static str,
    pub greeting_named: &'static str,
    pub paragraphs: &'static [&'static str],
    pub button: &'static str,
    pub footer: &'static [&'static str],
}

pub(crate) const VERIFY_EN: Words = Words {
    subject: "Confirm your email address",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &["Please confirm that this is your email address by opening the link below."],
    button: "Confirm my email address",
    footer: &[
        "The link works once and expires in {expires_hours} hours.",
        "If you did not create an account, you can ignore this message.",
    ],
};

pub(crate) const VERIFY_ES: Words = Words {
    subject: "Confirma tu dirección de correo",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &["Confirma que esta es tu dirección de correo abriendo el enlace de abajo."],
    button: "Confirmar mi correo",
    footer: &[
        "El enlace sirve una sola vez y caduca en {expires_hours} horas.",
        "Si no has creado una cuenta, puedes ignorar este mensaje.",
    ],
};

pub(crate) const RESET_EN: Words = Words {
    subject: "Reset your password",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "Someone, hopefully you, asked to reset the password of the account with this address. Open the link below to choose a new one.",
    ],
    button: "Choose a new password",
    footer: &[
        "The link works once and expires in {expires_minutes} minutes. Using it signs out every session of the account.",
        "If you did not ask for this, ignore this message: your password stays as it is.",
    ],
};

pub(crate) const RESET_ES: Words = Words {
    subject: "Restablece tu contraseña",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "Alguien, esperamos que tú, ha pedido restablecer la contraseña de la cuenta con esta dirección. Abre el enlace de abajo para elegir una nueva.",
    ],
    button: "Elegir una contraseña nueva",
    footer: &[
        "El enlace sirve una sola vez y caduca en {expires_minutes} minutos. Al usarlo se cierran todas las sesiones de la cuenta.",
        "Si no lo has pedido tú, ignora este mensaje: tu contraseña no cambia.",
    ],
};

pub(crate) const CHANGED_EN: Words = Words {
    subject: "Your password was changed",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "{what}",
        "If this was not you, reset your password now with the link below, then check the sessions on your account page.",
    ],
    button: "Reset my password",
    footer: &["You are receiving this because it concerns the security of your account."],
};

pub(crate) const CHANGED_ES: Words = Words {
    subject: "Tu contraseña ha cambiado",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "{what}",
        "Si no has sido tú, restablece tu contraseña ahora con el enlace de abajo y revisa las sesiones en la página de tu cuenta.",
    ],
    button: "Restablecer mi contraseña",
    footer: &["Recibes este mensaje porque afecta a la seguridad de tu cuenta."],
};

/// What happened, for the change notice's `{what}`, by its `reason` field.
pub(crate) fn changed_what(lang: &str, reason: &str) -> &'static str {
    match (lang, reason) {
        ("es", "reset") => {
            "La contraseña de tu cuenta se acaba de restablecer con un enlace enviado a esta dirección, y se han cerrado todas sus sesiones."
        }
        ("es", _) => {
            "La contraseña de tu cuenta se acaba de cambiar, y se han cerrado sus demás sesiones."
        }
        (_, "reset") => {
            "The password of your account was just reset through a link mailed to this address, and every session of the account was signed out."
        }
        _ => {
            "The password of your account was just changed, and its other sessions were signed out."
        }
    }
}

pub(crate) const ATTEMPT_EN: Words = Words {
    subject: "Someone tried to sign up with your address",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "Someone, perhaps you, tried to create an account with this email address. It has one already, so nothing was created.",
        "If it was you, sign in with the link below. Forgot your password? Choose a new one at {forgot}",
    ],
    button: "Sign in",
    footer: &["If it was not you, you can ignore this message: your account is unchanged."],
};

pub(crate) const ATTEMPT_ES: Words = Words {
    subject: "Alguien intentó registrarse con tu dirección",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "Alguien, quizá tú, ha intentado crear una cuenta con esta dirección de correo. Ya tiene una, así que no se ha creado nada.",
        "Si has sido tú, inicia sesión con el enlace de abajo. ¿Has olvidado tu contraseña? Elige una nueva en {forgot}",
    ],
    button: "Iniciar sesión",
    footer: &["Si no has sido tú, puedes ignorar este mensaje: tu cuenta no ha cambiado."],
};

pub(crate) const CONFIRM_CHANGE_EN: Words = Words {
    subject: "Confirm your new email address",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "Someone, hopefully you, asked to make this address the email address of their account. Open the link below to confirm it: until then the account keeps its old address.",
    ],
    button: "Confirm my new address",
    footer: &[
        "The link works once and expires in {expires_hours} hours.",
        "If you did not ask for this, ignore this message: nothing changes.",
    ],
};

pub(crate) const CONFIRM_CHANGE_ES: Words = Words {
    subject: "Confirma tu nueva dirección de correo",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "Alguien, esperamos que tú, ha pedido usar esta dirección como correo de su cuenta. Abre el enlace de abajo para confirmarlo: hasta entonces la cuenta conserva su dirección anterior.",
    ],
    button: "Confirmar mi nueva dirección",
    footer: &[
        "El enlace sirve una sola vez y caduca en {expires_hours} horas.",
        "Si no lo has pedido tú, ignora este mensaje: no cambia nada.",
    ],
};

pub(crate) const CHANGED_EMAIL_EN: Words = Words {
    subject: "Your account's email address was changed",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "The email address of your account was just changed to {new_email}. Mail about the account now goes there.",
        "If this was not you, undo it with the link below: it gives your account this address back and signs out every session. Then choose a new password.",
    ],
    button: "Undo the change",
    footer: &["The link works once and expires in {expires_days} days."],
};

pub(crate) const CHANGED_EMAIL_ES: Words = Words {
    subject: "La dirección de correo de tu cuenta ha cambiado",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "La dirección de correo de tu cuenta acaba de cambiar a {new_email}. Los mensajes sobre la cuenta llegan ahora allí.",
        "Si no has sido tú, deshaz el cambio con el enlace de abajo: tu cuenta recupera esta dirección y se cierran todas sus sesiones. Después elige una contraseña nueva.",
    ],
    button: "Deshacer el cambio",
    footer: &["El enlace sirve una sola vez y caduca en {expires_days} días."],
};

pub(crate) const SECURITY_EN: Words = Words {
    subject: "How you sign in to your account changed",
    greeting: "Hello,",
    greeting_named: "Hello {name},",
    paragraphs: &[
        "{what}",
        "If this was not you, reset your password now and review your account's sign-in settings and sessions with the link below.",
    ],
    button: "Review my account",
    footer: &["You are receiving this because it concerns the security of your account."],
};

pub(crate) const SECURITY_ES: Words = Words {
    subject: "Ha cambiado cómo inicias sesión en tu cuenta",
    greeting: "Hola:",
    greeting_named: "Hola, {name}:",
    paragraphs: &[
        "{what}",
        "Si no has sido tú, restablece tu contraseña ahora y revisa los ajustes de inicio de sesión y las sesiones de tu cuenta con el enlace de abajo.",
    ],
    button: "Revisar mi cuenta",
    footer: &["Recibes este mensaje porque afecta a la seguridad de tu cuenta."],
};

/// What changed, for the security notice's `{what}`, by its `change` field.
pub(crate) fn security_what(lang: &str, change: &str) -> &'static str {
    match (lang, change) {
        ("es", "mfa_enabled") => {
            "Se ha activado la verificación en dos pasos con una aplicación de autenticación: a partir de ahora, al iniciar sesión con tu contraseña se te pedirá también un código."
        }
        ("es", "mfa_disabled") => {
            "Se ha desactivado la verificación en dos pasos: tu contraseña vuelve a bastar para iniciar sesión, y tus códigos de recuperación ya no sirven."
        }
        ("es", "passkey_added") => {
            "Se ha añadido una llave de acceso (passkey) a tu cuenta: desde ahora inicia sesión sin contraseña."
        }
        ("es", "passkey_removed") => {
            "Se ha quitado una llave de acceso (passkey) de tu cuenta: ya no sirve para iniciar sesión."
        }
        ("es", "identity_linked") => {
            "Se ha vinculado a tu cuenta una cuenta de otro proveedor (Google, Apple, GitHub…): desde ahora también sirve para iniciar sesión."
        }
        ("es", "recovery_codes_regenerated") => {
            "Se han creado códigos de recuperación nuevos para tu cuenta; los anteriores ya no sirven."
        }
        ("es", _) => {
            "Se acaba de usar un código de recuperación para iniciar sesión en tu cuenta. Cada código sirve una sola vez."
        }
        (_, "mfa_enabled") => {
            "Two-step verification with an authenticator app was turned on: from now on, signing in with your password also asks for a code."
        }
        (_, "mfa_disabled") => {
            "Two-step verification was turned off: your password alone signs you in again, and your recovery codes no longer work."
        }
        (_, "passkey_added") => {
            "A passkey was added to your account: from now on it signs you in without a password."
        }
        (_, "passkey_removed") => {
            "A passkey was removed from your account: it no longer signs you in."
        }
        (_, "identity_linked") => {
            "An account at another provider (Google, Apple, GitHub…) was linked to your account: from now on it signs you in too."
        }
        (_, "recovery_codes_regenerated") => {
            "New recovery codes were made for your account; the earlier ones no longer work."
        }
        _ => "A recovery code was just used to sign in to your account. Each code works once.",
    }
}
