//! A view's id, as the SDK makes it and every stage keys views by.
use std::fmt;

/// A view id: 1–64 characters of `[A-Za-z0-9_.-]` (DESIGN §4.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ViewId(String);

/// Why a string is not a view id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewIdError {
    /// The id is empty or longer than 64 characters.
    #[error("expected 1 to 64 characters, got {0}")]
    Length(usize),
    /// The id holds a character outside `[A-Za-z0-9_.-]`.
    #[error("expected only A-Z a-z 0-9 _ . -, got {0:?}")]
    Character(char),
}

impl ViewId {
    /// Validates `id` as a view id.
    ///
    /// # Errors
    /// [`ViewIdError`] when the length or a character is out of range.
    pub fn new(id: &str) -> Result<ViewId, ViewIdError> {
        if id.is_empty() || id.len() > 64 {
            return Err(ViewIdError::Length(id.chars().count()));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(ViewIdError::Character(bad));
        }
        Ok(ViewId(id.to_owned()))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Derived `Hash` and `Eq` are the inner string's, so a set of ids can be asked with a `&str`.
impl std::borrow::Borrow<str> for ViewId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ViewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
