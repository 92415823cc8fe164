//! Input checks shared by the account routes. Each returns the field errors it found, so a
//! response lists every bad field at once.

use crate::{auth::password, error::FieldError};

/// Lower-cased and trimmed, or an error for `field`.
pub fn email(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> String {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || !email_address::EmailAddress::is_valid(&email) {
        errors.push(FieldError::new(field, "must be a valid email address"));
    }
    email
}

pub fn new_password(field: &str, raw: &str, errors: &mut Vec<FieldError>) {
    let chars = raw.chars().count();
    if chars < password::MIN_LENGTH {
        errors.push(FieldError::new(
            field,
            format!("must be at least {} characters", password::MIN_LENGTH),
        ));
    } else if raw.len() > password::MAX_LENGTH {
        errors.push(FieldError::new(
            field,
            format!("must be at most {} bytes", password::MAX_LENGTH),
        ));
    }
}

/// A display name: trimmed, at most `max` characters, no control characters.
pub fn name(field: &str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let name = raw.trim().to_owned();
    if name.chars().count() > max || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters, without control characters"),
        ));
    }
    name
}

pub fn finish(errors: Vec<FieldError>) -> Result<(), crate::ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::ApiError::Validation(errors))
    }
}
