//! A parsed value together with a note on what parsing changed.

/// A value accepted after normalisation. `note` is `Some` exactly when the accepted value differs
/// from what was typed, and then tells the user what was changed, e.g.
/// `subdomain: "https://Demo.atlassian.net/" was normalised to "demo"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised<T> {
    /// The accepted value.
    pub value: T,
    /// What was normalised, for showing to the user.
    pub note: Option<String>,
}

impl<T> Normalised<T> {
    /// The value, dropping the note.
    pub fn into_value(self) -> T {
        self.value
    }
}
