//! Limits on the text a partner (an ATS) sends, the same for every connector:
//! how long each kind of string may be, and that names, ids and emails carry
//! no control characters (a NUL or an escape would otherwise be stored and
//! shown as it came). A connector names the field in its own terms and turns
//! the problem into the refusal its ATS shows to the recruiter.

/// What a string is, which decides its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// An id the ATS gave something (a candidate, a job, a user).
    Id,
    /// A person's or a job's name, a role.
    Name,
    Email,
    Url,
    /// Free text such as a custom field's value: line breaks and tabs allowed.
    Free,
}

impl Text {
    /// The most characters (not bytes) a string of this kind may have.
    pub const fn max_chars(self) -> usize {
        match self {
            Self::Id => 255,
            Self::Name => 200,
            Self::Email => 320,
            Self::Url => 2048,
            Self::Free => 10_000,
        }
    }
}

/// The most entries in a list or map a partner sends (hiring team, custom fields).
pub const MAX_ITEMS: usize = 100;

/// What is wrong with `value` as text of this kind, as a phrase that follows
/// the field's name ("is longer than 200 characters"); `None` when it is fine.
pub fn problem(kind: Text, value: &str) -> Option<String> {
    let max = kind.max_chars();
    let chars = value.chars().count();
    if chars > max {
        return Some(format!(
            "is longer than {max} characters ({chars} characters)"
        ));
    }
    let allowed = |c: char| kind == Text::Free && matches!(c, '\n' | '\r' | '\t');
    value
        .chars()
        .find(|c| c.is_control() && !allowed(*c))
        .map(|c| format!("contains a control character (U+{:04X})", u32::from(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_counted_in_characters() {
        assert_eq!(problem(Text::Name, &"é".repeat(200)), None);
        assert!(problem(Text::Name, &"é".repeat(201))
            .unwrap()
            .contains("longer than 200"));
        assert!(problem(Text::Id, &"x".repeat(10_000)).is_some());
    }

    #[test]
    fn control_characters_are_refused_except_line_breaks_in_free_text() {
        assert!(problem(Text::Name, "Zo\u{0}ë").unwrap().contains("U+0000"));
        assert!(problem(Text::Email, "a\u{1b}@b.c").is_some());
        assert!(problem(Text::Id, "a\nb").is_some());
        assert_eq!(problem(Text::Free, "line one\nline two\tend"), None);
        assert!(problem(Text::Free, "bell\u{7}").is_some());
        assert_eq!(problem(Text::Name, "Ñúñez-O'Brien"), None);
    }
}
