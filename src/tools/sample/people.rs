//! The people of a sample, as the text fields of an export row: names from
//! many scripts and locales, mixed-case emails, phones in several local
//! notations (always with their country code), verified flags in several
//! spellings, groups, statuses, creation times in two formats and a password
//! in the row's format, all drawn from the sample's RNG.

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hashes::SampleHash;
use crate::mapping::Field;

const GIVEN: &[&str] = &[
    "Zoë",
    "Loïc",
    "Hélène",
    "José",
    "Sofía",
    "Jürgen",
    "Åsa",
    "Bjørn",
    "Łukasz",
    "Çağla",
    "Ngọc",
    "Σοφία",
    "Дмитрий",
    "陽翔",
    "伟",
    "محمد",
    "Aarav",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Mia",
    "Lucas",
    "Chloé",
    "Siobhán",
    "Mateo",
    "Ana",
    "Yuki",
    "Fatima",
    "Oluwaseun",
];
const FAMILY: &[&str] = &[
    "Müller",
    "Dubois",
    "García",
    "Núñez",
    "Ødegård",
    "Wójcik",
    "Şahin",
    "Nguyễn",
    "Παπαδόπουλος",
    "Иванова",
    "佐藤",
    "王",
    "الهاشمي",
    "Sharma",
    "Smith",
    "O'Brien",
    "Johnson",
    "Kowalski",
    "Rossi",
    "Silva",
    "Kim",
    "Andersson",
    "van der Berg",
    "De la Cruz",
    "Okafor",
    "Tanaka",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "Example.org",
    "mail.example.net",
    "EXAMPLE.DE",
    "inbox.example.co.uk",
];
const GROUPS: &[&str] = &[
    "customers",
    "newsletter",
    "beta",
    "vip",
    "staff",
    "support",
    "partners",
    "eu",
];
pub(super) const TRUE_WORDS: &[&str] = &["true", "TRUE", "1", "yes"];
const FALSE_WORDS: &[&str] = &["false", "FALSE", "0", "no"];
/// Phone layouts: country code, then the local number split and joined as that country writes it.
const PHONE_STYLES: &[(&str, &[usize], &str)] = &[
    ("+1", &[3, 3, 4], "us"),
    ("+44", &[2, 4, 4], " "),
    ("+49", &[2, 4, 4], "."),
    ("+33", &[1, 2, 2, 2, 2], "-"),
    ("+81", &[1, 4, 4], " "),
    ("+61", &[1, 4, 4], " "),
];

/// One generated person, as text fields.
#[derive(Debug, Clone)]
pub(super) struct Person {
    pub(super) id: String,
    pub(super) email: String,
    pub(super) email_verified: String,
    pub(super) phone: String,
    pub(super) phone_verified: String,
    pub(super) given_name: String,
    pub(super) family_name: String,
    pub(super) name: String,
    pub(super) password_hash: String,
    pub(super) password_salt: String,
    pub(super) password_algorithm: String,
    /// The plaintext the hash was made from (never written to the sample itself).
    pub(super) password: Option<String>,
    pub(super) status: String,
    pub(super) created_at: String,
    pub(super) groups: String,
}

impl Person {
    pub(super) fn generate(rng: &mut ChaCha8Rng, n: u64, hash: SampleHash) -> Person {
        let given = *GIVEN.choose(rng).unwrap_or(&"Ana");
        let family = *FAMILY.choose(rng).unwrap_or(&"Silva");
        let local = format!("{}.{}{}", ascii_fold(given), ascii_fold(family), n);
        let local = match rng.random_range(0..3) {
            0 => local.to_lowercase(),
            1 => capitalise(&local),
            _ => local.to_uppercase(),
        };
        let email = format!("{local}@{}", DOMAINS.choose(rng).unwrap_or(&"example.com"));
        let phone = if rng.random_bool(0.7) {
            phone(rng, n)
        } else {
            String::new()
        };
        let verified = |rng: &mut ChaCha8Rng| {
            let words = if rng.random_bool(0.6) {
                TRUE_WORDS
            } else {
                FALSE_WORDS
            };
            words.choose(rng).unwrap_or(&"false").to_string()
        };
        let email_verified = verified(rng);
        let phone_verified = if phone.is_empty() {
            String::new()
        } else {
            verified(rng)
        };
        let name = match rng.random_range(0..10) {
            0 => format!("{family}, {given}"),
            1 => format!("Dr. {given} {family}"),
            _ => String::new(),
        };
        let (password, (password_hash, password_salt, password_algorithm)) =
            if rng.random_bool(0.95) {
                let password: String = (0..12)
                    .map(|_| rng.random_range(b'!'..=b'~') as char)
                    .collect();
                let columns = hash.columns(rng, &password);
                (Some(password), columns)
            } else {
                (None, (String::new(), String::new(), String::new()))
            };
        let status = match rng.random_range(0..20) {
            0 | 1 => "inactive",
            2 => "new",
            3 => "Active",
            _ => "active",
        };
        let created = rng.random_range(1_325_376_000i64..1_767_225_600); // 2012 .. 2026
        let created_at = time::OffsetDateTime::from_unix_timestamp(created).map(|t| {
            if rng.random_bool(0.7) {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            } else {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second]"
                ))
                .unwrap_or_default()
            }
        });
        let group_count = rng.random_range(0..4);
        let groups: Vec<&str> = GROUPS.choose_multiple(rng, group_count).copied().collect();
        Person {
            id: (10_000_000 + n).to_string(),
            email,
            email_verified,
            phone,
            phone_verified,
            given_name: given.to_string(),
            family_name: family.to_string(),
            name,
            password_hash,
            password_salt,
            password_algorithm,
            password,
            status: status.to_string(),
            created_at: created_at.unwrap_or_default(),
            groups: groups.join(";"),
        }
    }

    pub(super) fn fields(&self) -> [(&'static str, &str); 14] {
        let value = |field: Field| match field {
            Field::Id => self.id.as_str(),
            Field::Email => &self.email,
            Field::EmailVerified => &self.email_verified,
            Field::Phone => &self.phone,
            Field::PhoneVerified => &self.phone_verified,
            Field::GivenName => &self.given_name,
            Field::FamilyName => &self.family_name,
            Field::Name => &self.name,
            Field::PasswordHash => &self.password_hash,
            Field::PasswordSalt => &self.password_salt,
            Field::PasswordAlgorithm => &self.password_algorithm,
            Field::Status => &self.status,
            Field::CreatedAt => &self.created_at,
            Field::Groups => &self.groups,
            Field::PasswordParams => "",
        };
        Field::ALL.map(|f| (f.name(), value(f)))
    }
}

fn phone(rng: &mut ChaCha8Rng, n: u64) -> String {
    let (code, groups, sep) = PHONE_STYLES
        .choose(rng)
        .copied()
        .unwrap_or(("+1", &[3, 3, 4], "us"));
    let digits_needed: usize = groups.iter().sum();
    // Unique per user: the user number, scrambled by a multiplication that is
    // a bijection modulo a power of ten, fills the low digits; a random
    // non-zero digit leads.
    let modulus = 10u64.pow(digits_needed as u32 - 1);
    let low = (n % modulus).wrapping_mul(48_271) % modulus;
    let lead = rng.random_range(2..=9u64);
    let digits = format!("{lead}{low:0width$}", width = digits_needed - 1);
    let mut parts = Vec::new();
    let mut at = 0;
    for g in groups {
        parts.push(&digits[at..at + g]);
        at += g;
    }
    if sep == "us" {
        format!("{code} ({}) {}-{}", parts[0], parts[1], parts[2])
    } else {
        format!("{code} {}", parts.join(sep))
    }
}

fn ascii_fold(name: &str) -> String {
    let folded: String = name
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' => Some(c),
            'à' | 'á' | 'â' | 'ä' | 'å' | 'ã' => Some('a'),
            'Å' => Some('A'),
            'ç' => Some('c'),
            'Ç' => Some('C'),
            'è' | 'é' | 'ê' | 'ë' | 'ễ' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' => Some('i'),
            'ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'ö' | 'ø' | 'ọ' => Some('o'),
            'Ø' => Some('O'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'ł' => Some('l'),
            'Ł' => Some('L'),
            'ğ' => Some('g'),
            'ş' => Some('s'),
            'Ş' => Some('S'),
            _ => None,
        })
        .collect();
    if folded.is_empty() {
        "user".to_string()
    } else {
        folded
    }
}

fn capitalise(s: &str) -> String {
    s.split('.')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn phones_normalise_to_unique_e164() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::HashSet::new();
        for n in 1..2000 {
            let p = phone(&mut rng, n);
            let e164 = crate::contract::rules::normalize_phone(&p).unwrap_or_else(|| panic!("{p}"));
            assert!(seen.insert(e164), "{p} repeated");
        }
    }
}
