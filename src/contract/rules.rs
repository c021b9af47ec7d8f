//! Field rules of the contract that both the importer (per source row) and
//! the reference server (per record) enforce, and the size limits ferry sets.
//!
//! The work-factor bounds of password hashes ([`check_work_factor`]) live
//! here too: the target spends the work factor of a stored hash on every
//! sign-in attempt, so a hash with 2^32−1 PBKDF2 iterations costs minutes of
//! CPU per guess. ferry rejects such a row before sending it and `ferry
//! serve` refuses it at import, with the same bound named in both reasons.

use std::fmt;

use super::records::{HashMethod, HashedPassword};

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

/// Highest bcrypt cost (log2 of the rounds) accepted: 2^15 rounds take a
/// few seconds of one core, already more than any sign-in should.
pub const MAX_BCRYPT_COST: u32 = 15;
/// Most PBKDF2 iterations accepted: ten million HMACs are seconds of CPU,
/// ten times OWASP's recommendation for PBKDF2-HMAC-SHA1.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Most argon2 memory accepted, in KiB (1 GiB, libsodium's "sensitive" level).
pub const MAX_ARGON2_MEMORY_KB: u32 = 1 << 20;
/// Most argon2 passes over memory accepted.
pub const MAX_ARGON2_ITERATIONS: u32 = 64;
/// Most argon2 lanes accepted (the reference server computes them one after
/// another, so lanes do not make a verification cheaper).
pub const MAX_ARGON2_PARALLELISM: u32 = 64;
/// Most argon2 work accepted, as passes × memory in KiB: four passes over
/// 1 GiB, so that many passes cannot make up for little memory.
pub const MAX_ARGON2_WORK_KB: u64 = 4 * MAX_ARGON2_MEMORY_KB as u64;

/// A work factor of a password hash above ferry's bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkFactorTooHigh {
    /// The parameter's path in the hash (`value` for a bcrypt cost, which
    /// the string carries), for the server's rejection.
    pub field: &'static str,
    /// The parameter as people name it, for the importer's reason.
    pub parameter: &'static str,
    /// What the hash says.
    pub value: u64,
    /// The bound it exceeds (one of this module's `MAX_*` constants).
    pub bound: u64,
}

impl fmt::Display for WorkFactorTooHigh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} is above ferry's bound of {} (every sign-in would spend it)",
            self.parameter, self.value, self.bound
        )
    }
}

/// Checks the work factors of `hash` against the bounds above. The rest of
/// its format is checked elsewhere: a bcrypt value without a readable cost,
/// or a method without its parameter block, passes here.
pub fn check_work_factor(hash: &HashedPassword) -> Result<(), WorkFactorTooHigh> {
    let config = &hash.config;
    match config.method {
        HashMethod::Bcrypt => match bcrypt_cost(&hash.value) {
            Some(cost) => check_bcrypt_cost(cost),
            None => Ok(()),
        },
        HashMethod::Pbkdf2 => config
            .pbkdf2
            .as_ref()
            .map_or(Ok(()), |c| check_pbkdf2_iterations(c.number_of_iterations)),
        HashMethod::Argon2 => config.argon2.as_ref().map_or(Ok(()), |c| {
            check_argon2(c.memory_in_kb, c.iterations, c.parallelism)
        }),
        HashMethod::Sha | HashMethod::Md5 => Ok(()),
    }
}

/// The two cost digits of a `$2?$NN$…` string.
fn bcrypt_cost(value: &str) -> Option<u32> {
    let digits = value.get(4..6)?;
    if value.get(6..7) != Some("$") || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A bcrypt cost of at most [`MAX_BCRYPT_COST`].
pub fn check_bcrypt_cost(cost: u32) -> Result<(), WorkFactorTooHigh> {
    at_most("value", "bcrypt cost", cost.into(), MAX_BCRYPT_COST.into())
}

/// At most [`MAX_PBKDF2_ITERATIONS`] PBKDF2 iterations.
pub fn check_pbkdf2_iterations(iterations: u32) -> Result<(), WorkFactorTooHigh> {
    at_most(
        "config.pbkdf2.number_of_iterations",
        "PBKDF2 iteration count",
        iterations.into(),
        MAX_PBKDF2_ITERATIONS.into(),
    )
}

/// argon2 parameters within [`MAX_ARGON2_MEMORY_KB`],
/// [`MAX_ARGON2_ITERATIONS`], [`MAX_ARGON2_PARALLELISM`] and
/// [`MAX_ARGON2_WORK_KB`].
pub fn check_argon2(
    memory_kb: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<(), WorkFactorTooHigh> {
    at_most(
        "config.argon2.memory_in_kb",
        "argon2 memory in KiB",
        memory_kb.into(),
        MAX_ARGON2_MEMORY_KB.into(),
    )?;
    at_most(
        "config.argon2.iterations",
        "argon2 iteration count",
        iterations.into(),
        MAX_ARGON2_ITERATIONS.into(),
    )?;
    at_most(
        "config.argon2.parallelism",
        "argon2 parallelism",
        parallelism.into(),
        MAX_ARGON2_PARALLELISM.into(),
    )?;
    at_most(
        "config.argon2.iterations",
        "argon2 work (iterations × memory in KiB)",
        u64::from(iterations) * u64::from(memory_kb),
        MAX_ARGON2_WORK_KB,
    )
}

fn at_most(
    field: &'static str,
    parameter: &'static str,
    value: u64,
    bound: u64,
) -> Result<(), WorkFactorTooHigh> {
    if value <= bound {
        Ok(())
    } else {
        Err(WorkFactorTooHigh {
            field,
            parameter,
            value,
            bound,
        })
    }
}

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
    use crate::contract::records::{HashConfig, Pbkdf2Config};
    use crate::contract::DigestFunction;
    use proptest::prelude::*;

    fn bcrypt(cost: &str) -> HashedPassword {
        HashedPassword {
            config: HashConfig::only(HashMethod::Bcrypt),
            value: format!("$2b${cost}$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"),
        }
    }

    fn pbkdf2(iterations: u32) -> HashedPassword {
        let mut config = HashConfig::only(HashMethod::Pbkdf2);
        config.pbkdf2 = Some(Pbkdf2Config {
            function: DigestFunction::Sha256,
            number_of_iterations: iterations,
            key_length: 32,
            salt: None,
            salt_length: 16,
        });
        HashedPassword {
            config,
            value: String::new(),
        }
    }

    fn argon2_field(memory_kb: u32, iterations: u32, parallelism: u32) -> Option<&'static str> {
        check_argon2(memory_kb, iterations, parallelism)
            .err()
            .map(|e| e.field)
    }

    fn field_of(hash: &HashedPassword) -> Option<&'static str> {
        check_work_factor(hash).err().map(|e| e.field)
    }

    #[test]
    fn work_factors_are_bounded_at_the_named_constants() {
        assert_eq!(field_of(&bcrypt("15")), None);
        assert_eq!(field_of(&bcrypt("16")), Some("value"));
        assert_eq!(field_of(&bcrypt("31")), Some("value"));
        assert_eq!(
            field_of(&bcrypt("xx")),
            None,
            "a malformed cost is the format check's"
        );
        assert_eq!(field_of(&pbkdf2(MAX_PBKDF2_ITERATIONS)), None);
        assert_eq!(
            field_of(&pbkdf2(MAX_PBKDF2_ITERATIONS + 1)),
            Some("config.pbkdf2.number_of_iterations")
        );
        assert_eq!(
            field_of(&pbkdf2(u32::MAX)),
            Some("config.pbkdf2.number_of_iterations")
        );
        assert_eq!(argon2_field(MAX_ARGON2_MEMORY_KB, 4, 1), None);
        assert_eq!(
            argon2_field(MAX_ARGON2_MEMORY_KB + 1, 1, 1),
            Some("config.argon2.memory_in_kb")
        );
        assert_eq!(
            argon2_field(MAX_ARGON2_MEMORY_KB, 5, 1),
            Some("config.argon2.iterations"),
            "five passes over 1 GiB is above the work bound"
        );
        assert_eq!(argon2_field(64, MAX_ARGON2_ITERATIONS, 1), None);
        assert_eq!(
            argon2_field(64, MAX_ARGON2_ITERATIONS + 1, 1),
            Some("config.argon2.iterations")
        );
        assert_eq!(argon2_field(1024, 1, MAX_ARGON2_PARALLELISM), None);
        assert_eq!(
            argon2_field(1024, 1, MAX_ARGON2_PARALLELISM + 1),
            Some("config.argon2.parallelism")
        );
    }

    #[test]
    fn the_reason_names_the_parameter_and_the_bound() {
        let reason = check_work_factor(&pbkdf2(u32::MAX))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            reason.as_deref(),
            Some("PBKDF2 iteration count 4294967295 is above ferry's bound of 10000000 (every sign-in would spend it)")
        );
        let reason = check_work_factor(&bcrypt("16"))
            .err()
            .map(|e| e.to_string());
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.starts_with("bcrypt cost 16 is above ferry's bound of 15")),
            "{reason:?}"
        );
    }

    proptest! {
        #[test]
        fn argon2_passes_exactly_within_every_bound(m in 0u32..=(2 << 20), t in 0u32..=80, p in 0u32..=80) {
            let within = m <= MAX_ARGON2_MEMORY_KB
                && t <= MAX_ARGON2_ITERATIONS
                && p <= MAX_ARGON2_PARALLELISM
                && u64::from(m) * u64::from(t) <= MAX_ARGON2_WORK_KB;
            prop_assert_eq!(check_argon2(m, t, p).is_ok(), within);
        }

        #[test]
        fn pbkdf2_and_bcrypt_pass_exactly_up_to_their_bound(n in any::<u32>(), cost in 0u32..=99) {
            prop_assert_eq!(check_pbkdf2_iterations(n).is_ok(), n <= MAX_PBKDF2_ITERATIONS);
            prop_assert_eq!(check_work_factor(&bcrypt(&format!("{cost:02}"))).is_ok(), cost <= MAX_BCRYPT_COST);
        }
    }

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
