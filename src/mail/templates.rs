//! The texts of the mail the gateway sends.

use super::Mail;

/// The personal invitation to join `organization`.
pub fn invitation(
    public_url: &str,
    to: &str,
    first_name: &str,
    organization: &str,
    token: &str,
) -> Mail {
    let link = format!(
        "{}/accept-invitation?token={token}",
        public_url.trim_end_matches('/')
    );
    Mail {
        to: to.to_owned(),
        subject: format!("You are invited to join {organization} on Last Mile"),
        body: format!(
            "Hello {first_name},\n\n\
             you have been invited to join {organization} on Last Mile.\n\n\
             Accept the invitation:\n{link}\n\n\
             The invitation is personal and works once, for 7 days.\n"
        ),
    }
}

/// The password reset link.
pub fn password_reset(public_url: &str, to: &str, token: &str) -> Mail {
    let link = format!(
        "{}/reset-password?token={token}",
        public_url.trim_end_matches('/')
    );
    Mail {
        to: to.to_owned(),
        subject: "Reset your Last Mile password".to_owned(),
        body: format!(
            "Hello,\n\nsomeone asked to reset the password of this Last Mile account.\n\n\
             Choose a new password:\n{link}\n\n\
             The link works once, for 1 hour. If you did not ask for it, ignore this mail.\n"
        ),
    }
}
