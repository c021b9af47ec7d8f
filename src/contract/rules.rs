//! Field rules of the contract that both the importer (per source row) and
//! the reference server (per record) enforce, and the size limits ferry sets.

/// Longest email address accepted, in bytes (RFC 5321 path limit, rounded as commonly done).
pub const MAX_EMAIL_BYTES: usize = 320;
/// Longest local part of an email address, in bytes (RFC 5321).
pub const MAX_EMAIL_LOCAL_BYTES: usize = 64;
/// Longest name, given name or family name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest user key (source id), in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest value of any other single field, in bytes.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Longest whole source row, in bytes.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// Most groups a user may carry.
pub const MAX_GROUPS: usize = 256;

/// Checks an email address the way the target does: one `@`, a non-empty
/// local part of printable ASCII without spaces or `@`, and a domain of at least two
/// dot-separated labels made of letters, digits and hyphens (internationalised domains
/// must come in their `xn--` form). Returns why it is invalid.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    if email.len() > MAX_EMAIL_BYTES {
        return Err("longer than 320 bytes");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("has no '@'");
    };
    if local.is_empty() {
        return Err("has an empty local part");
    }
    if local.len() > MAX_EMAIL_LOCAL_BYTES {
        return Err("local part is longer than 64 bytes");
    }
    if !local.bytes().all(|b| b.is_ascii_graphic() && b != b'@') {
        return Err("local part has a space, '@' or a character that is not printable ASCII");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("local part has a misplaced dot");
    }
    if domain.is_empty() {
        return Err("has an empty domain");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("domain has no dot");
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err("domain has an empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("domain has a character other than letters, digits, '-' and '.'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("domain label starts or ends with '-'");
        }
    }
    Ok(())
}

/// Whether `phone` is an E.164 number: `+`, a non-zero digit, 8 to 15 digits in all.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Removes the separators people write into phone numbers (spaces, dots, dashes,
/// parentheses) and returns the number if what is left is E.164.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\t' | '\u{a0}'))
        .collect();
    is_e164(&compact).then_some(compact)
}

/// Whether `value` is printable ASCII without spaces (the rule for `uid` and
/// `external` identifiers).
pub fn is_printable_ascii_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "Jane.Doe+tag@Example.COM",
            "x_y@sub.domain-1.org",
            "o'neil@xn--bcher-kva.de",
        ] {
            assert_eq!(check_email(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "@b.co",
            "a@",
            "a@b",
            "a b@c.de",
            "a@b..co",
            ".a@b.co",
            "a..b@c.de",
            "a@-b.co",
            "a@b_c.co",
            "jörg@example.com",
            "a@exämple.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(
            check_email(&long),
            Err("local part is longer than 64 bytes")
        );
        let huge = format!("a@{}.com", "b".repeat(330));
        assert_eq!(check_email(&huge), Err("longer than 320 bytes"));
    }

    #[test]
    fn phones() {
        assert_eq!(
            normalize_phone("+1 (415) 555-0134").as_deref(),
            Some("+14155550134")
        );
        assert_eq!(
            normalize_phone("+44 20.7946.0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalize_phone("+33-1-23-45-67-89").as_deref(),
            Some("+33123456789")
        );
        for bad in [
            "415 555 0134",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+1 555 CALL NOW",
            "",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
        assert!(is_e164("+4930123456"));
        assert!(!is_e164("+49 30123456"));
    }
}
